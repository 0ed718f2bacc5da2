// Tests of LVSVRRP.
import Testing
