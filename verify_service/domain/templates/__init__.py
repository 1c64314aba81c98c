"""Message templates (Twilio's `HJ` Templates): operator wording per channel and locale."""
