"""The service's Redis Cluster client (adapters/redis_connection.py) against a real cluster:
it fails fast without sending a command twice, recovers scripts on every node, follows a
failover, and the start-up checks read every node."""

from __future__ import annotations

import time
from base64 import b64encode
from collections.abc import Iterator

import pytest
import redis

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, SECRET_KEY
from tests.support.redis_cluster import RedisCluster
from verify_service.adapters.redis_cluster import primary_clients
from verify_service.adapters.redis_connection import connect
from verify_service.adapters.redis_preflight import (
    RedisNotUsable,
    check_redis,
    readiness_problem,
)
from verify_service.adapters.redis_store.keys import OutboxKeys
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.app import CONTAINER_KEY, create_app
from verify_service.settings import Settings

pytestmark = pytest.mark.cluster

KEYS = OutboxKeys("ct")
WAIT_SECONDS = 30


def wait_for(predicate: object, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        try:
            if predicate():  # type: ignore[operator]
                return
        except redis.RedisError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {WAIT_SECONDS} s")
        time.sleep(0.05)


@pytest.fixture
def client(fresh_cluster: RedisCluster) -> Iterator[redis.Redis]:
    cluster_client = connect(fresh_cluster.url, 0.3)
    try:
        yield cluster_client
    finally:
        cluster_client.close()


def node_of(cluster: RedisCluster, key: str) -> redis.Redis:
    """A plain client on the master that holds `key`'s slot."""
    masters = cluster.master_clients()
    slot = masters[0].execute_command("CLUSTER KEYSLOT", key)
    holder = None
    for master in masters:
        if master.execute_command("CLUSTER COUNTKEYSINSLOT", slot) is not None and any(
            start <= slot <= end for start, end in _slots_of(master)
        ):
            holder = master
        else:
            master.close()
    assert holder is not None
    return holder


def _slots_of(master: redis.Redis) -> list[tuple[int, int]]:
    myself = master.execute_command("CLUSTER MYID").decode()
    ranges = []
    for start, end, *nodes in master.execute_command("CLUSTER SLOTS"):
        if nodes[0][2].decode() == myself:
            ranges.append((start, end))
    return ranges


# Counts its run, then keeps Redis busy past the client's socket timeout (0.3 s): the
# reply is lost, the effect is not.
SLOW_COUNT = """
redis.call('INCR', KEYS[1])
local t = redis.call('TIME')
local start = t[1] * 1000 + t[2] / 1000
repeat
  t = redis.call('TIME')
until t[1] * 1000 + t[2] / 1000 - start > tonumber(ARGV[1])
return 1
"""


def test_a_timed_out_pipeline_command_is_never_sent_twice(
    client: redis.Redis, fresh_cluster: RedisCluster
) -> None:
    """A script that outlives the socket timeout fails the pipeline (a 503 upstream) and
    ran once: redis-py's own cluster pipeline would have sent it again."""
    key = KEYS.shard(0).stream + ":runs"
    holder = node_of(fresh_cluster, key)
    try:
        pipe = client.pipeline(transaction=False)
        pipe.execute_command("EVAL", SLOW_COUNT, 1, key, 600)
        with pytest.raises((redis.TimeoutError, redis.ConnectionError)):
            pipe.execute()
        wait_for(lambda: holder.get(key) is not None, "the script ran")
        time.sleep(1.5)  # a second run, had one been sent, has ended too
        assert holder.get(key) == b"1"
    finally:
        holder.close()


def test_scripts_forgotten_by_every_master_are_loaded_again_in_a_pipeline(
    client: redis.Redis,
) -> None:
    """SCRIPT FLUSH on all masters: one pipeline of scripts on every shard still runs once
    each, and the scripts are back on every master."""
    book = ScriptBook()
    book.load_all(client)
    client.script_flush()

    def build(pipe: object) -> None:
        for shard in KEYS.every_shard:
            pipe.xadd(shard.stream, {"n": 1})  # type: ignore[attr-defined]
            pipe.evalsha(  # type: ignore[attr-defined]
                book.sha("promote_due_deliveries"), 3, *shard.keys[:3], 0, 10
            )

    results = book.run_pipeline(client, build)

    assert results[1::2] == [0] * len(KEYS.every_shard)
    assert all(client.xlen(shard.stream) == 1 for shard in KEYS.every_shard)
    for master in primary_clients(client):
        assert master.script_exists(book.sha("promote_due_deliveries")) == [True]


def test_after_a_failover_the_client_finds_the_promoted_replica(
    client: redis.Redis, fresh_cluster: RedisCluster
) -> None:
    """A replica takes over a master's slots (CLUSTER FAILOVER): the client follows MOVED,
    refreshes its slot map, and the new master, which never saw SCRIPT LOAD, runs the
    scripts after one NOSCRIPT."""
    book = ScriptBook()
    shard = KEYS.shard(3)
    assert book.run(client, "promote_due_deliveries", list(shard.keys[:3]), [0, 10]) == 0
    old = node_of(fresh_cluster, shard.stream)
    old_id = old.execute_command("CLUSTER MYID").decode()
    replicas = [
        node
        for node in fresh_cluster.node_clients()
        if node.info("replication")["role"] == "slave"
        and node.info("replication")["master_port"] == old.connection_pool.connection_kwargs["port"]
    ]
    assert replicas, "the master has a replica"
    replica = replicas[0]
    try:
        replica.execute_command("CLUSTER", "FAILOVER")
        wait_for(lambda: replica.info("replication")["role"] == "master", "the promotion")
        wait_for(
            lambda: (
                old.execute_command("CLUSTER MYID").decode() == old_id
                and old.info("replication")["role"] == "slave"
            ),
            "the old master to follow",
        )
        client.xadd(shard.stream, {"n": 1})
        assert book.run(client, "promote_due_deliveries", list(shard.keys[:3]), [0, 10]) == 0
        assert replica.xlen(shard.stream) == 1
    finally:
        for node in (*replicas, old):
            node.close()


def test_the_start_up_check_reads_every_node_replicas_included(
    client: redis.Redis, fresh_cluster: RedisCluster
) -> None:
    """One replica set to evict keys: refused at start-up and by /readyz's check, naming
    that node; a replica becomes the master after a failover."""
    check_redis(client, allow_eviction=False)
    assert readiness_problem(client, allow_eviction=False) is None
    nodes = fresh_cluster.node_clients()
    replica = next(node for node in nodes if node.info("replication")["role"] == "slave")
    port = replica.connection_pool.connection_kwargs["port"]
    try:
        replica.config_set("maxmemory-policy", "allkeys-lru")
        with pytest.raises(RedisNotUsable, match=f":{port} has maxmemory-policy allkeys-lru"):
            check_redis(client, allow_eviction=False)
        problem = readiness_problem(client, allow_eviction=False)
        assert problem is not None
        assert problem.code == "redis_eviction_policy"
    finally:
        replica.config_set("maxmemory-policy", "noeviction")
        for node in nodes:
            node.close()


def test_scripts_and_stream_reads_are_routed_without_asking_a_server_for_their_keys(
    client: redis.Redis, fresh_cluster: RedisCluster
) -> None:
    """A pipeline of scripts and a worker's stream read are routed from their arguments:
    no `COMMAND GETKEYS` (a round trip more each, always to the same node)."""
    book = ScriptBook()
    book.load_all(client)
    stream = KEYS.shard(1).stream
    client.xgroup_create(stream, "g", id="0", mkstream=True)
    nodes = fresh_cluster.node_clients()
    for node in nodes:
        node.config_resetstat()

    def build(pipe: object) -> None:
        for shard in KEYS.every_shard:
            pipe.evalsha(  # type: ignore[attr-defined]
                book.sha("promote_due_deliveries"), 3, *shard.keys[:3], 0, 10
            )

    book.run_pipeline(client, build)
    client.xreadgroup("g", "c", {stream: ">"}, count=1)
    pipe = client.pipeline(transaction=False)
    pipe.xreadgroup("g", "c", {stream: ">"}, count=1)
    pipe.execute()

    try:
        for node in nodes:
            assert "cmdstat_command|getkeys" not in node.info("commandstats")
    finally:
        for node in nodes:
            node.close()


def test_a_process_started_while_the_cluster_is_down_answers_503_then_recovers() -> None:
    """No node answers when the app is built (a gunicorn worker restarted mid-outage): the
    API answers a Twilio-shaped 503, not a crash, and works once the cluster is up."""
    cluster = RedisCluster()
    settings = Settings(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        secret_key=SECRET_KEY.encode(),
        redis_url=cluster.url,
        public_url="https://verify.example.test",
        redis_timeout_seconds=0.5,
    )
    app = create_app(settings)
    api = app.test_client()
    auth = {"Authorization": "Basic " + b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()}
    try:
        down = api.post("/v2/Services", data={"FriendlyName": "Acme"}, headers=auth)
        assert (down.status_code, down.json["code"]) == (503, 20503), down.text
        cluster.start()
        up = api.post("/v2/Services", data={"FriendlyName": "Acme"}, headers=auth)
        assert up.status_code == 201, up.text
    finally:
        app.extensions[CONTAINER_KEY].redis.close()
        cluster.stop()


def test_the_audit_chain_verifies_on_the_cluster(fresh_cluster: RedisCluster) -> None:
    """The audit log's verification reads its last page and head in one MULTI (one slot);
    the replies are parsed as on one server, and the chain checks out."""
    settings = Settings(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        secret_key=SECRET_KEY.encode(),
        redis_url=fresh_cluster.url,
        public_url="https://verify.example.test",
    )
    app = create_app(settings)
    api = app.test_client()
    auth = {"Authorization": "Basic " + b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()}
    container = app.extensions[CONTAINER_KEY]
    try:
        created = api.post("/v2/Services", data={"FriendlyName": "Acme"}, headers=auth)
        assert created.status_code == 201, created.text
        sid = created.json["sid"]
        renamed = api.post(f"/v2/Services/{sid}", data={"FriendlyName": "Acme 2"}, headers=auth)
        assert renamed.status_code == 200, renamed.text

        assert container.audit is not None
        report = container.audit.verify()
        assert report.first_break is None
        assert report.checked >= 2
    finally:
        container.redis.close()
