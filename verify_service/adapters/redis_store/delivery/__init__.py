"""Redis storage of the delivery outbox, attempt statuses and the fallback schedule."""
