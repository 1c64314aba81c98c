"""Attempt history: every send and check, kept for the retention period (/v2/Attempts)."""
