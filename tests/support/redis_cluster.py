"""A throw-away local Redis Cluster: three masters and three replicas (`redis-server
--cluster-enabled yes` on free loopback ports, joined by `redis-cli --cluster create`), as a
deployment runs it. Needs Debian's redis-server and redis-tools (`.ci/run` installs them)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import redis

from tests.support.processes import free_port, wait_until

CLUSTER_WAIT_SECONDS = 30.0  # six nodes to start, join and sync

MASTERS = 3
REPLICAS_PER_MASTER = 1


class NoRedisCluster(RuntimeError):
    """redis-server or redis-cli is missing: a cluster cannot be started here."""


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise NoRedisCluster(f"{name} is not installed (apt-get install redis-server redis-tools)")
    return path


def free_node_port() -> int:
    """A free loopback port whose cluster bus port (10 000 higher, so at most 55 535) is
    free too."""
    for _ in range(1000):
        port = free_port()
        if port > 55_535:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10_000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


class RedisCluster:
    """Six redis-server processes forming one cluster; `stop` ends every one of them and
    deletes their files, whatever state the start reached."""

    def __init__(self, masters: int = MASTERS, replicas: int = REPLICAS_PER_MASTER) -> None:
        self.ports: list[int] = []
        while len(self.ports) < masters * (1 + replicas):
            port = free_node_port()
            if port not in self.ports:
                self.ports.append(port)
        self.replicas = replicas
        self._processes: dict[int, subprocess.Popen[bytes]] = {}
        self._folder = Path(tempfile.mkdtemp(prefix="redis-cluster-"))

    @property
    def url(self) -> str:
        """`redis+cluster://` naming every node (any one is enough to discover the rest)."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports)

    def start(self) -> RedisCluster:
        server, cli = _binary("redis-server"), _binary("redis-cli")
        try:
            for port in self.ports:
                self._start_node(server, port)
            nodes = [f"127.0.0.1:{port}" for port in self.ports]
            replicas = ["--cluster-replicas", str(self.replicas)]
            subprocess.run(
                [cli, "--cluster", "create", *nodes, *replicas, "--cluster-yes"],
                check=True,
                capture_output=True,
                timeout=60,
            )
            wait_until(
                self._all_ok,
                "the cluster did not reach cluster_state:ok on every node",
                CLUSTER_WAIT_SECONDS,
            )
        except BaseException:
            self.stop()
            raise
        return self

    def _start_node(self, server: str, port: int) -> None:
        folder = self._folder / str(port)
        folder.mkdir()
        directives = {
            "port": str(port),
            "bind": "127.0.0.1",
            "cluster-enabled": "yes",
            "cluster-config-file": "nodes.conf",
            "cluster-node-timeout": "2000",
            "dir": str(folder),
            "save": "",
            "appendonly": "no",
            "daemonize": "no",
            "loglevel": "warning",
            "maxmemory-policy": "noeviction",
        }
        arguments = [part for name, value in directives.items() for part in (f"--{name}", value)]
        self._processes[port] = subprocess.Popen(
            [server, *arguments], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        client = redis.Redis(port=port)
        process = self._processes[port]

        def answers() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"redis-server on port {port} exited ({process.returncode})")
            return bool(client.ping())

        try:
            wait_until(answers, f"redis-server on port {port} did not answer", CLUSTER_WAIT_SECONDS)
        finally:
            client.close()

    def _all_ok(self) -> bool:
        for port in self.ports:
            client = redis.Redis(port=port)
            try:
                info = client.execute_command("CLUSTER INFO")  # parsed into a dict
            finally:
                client.close()
            if info.get("cluster_state") != "ok":
                return False
            client = redis.Redis(port=port)
            try:
                ranges = client.execute_command("CLUSTER SLOTS")  # [start, end, *nodes]
            finally:
                client.close()
            # Every replica attached and in sync (`--cluster create` attaches them last, and
            # CLUSTER SLOTS, which clients read, lists a replica only once it has synced).
            if any(len(nodes) < 1 + self.replicas for _start, _end, *nodes in ranges):
                return False
        return True

    def node_clients(self) -> list[redis.Redis]:
        """A plain client per node (the caller closes them)."""
        return [redis.Redis(port=port) for port in self.ports]

    def master_clients(self) -> list[redis.Redis]:
        """A plain client per master (the caller closes them)."""
        masters = []
        for client in self.node_clients():
            if client.info("replication")["role"] == "master":
                masters.append(client)
            else:
                client.close()
        return masters

    def flush(self) -> None:
        """Empty every master (the replicas follow), once every node is back in sync (a
        test may have failed a master over)."""
        wait_until(
            self._all_ok, "the cluster did not get every replica back in sync", CLUSTER_WAIT_SECONDS
        )
        for client in self.master_clients():
            try:
                client.flushall()
            finally:
                client.close()

    def stop(self) -> None:
        for process in self._processes.values():
            process.terminate()
        for process in self._processes.values():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        self._processes.clear()
        shutil.rmtree(self._folder, ignore_errors=True)
