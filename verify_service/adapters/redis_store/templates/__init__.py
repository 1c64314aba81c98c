"""Message templates stored in Redis (the extension API's templates)."""
