"""Channel fallback steps in Redis: a sorted set of verifications by the time their next step
is due, and a hash of what that step is. Only references are stored (service sid, `VE` sid,
step index, the `VL` sid the step follows, the verification's expiry): the destination stays
sealed in the verification hash and is read from there when the step runs. Every key has a TTL
(the latest expiry of a verification scheduled in it) and no entry outlives its verification
by more than a pass of the runner: see schedule_fallback_step.lua. The schedule is
`FallbackKeys.shards` shards (keys.py), a verification's step always in the shard of its sid."""

from __future__ import annotations

from typing import Any

import redis

from verify_service.adapters.redis_store.errors import fail_closed
from verify_service.adapters.redis_store.keys import FallbackKeys
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.application.delivery.channel_fallback import DueFallbackStep, TakenSteps


def _member(service_sid: str, verification_sid: str) -> str:
    return f"{service_sid}:{verification_sid}"


class RedisFallbackSchedule:
    def __init__(self, client: redis.Redis, scripts: ScriptBook, keys: FallbackKeys) -> None:
        self._client = client
        self._scripts = scripts
        self._keys = keys
        self._shards = keys.every_shard
        self._next_shard = 0  # where the next take starts, when it takes from fewer shards

    @fail_closed
    def schedule(
        self,
        service_sid: str,
        verification_sid: str,
        step: int,
        after_attempt_sid: str,
        due_ms: int,
        expires_ms: int,
        now_ms: int,
    ) -> None:
        """Schedule a step (replacing the verification's previous one) once its start's send
        was accepted; due at `due_ms`, or dropped at the verification's expiry."""
        shard = self._keys.for_verification(verification_sid)
        self._scripts.run(
            self._client,
            "schedule_fallback_step",
            [shard.due, shard.steps],
            [
                _member(service_sid, verification_sid),
                due_ms,
                f"{step}|{after_attempt_sid}|{expires_ms}",
                expires_ms,
                now_ms,
            ],
        )

    def unschedule_commands(self, pipe: Any, service_sid: str, verification_sid: str) -> None:
        """Add the command that removes a verification's step to a caller's pipeline (the
        end's: an approved or canceled verification sends nothing more)."""
        shard = self._keys.for_verification(verification_sid)
        pipe.evalsha(
            self._scripts.sha("unschedule_fallback_step"),
            2,
            shard.due,
            shard.steps,
            _member(service_sid, verification_sid),
        )

    @fail_closed
    def take_due(self, now_ms: int, look: int, hand: int) -> TakenSteps:
        """From every shard at once (one pipeline: a round trip per Redis node), each
        looking at its share of `look` and handing out its share of `hand`, so that no more
        than `hand` are handed out in all. With `hand` below the number of shards, `hand`
        shards are taken from, in turn (the others at the next takes)."""
        shards = self._shards
        if hand < len(shards):
            start = self._next_shard
            self._next_shard = (start + hand) % len(shards)
            shards = tuple(shards[(start + i) % len(shards)] for i in range(hand))
        shard_look = max(1, look // len(shards))
        shard_hand = max(1, hand // len(shards))

        def build(pipe: Any) -> None:
            take = self._scripts.sha("take_due_fallback_steps")
            for shard in shards:
                pipe.evalsha(take, 2, shard.due, shard.steps, now_ms, shard_look, shard_hand)

        steps = []
        more = False
        for flat in self._scripts.run_pipeline(self._client, build):
            looked = int(flat[0])
            handed = (len(flat) - 1) // 2
            more = more or looked >= shard_look or handed >= shard_hand
            for index in range(1, len(flat), 2):
                service_sid, verification_sid = flat[index].decode().split(":", 1)
                step, after_attempt_sid = flat[index + 1].decode().split("|")[:2]
                steps.append(
                    DueFallbackStep(service_sid, verification_sid, int(step), after_attempt_sid)
                )
        return TakenSteps(tuple(steps), more=more)

    @fail_closed
    def hasten(
        self, service_sid: str, verification_sid: str, failed_attempt_sid: str, now_ms: int
    ) -> bool:
        shard = self._keys.for_verification(verification_sid)
        done = self._scripts.run(
            self._client,
            "hasten_fallback_step",
            [shard.due, shard.steps],
            [_member(service_sid, verification_sid), failed_attempt_sid, now_ms],
        )
        return bool(done)

    @fail_closed
    def pending(self) -> dict[str, float]:
        """Every scheduled step's verification and due time (ms), for tests and operators."""
        found: dict[str, float] = {}
        for shard in self._shards:
            entries: Any = self._client.zrange(shard.due, 0, -1, withscores=True)
            found.update({member.decode(): score for member, score in entries})
        return found
