"""verify-service: a self-hosted one-time-code service speaking the Twilio Verify v2 API."""

__version__ = "0.1.0"
