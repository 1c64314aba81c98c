"""Redis failures become `StoreUnavailable` (HTTP 503): the service fails closed."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import redis

from verify_service.domain.errors import StoreUnavailable

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

# Errors that say "Redis cannot answer now": expected during outages and failovers.
UNAVAILABLE = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.BusyLoadingError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.TryAgainError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.MasterDownError,
    # The cluster client's own: no node answers, or a slot has no master (mid-failover).
    # Not RedisErrors, so named here, or a failover would answer 500.
    redis.exceptions.RedisClusterException,
)


def redis_error_code(error: Exception) -> str:
    """The leading upper-case word of a Redis error reply (`OOM`, `MISCONF`, `NOPERM`,
    `BUSY`, `ERR`…), or `-` when it has none; never the rest of the reply."""
    word = str(error).split(" ", 1)[0]
    return word if word.isalpha() and word.isupper() and len(word) <= 16 else "-"


def fail_closed(function: Callable[P, R]) -> Callable[P, R]:
    """Translate every Redis error raised by `function` into `StoreUnavailable` (503).

    Outages are expected and logged briefly; any other Redis error (OOM, MISCONF, NOPERM,
    BUSY, a script error) is logged with its traceback, because it needs an operator, and
    still fails closed: nothing was decided, so nothing may be allowed.
    """

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except UNAVAILABLE as exc:
            raise StoreUnavailable(type(exc).__name__) from exc
        except redis.exceptions.RedisError as exc:
            # Log lines show an exception by class, never its text (adapters/logs): the
            # reply's leading code (OOM, MISCONF, NOPERM, BUSY…) is what the operator needs.
            log.exception(
                "Redis refused a command (%s %s)", type(exc).__name__, redis_error_code(exc)
            )
            raise StoreUnavailable(type(exc).__name__) from exc

    return wrapper
