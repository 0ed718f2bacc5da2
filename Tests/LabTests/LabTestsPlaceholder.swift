// Tests of Lab.
import Testing
