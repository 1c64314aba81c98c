"""Redis storage of API keys."""
