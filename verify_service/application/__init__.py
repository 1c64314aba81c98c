"""Use cases: what the HTTP API and the CLI ask the service to do."""
