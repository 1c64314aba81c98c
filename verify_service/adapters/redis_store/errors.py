"""Redis failures become `StoreUnavailable` (HTTP 503): the service fails closed."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import redis

from verify_service.domain.errors import StoreUnavailable

P = ParamSpec("P")
R = TypeVar("R")

# Errors that say "Redis cannot answer now", as opposed to a bug in a command or script.
UNAVAILABLE = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.BusyLoadingError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.TryAgainError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.MasterDownError,
)


def fail_closed(function: Callable[P, R]) -> Callable[P, R]:
    """Translate Redis outages raised by `function` into `StoreUnavailable`."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except UNAVAILABLE as exc:
            raise StoreUnavailable(type(exc).__name__) from exc

    return wrapper
