"""The event outbox and the expiry schedule (docs/webhooks.md, "Delivery")."""
