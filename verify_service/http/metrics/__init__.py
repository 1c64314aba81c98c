"""`/metrics` and the count of every request (docs/operations.md, "Monitoring and alerts")."""
