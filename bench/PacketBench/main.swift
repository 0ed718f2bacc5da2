// PacketBench entry point.
print("not yet implemented")
