// CoreBench entry point.
print("not yet implemented")
