"""A local Sentinel group: one master, two replicas and three sentinels on free loopback
ports, all one `redis-server` binary (`--sentinel` for the sentinels), always torn down.

Sentinels decide a master is down after `DOWN_AFTER_MS` without an answer and give a
failover `FAILOVER_TIMEOUT_MS`, so a killed master is replaced within a few seconds. Every
node requires `PASSWORD` (replicas authenticate with `masterauth`, sentinels with
`auth-pass`); the sentinels themselves are open, as most deployments run them.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import redis

from tests.support.processes import free_port, wait_until
from tests.support.redis_binary import redis_server_binary

GROUP_WAIT_SECONDS = 30.0  # replicas to sync, sentinels to agree
MASTER_NAME = "verify"
PASSWORD = "sentinel-group-password"
DOWN_AFTER_MS = 1_000
FAILOVER_TIMEOUT_MS = 3_000
QUORUM = 2


class Node:
    """One process of the group: a data node (`redis-server`) or a sentinel."""

    def __init__(self, folder: Path, name: str, arguments: list[str], sentinel: bool) -> None:
        self.port = free_port()
        self.folder = folder
        self.name = name
        self.arguments = arguments
        self.sentinel = sentinel
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = redis_server_binary().path
        common = ["--port", str(self.port), "--bind", "127.0.0.1", "--daemonize", "no"]
        common += ["--dir", str(self.folder), "--loglevel", "warning"]
        common += ["--logfile", str(self.folder / f"{self.name}.log")]
        if self.sentinel:
            config = self.folder / f"{self.name}.conf"  # a sentinel rewrites its own config
            if not config.exists():
                config.write_text("\n".join(self.arguments) + "\n")
            command = [binary, str(config), "--sentinel", *common]
        else:
            command = [binary, *common, "--save", "", "--appendonly", "no", *self.arguments]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def client(self, **options: object) -> redis.Redis:
        password = None if self.sentinel else PASSWORD
        return redis.Redis(port=self.port, password=password, socket_timeout=2, **options)  # type: ignore[arg-type]

    def signal(self, number: signal.Signals) -> None:
        if self.process is not None:
            self.process.send_signal(number)

    def kill(self) -> None:
        """SIGKILL: the master dies mid-write, as a crashed machine would."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)  # a paused node cannot stop
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
            self.process = None

    def ping(self) -> bool:
        client = self.client()
        try:
            return bool(client.ping())
        finally:
            client.close()


def _data_arguments(replica_of: int | None) -> list[str]:
    arguments = ["--requirepass", PASSWORD, "--masterauth", PASSWORD]
    arguments += ["--maxmemory-policy", "noeviction"]
    if replica_of is not None:
        arguments += ["--replicaof", "127.0.0.1", str(replica_of)]
    return arguments


