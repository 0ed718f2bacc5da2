// lvs-realserver entry point.
print("not yet implemented")
