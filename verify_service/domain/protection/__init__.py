"""Protection rules: rate limits, geo permissions, number intelligence, Fraud Guard."""
