"""Delivery values: requests, receipts, attempt statuses and channel fallback rules."""
