"""Redis storage of webhooks (docs/webhooks.md, "Storage")."""
