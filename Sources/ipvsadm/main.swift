// ipvsadm entry point.
print("not yet implemented")
