"""The service's log lines: one format (`VERIFY_LOG_FORMAT=text|json`) for gunicorn, the app
and the worker, one line per event, the request id on every line logged during a request."""
