"""HTTP: the audit log's API and the hook that audits admin API writes."""
