"""Redis storage of the attempt history indexes."""
