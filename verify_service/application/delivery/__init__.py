"""Delivery: the worker that hands queued messages to providers, delivery receipts, and
channel fallback."""
