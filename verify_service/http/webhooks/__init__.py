"""`/v2/Services/{VA}/Webhooks` (docs/webhooks.md)."""
