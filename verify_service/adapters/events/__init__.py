"""Sending events to webhooks over HTTP."""
