"""Redis Cluster (`redis+cluster://`): redis-py's cluster client, made to fail fast like the
one-server client (adapters/redis_connection.py) and to run the package's scripts and
pipelines, and the per-node views the start-up checks need."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any, cast

import redis
from redis._parsers.commands import CommandPolicies, RequestPolicy, ResponsePolicy
from redis._parsers.encoders import Encoder
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, ClusterPipeline, RedisCluster
from redis.commands.core import Script
from redis.commands.policies import StaticPolicyResolver
from redis.connection import parse_url
from redis.exceptions import AskError, MovedError, RedisClusterException, TryAgainError
from redis.retry import Retry

# `redis+cluster://host:port[,host:port…]` (TLS: `rediss+cluster://`): the nodes the
# client discovers the cluster from; one answering is enough.
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}


def cluster_address(client: redis.Redis) -> str | None:
    """A cluster client's nodes as `cluster host:port,…` (never a password), or None."""
    untyped: Any = client
    if isinstance(untyped, ClusterOnFirstUse):
        return untyped.address
    if isinstance(untyped, RedisCluster):
        nodes: Any = client  # redis-py's cluster module is untyped
        return "cluster " + ",".join(node.name for node in nodes.get_nodes())
    return None


def connect_cluster(
    url: str, timeout_seconds: float, availability: Callable[[str], Any]
) -> redis.Redis:
    """A Redis Cluster client (`FailFastCluster`) that fails fast like `connect_server`'s,
    but follows MOVED and ASK (the command did not run) and refreshes its slot map when a
    node fails, so a promoted replica is found by the next request.

    Typed as `redis.Redis`: the code is written against that class, and `RedisCluster`
    offers the same command methods (redis-py's command mixins); where the two differ
    (pipelines, per-node checks) the code asks `is_cluster`."""
    scheme, _, rest = url.partition("://")
    userinfo, _, after_at = rest.rpartition("@")
    hosts, slash, tail = after_at.partition("/")
    addresses = [address.strip() for address in hosts.split(",") if address.strip()]
    if not addresses:
        raise ValueError("a redis+cluster:// URL names at least one host:port")
    credentials = f"{userinfo}@" if userinfo else ""
    options = _parse_url(f"{CLUSTER_SCHEMES[scheme]}://{credentials}{addresses[0]}{slash}{tail}")
    options.pop("db", None)
    options.pop("connection_class", None)
    options.pop("host", None)
    options.pop("port", None)
    if CLUSTER_SCHEMES[scheme] == "rediss":
        options["ssl"] = True
    nodes = []
    for address in addresses:
        host, _, port = address.rpartition(":")
        nodes.append(_ClusterNode(host.strip("[]") or "localhost", int(port or 6379)))
    availabilities = _Availabilities(availability)

    def build() -> FailFastCluster:
        return FailFastCluster(
            availabilities,
            startup_nodes=nodes,
            socket_timeout=timeout_seconds,
            socket_connect_timeout=timeout_seconds,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=30,
            redis_connect_func=availabilities.connected,
            **options,
        )

    return cast("redis.Redis", ClusterOnFirstUse(build, "cluster " + ",".join(addresses)))


class ClusterOnFirstUse:
    """The cluster client, built when first used. redis-py's connects to a node as it is
    built, and raises when none answers: a process started (a gunicorn worker restarted)
    during an outage would die instead of answering 503 and recovering. Until a node
    answers, every use raises `redis.ConnectionError` (a 503), and the next use tries again."""

    def __init__(self, build: Any, address: str) -> None:
        self._build = build
        self.address = address  # the URL's nodes, never its password
        self._client: FailFastCluster | None = None
        self._lock = threading.Lock()

    def connected(self) -> FailFastCluster:
        client = self._client
        if client is not None:
            return client
        with self._lock:
            if self._client is None:
                try:
                    self._client = self._build()
                except RedisClusterException as exc:
                    raise redis.ConnectionError(str(exc)) from None
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()

    def register_script(self, script: str | bytes) -> Script:
        """A script object without a connection (the `limits` storage makes them when it is
        built; ours run through `ScriptBook`)."""
        return Script(cast("redis.Redis", self), script)

    def get_encoder(self) -> Encoder:
        """The cluster client's (its defaults: UTF-8, bytes in replies)."""
        untyped: Any = Encoder
        encoder: Encoder = untyped("utf-8", "strict", False)
        return encoder

    def __getattr__(self, name: str) -> Any:
        return getattr(self.connected(), name)


