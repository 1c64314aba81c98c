"""`/v2/Templates`."""
