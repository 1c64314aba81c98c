"""Prometheus (`prometheus_client`): the metrics port's adapter, the multiprocess
directory under gunicorn, the outbox collector read at scrape time, the worker's listener."""