class SentinelGroup:
    """Start with `start()`, always `stop()`. `url` is the service's `VERIFY_REDIS_URL`."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="redis-sentinel-"))
        self.data: list[Node] = []
        self.sentinels: list[Node] = []

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{node.port}" for node in self.sentinels)
        return f"redis+sentinel://:{PASSWORD}@{hosts}/{MASTER_NAME}"

    def start(self) -> SentinelGroup:
        try:
            master = Node(self.folder, "data-0", _data_arguments(None), sentinel=False)
            master.start()
            wait_until(master.ping, "the master's start", GROUP_WAIT_SECONDS)
            self.data.append(master)
            for index in (1, 2):
                replica = Node(
                    self.folder, f"data-{index}", _data_arguments(master.port), sentinel=False
                )
                replica.start()
                self.data.append(replica)
            self.wait_for_replicas(master, 2)
            for index in range(3):
                node = Node(
                    self.folder,
                    f"sentinel-{index}",
                    [
                        f"sentinel monitor {MASTER_NAME} 127.0.0.1 {master.port} {QUORUM}",
                        f"sentinel auth-pass {MASTER_NAME} {PASSWORD}",
                        f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}",
                        f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}",
                        f"sentinel parallel-syncs {MASTER_NAME} 2",
                    ],
                    sentinel=True,
                )
                # The port must be in the file a sentinel rewrites, or a restart moves it.
                node.arguments.insert(0, f"port {node.port}")
                node.start()
                self.sentinels.append(node)
            self.wait_for_sentinels(master.port)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for node in [*self.sentinels, *self.data]:
            node.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- what the sentinels and the data nodes say ----------------------------------------

    def master_port(self) -> int:
        """The master's port as the sentinels' majority names it now."""
        ports = []
        for node in self.sentinels:
            client = node.client()
            try:
                _host, port = client.sentinel_get_master_addr_by_name(MASTER_NAME)
                ports.append(int(port))
            except (OSError, redis.exceptions.RedisError, TypeError):
                continue
            finally:
                client.close()
        return max(set(ports), key=ports.count) if ports else 0

    def master(self) -> Node:
        return next(node for node in self.data if node.port == self.master_port())

    def settled_master(self) -> Node:
        """The master once every live sentinel names the same node and that node says it is
        the master: after a failover a client's sentinel may still name the old one for a
        moment, so a test that changes the master's configuration waits for this first."""
        agreed: list[Node] = []

        def settled() -> bool:
            ports = set()
            for node in self.sentinels:
                client = node.client()
                try:
                    ports.add(int(client.sentinel_get_master_addr_by_name(MASTER_NAME)[1]))
                except (OSError, redis.exceptions.RedisError, TypeError):
                    continue
                finally:
                    client.close()
            if len(ports) != 1:
                return False
            (port,) = ports
            master = next((node for node in self.data if node.port == port), None)
            if master is None or master.process is None:
                return False
            client = master.client()
            try:
                if client.info("replication").get("role") != "master":
                    return False
            except (OSError, redis.exceptions.RedisError):
                return False
            finally:
                client.close()
            agreed[:] = [master]
            return True

        wait_until(
            settled,
            "every sentinel naming one master that says it is the master",
            GROUP_WAIT_SECONDS,
        )
        return agreed[0]

    def replicas(self) -> list[Node]:
        port = self.master_port()
        return [node for node in self.data if node.port != port and node.process is not None]

    def wait_for_replicas(self, master: Node, count: int) -> None:
        def synced() -> bool:
            client = master.client()
            try:
                info = client.info("replication")
            finally:
                client.close()
            online = [
                value
                for key, value in info.items()
                if key.startswith("slave") and isinstance(value, dict)
            ]
            return (
                info.get("role") == "master"
                and sum(1 for slave in online if slave.get("state") == "online") >= count
            )

        wait_until(
            synced,
            f"{count} replicas in sync with the master on port {master.port}",
            GROUP_WAIT_SECONDS,
        )

    def wait_for_sentinels(self, master_port: int) -> None:
        """Every sentinel names `master_port`, sees the other two and both replicas."""

        def agreed() -> bool:
            for node in self.sentinels:
                client = node.client()
                try:
                    state = client.sentinel_master(MASTER_NAME)
                finally:
                    client.close()
                if (
                    int(state["port"]) != master_port
                    or state["num-other-sentinels"] < len(self.sentinels) - 1
                    or state["num-slaves"] < len(self.data) - 1
                    or state["is_sdown"]
                    or state["is_odown"]
                ):
                    return False
            return True

        wait_until(agreed, f"the sentinels' agreement on the master at port {master_port}", 60)

    # -- failures -----------------------------------------------------------------------

    def kill_master(self) -> Node:
        """SIGKILL the master; returns its node (stopped)."""
        master = self.master()
        master.kill()
        return master

    def wait_for_failover(self, old: Node) -> Node:
        """A replica promoted: the sentinels name another master, and it says it is one."""

        def promoted() -> bool:
            port = self.master_port()
            if port in (0, old.port):
                return False
            client = next(node for node in self.data if node.port == port).client()
            try:
                return client.info("replication").get("role") == "master"
            finally:
                client.close()

        wait_until(promoted, "a replica's promotion", 60)
        return self.master()

    def rejoin(self, old: Node) -> None:
        """Restart a killed node as a replica of the current master, and wait until the
        group is whole again (two replicas in sync, every sentinel agreed)."""
        master = self.master()
        old.arguments = _data_arguments(master.port)
        old.start()
        self.wait_for_replicas(master, 2)
        self.wait_for_sentinels(master.port)

    def pause_replicas(self) -> list[Node]:
        """SIGSTOP every replica: they acknowledge nothing until `resume` (always call it)."""
        paused = self.replicas()
        for node in paused:
            node.signal(signal.SIGSTOP)
        return paused

    @staticmethod
    def resume(paused: list[Node]) -> None:
        for node in paused:
            node.signal(signal.SIGCONT)
