"""HTTP: delivery attempts (read) and providers' delivery receipts (write)."""
