"""`make bench`: throughput, latency, Redis round trips and memory of verify-service,
measured against a framework ceiling on the same machine (see docs/performance.md)."""
