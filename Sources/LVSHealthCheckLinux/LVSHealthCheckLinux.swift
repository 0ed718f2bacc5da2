// Health checks on Linux: the probes (sockets, TLS, child processes), notifiers and the driver behind LVSHealthCheck's seams.
@_exported import LVSHealthCheck
