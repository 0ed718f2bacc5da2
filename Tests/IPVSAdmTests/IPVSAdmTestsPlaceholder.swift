// Tests of IPVSAdm.
import Testing
