"""The audit log: what is written to it and how it is read and verified."""
