"""Delivery providers, configured as DSN strings (`kind://user:password@host/path?options`).

`registry.parse_provider_list` turns one `VERIFY_*_PROVIDERS` value into typed configs (at
start, through `Settings`); `registry.build_providers` turns configs into `DeliveryProvider`s."""
