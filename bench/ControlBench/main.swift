// ControlBench entry point.
print("not yet implemented")
