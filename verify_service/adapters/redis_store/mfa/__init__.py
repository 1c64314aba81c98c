"""MFA records in Redis: one hash tag per entity (docs/mfa.md, "Storage")."""
