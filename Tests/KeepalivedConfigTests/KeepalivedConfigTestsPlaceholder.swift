// Tests of KeepalivedConfig.
import Testing
