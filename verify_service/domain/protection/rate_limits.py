"""Programmable Rate Limits and their Buckets (Twilio's `RateLimits` resources).

A service names up to `MAX_RATE_LIMITS_PER_SERVICE` rate limits (`UniqueName`, e.g.
`end_user_ip_address`); each holds up to `MAX_BUCKETS_PER_RATE_LIMIT` buckets, "at most `max`
requests per `interval` seconds", one bucket per interval. A start names a rate limit's value
in its `RateLimits` parameter, and every bucket of that rate limit counts it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from verify_service.domain.errors import InvalidParameter, RateLimitConfigError

MAX_RATE_LIMITS_PER_SERVICE = 10
MAX_BUCKETS_PER_RATE_LIMIT = 5

MIN_BUCKET_MAX = 1
MAX_BUCKET_MAX = 100_000  # a moving window keeps one entry per counted request
MIN_BUCKET_INTERVAL_SECONDS = 1
MAX_BUCKET_INTERVAL_SECONDS = 30 * 86_400

# Twilio: "alphanumeric plus `-`, `_`, `.`". The length bound is ours.
UNIQUE_NAME_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")


@dataclass(frozen=True, slots=True)
class Bucket:
    """At most `max` requests per `interval` seconds, for each value of its rate limit."""

    sid: str
    rate_limit_sid: str
    service_sid: str
    max: int
    interval: int
    created_ms: int
    updated_ms: int


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A named rate limit of a service; `buckets` in creation order."""

    sid: str
    service_sid: str
    unique_name: str
    description: str | None
    created_ms: int
    updated_ms: int
    buckets: tuple[Bucket, ...] = ()

    def bucket(self, sid: str) -> Bucket | None:
        return next((bucket for bucket in self.buckets if bucket.sid == sid), None)


def validate_unique_name(value: str | None) -> str:
    """`UniqueName`: required (60200), then 1-64 of `[A-Za-z0-9._-]` (60209)."""
    if value is None:
        raise InvalidParameter("UniqueName", "required")
    if UNIQUE_NAME_PATTERN.fullmatch(value) is None:
        raise RateLimitConfigError(
            RateLimitConfigError.INVALID_UNIQUE_NAME,
            "UniqueName format is invalid: use 1-64 letters, digits, '.', '_' or '-'",
        )
    return value


def validate_max(value: int | None) -> int:
    """A bucket's `Max`: requests allowed per interval."""
    return _require_range(value, "Max", MIN_BUCKET_MAX, MAX_BUCKET_MAX)


def validate_interval(value: int | None) -> int:
    """A bucket's `Interval` in seconds."""
    return _require_range(
        value, "Interval", MIN_BUCKET_INTERVAL_SECONDS, MAX_BUCKET_INTERVAL_SECONDS
    )


def _require_range(value: int | None, wire_name: str, low: int, high: int) -> int:
    if value is None:
        raise InvalidParameter(wire_name, "required")
    if not low <= value <= high:
        raise InvalidParameter(wire_name, f"must be between {low} and {high}")
    return value


def max_rate_limits_reached() -> RateLimitConfigError:
    return RateLimitConfigError(
        RateLimitConfigError.MAX_RATE_LIMITS,
        f"Max rate limits per service reached ({MAX_RATE_LIMITS_PER_SERVICE})",
    )


def duplicate_unique_name(unique_name: str) -> RateLimitConfigError:
    return RateLimitConfigError(
        RateLimitConfigError.DUPLICATE_UNIQUE_NAME,
        f"Rate limit with UniqueName {unique_name} already exists in this service",
    )


def max_buckets_reached() -> RateLimitConfigError:
    return RateLimitConfigError(
        RateLimitConfigError.MAX_BUCKETS,
        f"Max Buckets per Rate limit reached ({MAX_BUCKETS_PER_RATE_LIMIT})",
    )


def duplicate_interval(interval: int) -> RateLimitConfigError:
    return RateLimitConfigError(
        RateLimitConfigError.DUPLICATE_INTERVAL,
        f"Bucket with the given Interval ({interval}) already exists for this rate limit",
    )
