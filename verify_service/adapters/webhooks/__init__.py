"""Webhook adapters: resolving and checking a webhook URL's host (`resolver.py`)."""
