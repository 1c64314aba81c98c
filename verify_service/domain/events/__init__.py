"""Events: what happened to a verification, a delivery, a factor or a challenge, as the
Webhooks resource sends it (docs/webhooks.md)."""
