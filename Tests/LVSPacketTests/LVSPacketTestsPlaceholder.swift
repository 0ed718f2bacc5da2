// Tests of LVSPacket.
import Testing
