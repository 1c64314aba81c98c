"""HTTP: authentication of requests and the API keys resource."""
