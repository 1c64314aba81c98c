"""Verifications: start, resend, check, fetch and end one-time-code verifications."""
