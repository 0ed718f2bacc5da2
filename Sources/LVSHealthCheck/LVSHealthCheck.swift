// LVSHealthCheck module root (see docs/ARCHITECTURE.md for what it holds).
import LVSCore
