"""Loads the Lua scripts once and runs them by SHA, reloading after a Redis restart."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Any

import redis

from verify_service.adapters.redis_store.replica_wait import ReplicaWait

ScriptArg = str | bytes | int


def package_scripts() -> list[tuple[str, str]]:
    """Every `<capability>/scripts/*.lua` of this package as (file stem, source), by name."""
    found: list[tuple[str, str]] = []
    for capability in resources.files("verify_service.adapters.redis_store").iterdir():
        folder = capability / "scripts"
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            if entry.name.endswith(".lua"):
                found.append((entry.name.removesuffix(".lua"), entry.read_text("utf-8")))
    return sorted(found)


class ScriptBook:
    """The package's Lua scripts by name (file stem), with their SHA1 digests. With a
    `replica_wait`, the pipelines run `durable=True` end with `WAIT` (replica_wait.py)."""

    def __init__(self, replica_wait: ReplicaWait | None = None) -> None:
        self.replica_wait = replica_wait
        self._sources: dict[str, str] = {}
        for name, source in package_scripts():
            if name in self._sources:
                raise ValueError(f"two Lua scripts are named {name!r}")
            self._sources[name] = source
        self._shas = {
            name: hashlib.sha1(source.encode("utf-8"), usedforsecurity=False).hexdigest()
            for name, source in self._sources.items()
        }

    def adopt(self, name: str, source: str | bytes) -> None:
        """Add a script this package does not ship (a library's), run like our own."""
        if isinstance(source, bytes):
            source = source.decode("utf-8")
        self._sources[name] = source
        self._shas[name] = hashlib.sha1(source.encode("utf-8"), usedforsecurity=False).hexdigest()

    def sha(self, name: str) -> str:
        return self._shas[name]

    def load_all(self, client: redis.Redis) -> None:
        """Into the script cache of the server (of every primary of a cluster: redis-py
        sends SCRIPT LOAD to each; a replica promoted later answers NOSCRIPT once, and is
        loaded then)."""
        for source in self._sources.values():
            client.script_load(source)

    def run(
        self,
        client: redis.Redis,
        name: str,
        keys: Sequence[str],
        args: Sequence[ScriptArg],
    ) -> Any:
        """EVALSHA, loading the scripts once when Redis has forgotten them (restart, flush)."""
        try:
            return client.evalsha(self.sha(name), len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            self.load_all(client)
            return client.evalsha(self.sha(name), len(keys), *keys, *args)

    def run_pipeline(
        self, client: redis.Redis, build: Callable[[Any], None], *, durable: bool = False
    ) -> list[Any]:
        """One round trip of commands (EVALSHA included).

        A script Redis has forgotten (restart, SCRIPT FLUSH) fails with NOSCRIPT and changed
        nothing; the scripts are loaded and only those commands are sent again, so the
        other commands of the pipeline (an XADD, say) never run twice.

        `durable`: a state change that matters (an attempt reserved, an approval). When the
        book has a `replica_wait`, `WAIT` ends the same pipeline (replica_wait.py), and its
        answer (how many replicas acknowledged) is recorded, not returned.
        """
        wait = self.replica_wait if durable else None
        pipe = client.pipeline(transaction=False)
        build(pipe)
        commands = _queued_args(pipe)
        if wait is not None:
            pipe.execute_command(*wait.command())  # type: ignore[no-untyped-call]
        results: list[Any] = pipe.execute(raise_on_error=False)
        acknowledged: Any = results.pop() if wait is not None else None
        if any(isinstance(r, redis.exceptions.NoScriptError) for r in results):
            # EVAL at once (one round trip, and Redis caches the script): the commands
            # beside it (an XADD) already ran, and a worker must not find their effects
            # without the script's for longer than that. The other scripts load after.
            by_sha = {sha: name for name, sha in self._shas.items()}
            if wait is not None:
                acknowledged = self._rerun_durably(client, commands, results, by_sha, wait)
            for index, result in enumerate(results):
                if isinstance(result, redis.exceptions.NoScriptError):
                    args = commands[index]
                    source = self._sources[by_sha[args[1]]]
                    results[index] = client.eval(source, *args[2:])
            self.load_all(client)
        if wait is not None:
            # Answered whatever WAIT says (the write is made): an error counts as none.
            wait.acknowledged(0 if isinstance(acknowledged, Exception) else int(acknowledged))
        for result in results:
            if isinstance(result, Exception):
                raise result
        return results

    def _rerun_durably(
        self,
        client: redis.Redis,
        commands: list[Any],
        results: list[Any],
        by_sha: dict[str, str],
        wait: ReplicaWait,
    ) -> Any:
        """The scripts that failed with NOSCRIPT, run again in one pipeline ending with
        `WAIT` (on the same connection as their writes, which `WAIT` counts); their results
        replace the errors in `results`. Returns `WAIT`'s answer."""
        again = client.pipeline(transaction=False)
        failed = [i for i, r in enumerate(results) if isinstance(r, redis.exceptions.NoScriptError)]
        for index in failed:
            again.eval(self._sources[by_sha[commands[index][1]]], *commands[index][2:])
        again.execute_command(*wait.command())  # type: ignore[no-untyped-call]
        rerun: list[Any] = again.execute(raise_on_error=False)
        for index, result in zip(failed, rerun, strict=False):
            results[index] = result
        return rerun[-1]


def _queued_args(pipe: Any) -> list[tuple[Any, ...]]:
    """The arguments of the commands queued on `pipe`, in order: a cluster pipeline keeps
    them elsewhere than `Pipeline.command_stack` (adapters/redis_cluster.py)."""
    queued = getattr(pipe, "queued_args", None)
    if queued is not None:
        return list(queued())
    return [args for args, _options in pipe.command_stack]
