"""Webhooks: a service's subscriptions to events (docs/webhooks.md)."""
