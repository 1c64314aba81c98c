"""Abuse and cost protection: limits, programmable rate limits, geo permissions, Fraud
Guard, the safe list."""
