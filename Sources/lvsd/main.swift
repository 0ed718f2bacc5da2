// lvsd entry point.
print("not yet implemented")
