"""HTTP: programmable rate limits, the safe list and Fraud Guard blocks."""
