"""Redis storage of the hash-chained audit log."""
