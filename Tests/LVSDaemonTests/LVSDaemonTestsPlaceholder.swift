// Tests of LVSDaemon.
import Testing
