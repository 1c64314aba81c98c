"""Redis storage of limits, rate limits, the safe list and Fraud Guard."""
