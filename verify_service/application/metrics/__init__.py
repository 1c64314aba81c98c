"""What the service counts for Prometheus (docs/operations.md, "Monitoring and alerts")."""
