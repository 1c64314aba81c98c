"""MFA: entities, factors (TOTP, passkeys) and challenges — rules and values, no I/O."""
