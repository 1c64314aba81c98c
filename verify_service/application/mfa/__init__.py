"""MFA use cases: entities, TOTP factors, challenges (docs/mfa.md)."""