def _cluster(client: Any) -> Any:
    if isinstance(client, ClusterOnFirstUse):
        return client.connected()
    return client if isinstance(client, RedisCluster) else None


def is_cluster(client: redis.Redis) -> bool:
    untyped: Any = client
    return isinstance(untyped, (RedisCluster, ClusterOnFirstUse))


def node_clients(client: redis.Redis) -> list[redis.Redis]:
    """One client per server: the cluster's nodes (primaries and replicas, each checked on
    its own: a replica is a primary after a failover), or the one server."""
    cluster = _cluster(client)
    if cluster is not None:
        return [cluster.get_redis_connection(node) for node in cluster.get_nodes()]
    return [client]


def primary_clients(client: redis.Redis) -> list[redis.Redis]:
    """One client per primary of a cluster, or the one server."""
    cluster = _cluster(client)
    if cluster is not None:
        return [cluster.get_redis_connection(node) for node in cluster.get_primaries()]
    return [client]


class _Availabilities:
    """One availability log (`redis_connection.Availability`) per node address."""

    def __init__(self, availability: Callable[[str], Any]) -> None:
        self._make = availability
        self._by_address: dict[str, Any] = {}
        self._lock = threading.Lock()

    def at(self, host: str, port: int) -> Any:
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        with self._lock:
            if address not in self._by_address:
                self._by_address[address] = self._make(address)
            return self._by_address[address]

    def connected(self, connection: Any) -> None:
        """`redis_connect_func`: a new connection to a node is up."""
        self.at(str(connection.host), int(connection.port)).connected()

    def failed(self, error: Exception) -> None:
        where = getattr(error, "connection", None)
        host, port = getattr(where, "host", None), getattr(where, "port", None)
        if host is not None and port is not None:
            self.at(str(host), int(port)).failed(error)


# redis-py's cluster helpers carry no annotations.
_parse_url: Any = parse_url
_ClusterNode: Any = ClusterNode

_NOT_RUN = (MovedError, AskError, TryAgainError)  # refused before running: safe to send again


class _ScriptsByTheirKeys(StaticPolicyResolver):
    """Routes EVAL and EVALSHA by their keys (the client reads them from the arguments).
    Without a policy for them, redis-py asks a server `COMMAND GETKEYS` before each script
    of a pipeline: a round trip more per script, all to one node."""

    _KEYED = CommandPolicies(
        request_policy=RequestPolicy.DEFAULT_KEYED, response_policy=ResponsePolicy.DEFAULT_KEYED
    )

    def resolve(self, command_name: str) -> CommandPolicies | None:
        if command_name.lower() in ("eval", "evalsha"):
            return self._KEYED
        return super().resolve(command_name)


SCRIPT_POLICIES = _ScriptsByTheirKeys()


