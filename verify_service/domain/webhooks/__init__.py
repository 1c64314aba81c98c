"""Webhooks: where events go, and the rules a webhook URL must keep (targets.py)."""
