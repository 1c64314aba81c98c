"""Redis storage of services."""
