"""Services: the Verify Service resources and their settings."""
