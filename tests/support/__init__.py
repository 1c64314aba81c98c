"""Test helpers: real processes (redis-server, gunicorn) and fakes at the process edge."""
