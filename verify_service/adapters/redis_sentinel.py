"""A Redis master found through Sentinel: `redis+sentinel://` URLs (docs/operations.md).

    redis+sentinel://[user:password@]host:port[,host:port…]/<master-name>[?db=N]
                     [&sentinel_username=…&sentinel_password=…]

The user and password in the URL are the master's (and its replicas'); the sentinels take
their own in `sentinel_password` (and `sentinel_username`), or none. The port defaults to
26379, Sentinel's. The client is redis-py's own (`Sentinel(...).master_for(name)`): each new
connection asks the sentinels where the master is, so after a failover the pool finds the
promoted replica by itself, and a connection still open to a demoted master fails with
READONLY, which redis-py turns into a ConnectionError (a 503 here) and a rediscovery.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote

import redis
from redis.sentinel import Sentinel, SentinelConnectionPool, SentinelManagedConnection

log = logging.getLogger(__name__)

SCHEME = "redis+sentinel"
DEFAULT_SENTINEL_PORT = 26379
_QUERY_NAMES = frozenset({"db", "sentinel_username", "sentinel_password"})


class SentinelUrlError(ValueError):
    """A `redis+sentinel://` URL that cannot be used; the message never repeats a password."""


@dataclass(frozen=True, slots=True)
class SentinelTarget:
    """What a `redis+sentinel://` URL names."""

    sentinels: tuple[tuple[str, int], ...]
    master_name: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_username: str | None = None
    sentinel_password: str | None = None

    def describe(self) -> str:
        """`master <name> via host:port,…`: where it connects, never a user or password."""
        via = ",".join(_address(host, port) for host, port in self.sentinels)
        return f"master {self.master_name} via sentinels {via}"


def parse_sentinel_url(url: str) -> SentinelTarget:
    """The sentinels, master name, database and credentials of a `redis+sentinel://` URL."""
    scheme, separator, rest = url.partition("://")
    if scheme != SCHEME or not separator:
        raise SentinelUrlError(f"a Sentinel URL starts with {SCHEME}://")
    rest, _, query = rest.partition("?")
    location, _, path = rest.partition("/")
    userinfo, at, hosts = location.rpartition("@")
    if not at:
        userinfo, hosts = "", location
    master_name = unquote(path.strip("/"))
    if not master_name or "/" in master_name:
        raise SentinelUrlError(
            f"a Sentinel URL names the master after the hosts: {SCHEME}://host:port/<master-name>"
        )
    username, password = _credentials(userinfo)
    options = parse_qs(query, keep_blank_values=True, strict_parsing=False)
    unknown = sorted(set(options) - _QUERY_NAMES)
    if unknown:
        raise SentinelUrlError(
            f"unknown Sentinel URL option {unknown[0]} (known: {', '.join(sorted(_QUERY_NAMES))})"
        )
    db_text = options.get("db", ["0"])[-1]
    if not db_text.isdigit():
        raise SentinelUrlError("the Sentinel URL's db must be a whole number")
    return SentinelTarget(
        sentinels=tuple(_host_port(part) for part in hosts.split(",")),
        master_name=master_name,
        db=int(db_text),
        username=username,
        password=password,
        sentinel_username=options.get("sentinel_username", [None])[-1] or None,
        sentinel_password=options.get("sentinel_password", [None])[-1] or None,
    )


def _credentials(userinfo: str) -> tuple[str | None, str | None]:
    if not userinfo:
        return None, None
    user, colon, password = userinfo.partition(":")
    if not colon:  # `user@host`: a user without a password
        return unquote(user) or None, None
    return unquote(user) or None, unquote(password) or None


def _host_port(text: str) -> tuple[str, int]:
    text = text.strip()
    if text.startswith("["):  # [::1]:26379
        host, _, port_text = text[1:].partition("]")
        port_text = port_text.removeprefix(":")
    else:
        host, _, port_text = text.partition(":")
    if not host:
        raise SentinelUrlError("every Sentinel in the URL needs a host (host:port,host:port)")
    if not port_text:
        return host, DEFAULT_SENTINEL_PORT
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise SentinelUrlError("a Sentinel's port must be a number from 1 to 65535")
    return host, int(port_text)


def _address(host: str, port: int | str) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class AvailabilityLog(Protocol):
    """Told each new connection's outcome (`redis_connection.Availability`)."""

    def connected(self) -> None: ...

    def failed(self, error: Exception) -> None: ...


def master_client(
    target: SentinelTarget, options: dict[str, Any], availability: AvailabilityLog
) -> redis.Redis:
    """redis-py's client for the master Sentinel names, with `options` (timeouts, no
    retries) on the master's connections and the sentinels' alike."""
    sentinel_options: dict[str, Any] = {
        key: value for key, value in options.items() if key.startswith("socket_")
    }
    sentinel_options["retry"] = options.get("retry")
    if target.sentinel_password is not None:
        sentinel_options["password"] = target.sentinel_password
        sentinel_options["username"] = target.sentinel_username
    sentinel = Sentinel(list(target.sentinels), sentinel_kwargs=sentinel_options)  # type: ignore[no-untyped-call]
    client: redis.Redis = sentinel.master_for(  # type: ignore[no-untyped-call]
        target.master_name,
        redis_class=SentinelMasterClient,
        connection_class=_tracked_connection(availability, MasterLog(target.master_name)),
        db=target.db,
        username=target.username,
        password=target.password,
        **options,
    )
    return client


class SentinelMasterClient(redis.Redis):
    """The master's client; closing it closes the connections to the sentinels too."""

    def close(self) -> None:
        super().close()
        pool = self.connection_pool
        if isinstance(pool, SentinelConnectionPool):
            pool.sentinel_manager.close()


def sentinel_address(client: redis.Redis) -> str | None:
    """Where a Sentinel-managed client connects, for messages (None: not one; a cluster
    client has no single pool)."""
    pool = getattr(client, "connection_pool", None)
    if not isinstance(pool, SentinelConnectionPool):
        return None
    sentinels = ",".join(
        _address(
            str(node.connection_pool.connection_kwargs.get("host", "?")),
            node.connection_pool.connection_kwargs.get("port", DEFAULT_SENTINEL_PORT),
        )
        for node in pool.sentinel_manager.sentinels
    )
    master = pool.master_address
    at = f" (at {_address(str(master[0]), master[1])})" if master else ""
    return f"master {pool.service_name}{at} via sentinels {sentinels}"


class MasterLog:
    """Logs each change of the master's address once (a failover), not once per connection."""

    def __init__(self, master_name: str) -> None:
        self.master_name = master_name
        self._address: tuple[str, int] | None = None
        self._lock = threading.Lock()

    def now_at(self, host: str, port: int) -> None:
        with self._lock:
            was, self._address = self._address, (host, port)
        if was is not None and was != (host, port):
            log.warning(
                "Redis master %s moved from %s to %s (a Sentinel failover)",
                self.master_name,
                _address(*was),
                _address(host, port),
            )


def _tracked_connection(availability: AvailabilityLog, masters: MasterLog) -> type[Any]:
    """redis-py's Sentinel-managed connection, reporting each new connection's outcome
    (a master no sentinel knows, or one that does not answer, is a failure) and the master's
    address."""

    class TrackedSentinelConnection(SentinelManagedConnection):
        def _connect_retry(self) -> None:
            if self._sock:  # already connected: nothing new to learn
                return
            try:
                super()._connect_retry()  # type: ignore[no-untyped-call]
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                availability.failed(exc)
                raise
            availability.connected()
            masters.now_at(str(self.host), int(self.port))

    return TrackedSentinelConnection
