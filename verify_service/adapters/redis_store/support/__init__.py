"""Redis storage of support console users and sessions."""
