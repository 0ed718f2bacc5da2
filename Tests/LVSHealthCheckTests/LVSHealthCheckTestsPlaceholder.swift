// Tests of LVSHealthCheck.
import Testing
