"""Delivery adapters: the providers (`providers/`) and the checks of their delivery receipts
(`receipts.py`)."""
