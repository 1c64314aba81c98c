"""Who may read the metrics: whoever sends `Authorization: Bearer <VERIFY_METRICS_TOKEN>`.

A credential of its own, never the API's: a Prometheus server holds it, and it opens
nothing but the metrics (docs/operations.md, "Monitoring and alerts")."""

from __future__ import annotations

import hashlib
import hmac

MIN_TOKEN_LENGTH = 16


def bearer_token_matches(authorization: str | None, token: str) -> bool:
    """True when the `Authorization` header is `Bearer <token>` (compared in constant time;
    the scheme name in any case, as RFC 6750 allows)."""
    if authorization is None:
        return False
    scheme, _, given = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return False
    # Digests of equal length: the comparison's time does not even tell the token's length.
    return hmac.compare_digest(_digest(given.strip()), _digest(token))


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8")).digest()
