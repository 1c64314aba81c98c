"""HTTP entry points: thin views (parse, call a use case, serialise)."""