def _stream_read_keys(args: tuple[Any, ...]) -> list[Any] | None:
    """The keys of an XREAD or XREADGROUP: the first half of what follows STREAMS."""
    names = [str(arg).upper() if isinstance(arg, str) else arg for arg in args]
    for index, name in enumerate(names):
        if name in ("STREAMS", b"STREAMS"):
            rest = args[index + 1 :]
            return list(rest[: len(rest) // 2])
    return None


class _StreamKeysRead:
    """Reads the keys of XREADGROUP (and XREAD) from its arguments. They are "movable keys"
    to redis-py, which asks a server `COMMAND GETKEYS` before each one: a round trip more
    per worker read, all to one node."""

    def _get_command_keys(self, *args: Any) -> Any:
        if str(args[0]).upper() in ("XREADGROUP", "XREAD"):
            keys = _stream_read_keys(args)
            if keys:
                return keys
        base: Any = super()
        return base._get_command_keys(*args)


class FailFastCluster(_StreamKeysRead, RedisCluster):
    """`RedisCluster` whose failures are logged per node (`Availability`) and whose
    pipelines never send a command twice after a connection error or a timeout
    (`FailFastClusterPipeline`)."""

    def __init__(self, availability: _Availabilities, **kwargs: Any) -> None:
        super().__init__(policy_resolver=SCRIPT_POLICIES, **kwargs)
        self.availability = availability

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        try:
            base: Any = super()  # redis-py's cluster module is untyped
            return base.execute_command(*args, **kwargs)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            self.availability.failed(exc)
            raise

    def pipeline(self, transaction: Any = None, shard_hint: Any = None) -> Any:
        if shard_hint:
            raise RedisClusterException("shard_hint is deprecated in cluster mode")
        options: dict[str, Any] = {
            "nodes_manager": self.nodes_manager,
            "commands_parser": self.commands_parser,
            "startup_nodes": self.nodes_manager.startup_nodes,
            "result_callbacks": self.result_callbacks,
            "cluster_response_callbacks": self.cluster_response_callbacks,
            "read_from_replicas": self.read_from_replicas,
            "reinitialize_steps": self.reinitialize_steps,
            "retry": self.retry,
            "lock": self._lock,
            "policy_resolver": SCRIPT_POLICIES,
        }
        if transaction:
            # MULTI on a cluster: every key in one slot (redis-py checks), no retries
            # (`retry` has none); the audit log's reads are its only use.
            return ClusterTransaction(transaction=True, **options)
        return FailFastClusterPipeline(self.availability, **options)


class ClusterTransaction(_StreamKeysRead, ClusterPipeline):
    """A MULTI/EXEC pipeline on one slot whose replies are parsed as a server pipeline's
    are: redis-py's cluster transaction hands back raw replies (an XRANGE as nested lists,
    not (id, fields) pairs) for every command without a cluster-specific callback."""

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        untyped: Any = self  # redis-py's cluster module is untyped
        queued = [(c.args, c.options) for c in untyped._execution_strategy.command_queue]
        results: list[Any] = ClusterPipeline.execute(self, raise_on_error)
        parsers = untyped.get_redis_connection(untyped.get_default_node()).response_callbacks
        for index, ((args, options), result) in enumerate(zip(queued, results, strict=True)):
            name = str(args[0]).upper()
            parse = parsers.get(name)
            if isinstance(result, Exception) or parse is None:
                continue
            if name in self.cluster_response_callbacks:
                continue
            results[index] = parse(result, **options)
        return results


class FailFastClusterPipeline(_StreamKeysRead, ClusterPipeline):
    """A cluster pipeline (one write and one read per node) that sends again only what a
    node refused without running it (MOVED, ASK, TRYAGAIN: through the client, which
    follows the redirection and patches its slot map). redis-py's own pipeline also sends
    again, one by one, commands whose connection failed or timed out, and a timed-out
    script may have run: here they fail (a 503), and the slot map is refreshed so the
    next request finds a promoted replica."""

    def __init__(self, availability: _Availabilities, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._availability = availability

    def evalsha(self, sha: str, numkeys: int, *keys_and_args: Any) -> Any:
        """Queued like any keyed command (routed by its keys). redis-py refuses EVALSHA in
        a cluster pipeline, since it cannot recover from NOSCRIPT there: `ScriptBook` does."""
        untyped: Any = self
        return untyped.execute_command("EVALSHA", sha, numkeys, *keys_and_args)

    def queued_args(self) -> list[tuple[Any, ...]]:
        """The queued commands' arguments, in order (`Pipeline.command_stack`'s)."""
        return [command.args for command in self._execution_strategy.command_queue]

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        stack = list(self._execution_strategy.command_queue)
        if not stack:
            return []
        untyped: Any = self  # redis-py's cluster module is untyped
        try:
            results: list[Any] = untyped.send_cluster_commands(
                stack, raise_on_error=False, allow_redirections=False
            )
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            self._availability.failed(exc)
            self._refresh_slots()
            raise
        finally:
            untyped.reset()
        lost = False
        for index, (command, result) in enumerate(zip(stack, results, strict=True)):
            if isinstance(result, _NOT_RUN):
                try:
                    results[index] = untyped.parent_execute_command(
                        *command.args, **command.options
                    )
                except redis.RedisError as exc:
                    results[index] = exc
            elif isinstance(result, (redis.ConnectionError, redis.TimeoutError)):
                self._availability.failed(result)
                lost = True
        if lost:
            self._refresh_slots()
        if raise_on_error:
            for result in results:
                if isinstance(result, Exception):
                    raise result
        return results

    def _refresh_slots(self) -> None:
        # No node may answer yet: the next command tries again.
        with contextlib.suppress(redis.RedisError):
            self.nodes_manager.initialize()
