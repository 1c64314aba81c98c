"""Entities, factors and challenges in Redis (docs/mfa.md, "Storage"): every record of one
entity under its hash tag, each state change one Lua script (`scripts/`)."""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol

import redis

from verify_service.adapters.redis_store.errors import fail_closed
from verify_service.adapters.redis_store.keys import KeySpace, MfaKeys
from verify_service.adapters.redis_store.mfa.records import (
    challenge_fields,
    decode_challenge,
    decode_entity,
    decode_factor,
    entity_fields,
    factor_fields,
)
from verify_service.adapters.redis_store.scripts import ScriptArg, ScriptBook
from verify_service.application.mfa.ports import AnswerResult, ChallengeQuery, Evaluation
from verify_service.domain.errors import MfaConcurrentRequests
from verify_service.domain.mfa.limits import (
    ENTITY_WRONG_CODE_WINDOW_MS,
    MAX_CHALLENGE_TTL_MS,
    MAX_ENTITY_WRONG_CODES,
    MAX_LISTED_CHALLENGES,
    MAX_PENDING_CHALLENGES,
    MAX_WRONG_CODES,
    WRONG_CODE_WINDOW_MS,
)
from verify_service.domain.mfa.models import (
    Challenge,
    CodeOutcome,
    Entity,
    Factor,
    ListOrder,
)

# An unverified factor is deleted a day after its creation unless verified (Twilio:
# "Unverified Factors can also be deleted … 1 to 24 hours after creation").
UNVERIFIED_FACTOR_TTL_MS = 24 * 60 * 60 * 1000
# A cascade script gets the keys of the records the caller listed; when the factor list
# changed before it ran (a factor created meanwhile) it changes nothing, and the caller lists
# again, at most this many times (a challenge created meanwhile blocks nothing).
MAX_TRIES = 5
CHANGED = -1
# Batches of 100 identities a service delete walks at most (1 000 000 entities, and their
# entities made again by racing creates).
MAX_SERVICE_PASSES = 10_000

log = logging.getLogger(__name__)


def _result(reply: list[Any], decode: Any) -> AnswerResult:
    """A script's `{outcome, record HGETALL[, wrong codes]}` or `{'locked', ms}` reply."""
    name = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
    outcome = CodeOutcome(name)
    if outcome is CodeOutcome.LOCKED:
        scope = reply[2].decode() if isinstance(reply[2], bytes) else str(reply[2])
        return AnswerResult(outcome, retry_after_ms=int(reply[1]), entity_locked=scope == "entity")
    if outcome is CodeOutcome.FULL:
        return AnswerResult(outcome, retry_after_ms=int(reply[1]))
    record = decode(reply[1]) if len(reply) > 1 else None
    wrong = None
    if outcome is CodeOutcome.WRONG:
        wrong = int(reply[2]) if len(reply) > 2 else getattr(record, "wrong_codes", None)
    if isinstance(record, Challenge):
        return AnswerResult(outcome, challenge=record, wrong_codes=wrong)
    return AnswerResult(outcome, factor=record, wrong_codes=wrong)


def _evaluation_args(evaluation: Evaluation) -> list[ScriptArg]:
    return [
        evaluation.now_ms,
        evaluation.factor_version,
        "" if evaluation.matched_step is None else evaluation.matched_step,
        evaluation.max_wrong,
        evaluation.wrong_window_ms,
        evaluation.entity_max_wrong,
        evaluation.entity_wrong_window_ms,
    ]


class AuditHead(Protocol):
    """The audit log's head, read in the round trip of a change it then records
    (`RedisAuditLog`): its append needs no read of its own."""

    def queue_head_read(self, pipe: Any) -> None: ...

    def note_head(self, raw: list[bytes | None]) -> None: ...


class RedisMfaStore:
    def __init__(
        self,
        client: redis.Redis,
        scripts: ScriptBook,
        keys: MfaKeys,
        audit_head: AuditHead | None = None,
    ) -> None:
        self._client = client
        self._scripts = scripts
        self._keys = keys
        self._services = KeySpace(keys.prefix)
        self._audit_head = audit_head

    def _durable(
        self, name: str, keys: list[str], args: list[ScriptArg], *, audited: bool = False
    ) -> Any:
        """A script whose result must survive a failover (an approval, a verified factor,
        a counted wrong code): run with the replica wait when one is configured.
        `audited`: an audit entry follows; the audit log's head rides in this round trip."""
        sha = self._scripts.sha(name)
        audit_head = self._audit_head if audited else None

        def build(pipe: Any) -> None:
            pipe.evalsha(sha, len(keys), *keys, *args)
            if audit_head is not None:
                audit_head.queue_head_read(pipe)

        results = self._scripts.run_pipeline(self._client, build, durable=True)
        if audit_head is not None:
            audit_head.note_head(results[1])
        return results[0]

    def _index(self, service_sid: str, identity: str) -> None:
        self._scripts.run(
            self._client,
            "index_entity",
            [self._keys.entities(service_sid), self._keys.entity_counter(service_sid)],
            [identity],
        )

    # -- entities ------------------------------------------------------------------------

    @fail_closed
    def create_entity(self, entity: Entity) -> tuple[Entity, bool]:
        keys = self._keys.of(entity.service_sid, entity.identity)
        created, raw = self._scripts.run(
            self._client, "create_entity", [keys.entity], entity_fields(entity)
        )
        self._index(entity.service_sid, entity.identity)
        return decode_entity(raw) or entity, bool(created)

    @fail_closed
    def get_entity(self, service_sid: str, identity: str) -> Entity | None:
        return decode_entity(self._client.hgetall(self._keys.of(service_sid, identity).entity))

    @fail_closed
    def list_entities(self, service_sid: str, offset: int, limit: int) -> tuple[list[Entity], bool]:
        # One extra identity tells whether another page follows. An entry whose entity is
        # gone (deleted between the two scripts) is skipped.
        raw: list[bytes] = self._client.zrange(  # type: ignore[assignment]
            self._keys.entities(service_sid), offset, offset + limit
        )
        more = len(raw) > limit
        pipe = self._client.pipeline(transaction=False)
        for identity in raw[:limit]:
            pipe.hgetall(self._keys.of(service_sid, identity.decode()).entity)
        entities = [decode_entity(found) for found in pipe.execute()]
        return [e for e in entities if e is not None], more

    def _listed(self, key: str) -> list[str]:
        sids: list[bytes] = self._client.zrange(key, 0, -1)  # type: ignore[assignment]
        return [sid.decode() for sid in sids]

    def _delete_entity(self, service_sid: str, identity: str) -> bool:
        keys = self._keys.of(service_sid, identity)
        for _ in range(MAX_TRIES):
            factors = self._listed(keys.factors)
            challenges = self._listed(keys.challenges)
            existed = self._scripts.run(
                self._client,
                "delete_entity",
                [
                    keys.entity,
                    keys.factors,
                    keys.challenges,
                    keys.wrong_codes,
                    keys.pending,
                    *(keys.factor(sid) for sid in factors),
                    *(keys.challenge(sid) for sid in challenges),
                ],
                factors,
            )
            if existed != CHANGED:
                self._scripts.run(
                    self._client, "unindex_entity", [self._keys.entities(service_sid)], [identity]
                )
                # A factor created between the two scripts made the entity again (Twilio
                # creates an entity with its first factor): it is listed again, so it is
                # seen, and a service delete walking the list deletes it too.
                if self._client.exists(keys.entity):
                    self._index(service_sid, identity)
                return bool(existed)
        raise MfaConcurrentRequests

    @fail_closed
    def delete_entity(self, service_sid: str, identity: str) -> bool:
        return self._delete_entity(service_sid, identity)

    @fail_closed
    def delete_service_entities(self, service_sid: str) -> int:
        """Walk the service's entity list until it is empty (an entity made again by a factor
        create racing its delete is listed again, and deleted on a later pass), at most
        MAX_SERVICE_PASSES batches (docs/mfa.md, "Deletes": the residual)."""
        index = self._keys.entities(service_sid)
        count = 0
        for _ in range(MAX_SERVICE_PASSES):
            batch: list[bytes] = self._client.zrange(index, 0, 99)  # type: ignore[assignment]
            if not batch:
                break
            for identity in batch:
                count += self._delete_entity(service_sid, identity.decode())
        else:
            log.warning("service %s: entities still listed after its delete", service_sid)
        self._client.delete(self._keys.entity_counter(service_sid))
        return count

    # -- factors -------------------------------------------------------------------------

    @fail_closed
    def create_factor(self, factor: Factor, entity: Entity, max_factors: int) -> Factor | None:
        keys = self._keys.of(factor.service_sid, factor.identity)
        new_entity = entity_fields(entity)
        for _ in range(MAX_TRIES):
            listed = self._listed(keys.factors)
            reply = self._scripts.run(
                self._client,
                "create_factor",
                [
                    keys.entity,
                    keys.factor(factor.sid),
                    keys.factors,
                    *(keys.factor(sid) for sid in listed),
                ],
                [
                    max_factors,
                    UNVERIFIED_FACTOR_TTL_MS,
                    len(new_entity),
                    *new_entity,
                    len(listed),
                    *listed,
                    *factor_fields(factor),
                ],
            )
            if reply[0] in (b"changed", "changed"):
                continue
            self._index(factor.service_sid, factor.identity)
            if reply[0] in (b"full", "full"):
                return None
            return decode_factor(reply[1])
        raise MfaConcurrentRequests

    @fail_closed
    def get_factor(self, service_sid: str, identity: str, factor_sid: str) -> Factor | None:
        return decode_factor(
            self._client.hgetall(self._keys.of(service_sid, identity).factor(factor_sid))
        )

    @fail_closed
    def get_service_factor(
        self, service_sid: str, identity: str, factor_sid: str
    ) -> tuple[bool, Factor | None]:
        """The service's existence (`EXISTS`: none of its settings is decoded) and the
        factor, pipelined: one round trip (two slots in a cluster: redis-py splits it)."""
        pipe = self._client.pipeline(transaction=False)
        pipe.exists(self._services.service(service_sid))
        pipe.hgetall(self._keys.of(service_sid, identity).factor(factor_sid))
        exists, raw = pipe.execute()
        return bool(exists), decode_factor(raw)

    @fail_closed
    def list_factors(self, service_sid: str, identity: str) -> list[Factor]:
        keys = self._keys.of(service_sid, identity)
        sids: list[bytes] = self._client.zrange(keys.factors, 0, -1)  # type: ignore[assignment]
        pipe = self._client.pipeline(transaction=False)
        for sid in sids:
            pipe.hgetall(keys.factor(sid.decode()))
        factors = [decode_factor(raw) for raw in pipe.execute()]
        return [f for f in factors if f is not None]

    @fail_closed
    def update_factor(
        self,
        service_sid: str,
        identity: str,
        factor_sid: str,
        changes: dict[str, Any],
        expected_version: int,
        now_ms: int,
    ) -> AnswerResult:
        flat: list[ScriptArg] = []
        for name, value in changes.items():
            flat += [name, value if isinstance(value, str | bytes | int) else json.dumps(value)]
        reply = self._scripts.run(
            self._client,
            "update_factor",
            [self._keys.of(service_sid, identity).factor(factor_sid)],
            [expected_version, now_ms, *flat],
        )
        return _result(reply, decode_factor)

    @fail_closed
    def delete_factor(self, service_sid: str, identity: str, factor_sid: str) -> bool:
        keys = self._keys.of(service_sid, identity)
        existed = self._scripts.run(
            self._client,
            "delete_factor",
            [keys.factor(factor_sid), keys.factors, keys.pending],
            [factor_sid],
        )
        return bool(existed)

    @fail_closed
    def verify_factor(
        self, service_sid: str, identity: str, factor_sid: str, evaluation: Evaluation
    ) -> AnswerResult:
        keys = self._keys.of(service_sid, identity)
        reply = self._durable(
            "verify_factor",
            [keys.factor(factor_sid), keys.wrong_codes],
            _evaluation_args(evaluation),
        )
        return _result(reply, decode_factor)

    # -- challenges ----------------------------------------------------------------------

    @fail_closed
    def create_challenge(
        self, challenge: Challenge, evaluation: Evaluation | None, retention_ms: int
    ) -> AnswerResult:
        keys = self._keys.of(challenge.service_sid, challenge.identity)
        now_ms = challenge.created_ms
        evaluated: list[ScriptArg] = (
            [
                "",
                "",
                MAX_WRONG_CODES,
                WRONG_CODE_WINDOW_MS,
                MAX_ENTITY_WRONG_CODES,
                ENTITY_WRONG_CODE_WINDOW_MS,
            ]
            if evaluation is None
            else _evaluation_args(evaluation)[1:]
        )
        ttl_ms = max(1, challenge.expires_ms + retention_ms - now_ms)
        # Every challenge created before this has expired and left its retention: a
        # challenge lives at most the longest expiration plus the retention.
        prune_before = now_ms - MAX_CHALLENGE_TTL_MS - retention_ms
        reply = self._durable(
            "create_challenge",
            [
                keys.factor(challenge.factor_sid),
                keys.challenge(challenge.sid),
                keys.challenges,
                keys.wrong_codes,
                keys.pending,
            ],
            [
                now_ms,
                *evaluated,
                ttl_ms,
                prune_before,
                challenge.sid,
                MAX_PENDING_CHALLENGES,
                challenge.expires_ms,
                MAX_LISTED_CHALLENGES,
                *challenge_fields(challenge),
            ],
            audited=True,
        )
        return _result(reply, decode_challenge)

    @fail_closed
    def answer_challenge(
        self,
        service_sid: str,
        identity: str,
        challenge_sid: str,
        factor_sid: str,
        evaluation: Evaluation,
        metadata: dict[str, Any] | None,
    ) -> AnswerResult:
        keys = self._keys.of(service_sid, identity)
        factor_key = keys.factor(factor_sid)
        reply = self._durable(
            "answer_challenge",
            [keys.challenge(challenge_sid), factor_key, keys.wrong_codes, keys.pending],
            [
                *_evaluation_args(evaluation),
                "" if metadata is None else json.dumps(metadata, separators=(",", ":")),
            ],
            audited=True,
        )
        return _result(reply, decode_challenge)

    @fail_closed
    def get_challenge(
        self, service_sid: str, identity: str, challenge_sid: str
    ) -> Challenge | None:
        keys = self._keys.of(service_sid, identity)
        # One round trip: the challenge and the entity's factor list (at most 20 sids). A
        # challenge of a deleted factor is gone with it (delete_factor.lua takes the factor
        # off the list); a passkey challenge for any passkey of the identity names none.
        pipe = self._client.pipeline(transaction=False)
        pipe.hgetall(keys.challenge(challenge_sid))
        pipe.zrange(keys.factors, 0, -1)
        raw, listed = pipe.execute()
        challenge = decode_challenge(raw)
        if challenge is None:
            return None
        if challenge.factor_sid and challenge.factor_sid.encode() not in set(listed):
            return None
        return challenge

    @fail_closed
    def list_challenges(
        self,
        service_sid: str,
        identity: str,
        query: ChallengeQuery,
        now_ms: int,
        offset: int,
        limit: int,
    ) -> tuple[list[Challenge], bool]:
        """The entity's challenges are few (its list keeps its newest MAX_LISTED_CHALLENGES,
        create_challenge.lua), so the filter and the order are applied here, on all of them."""
        keys = self._keys.of(service_sid, identity)
        sids: list[bytes] = self._client.zrange(  # type: ignore[assignment]
            keys.challenges, 0, -1, desc=query.order is ListOrder.DESC
        )
        pipe = self._client.pipeline(transaction=False)
        for sid in sids:
            pipe.hgetall(keys.challenge(sid.decode()))
        stored = [c for raw in pipe.execute() if (c := decode_challenge(raw)) is not None]
        # A challenge of a deleted factor is gone with it (delete_factor.lua).
        factor_sids = sorted({c.factor_sid for c in stored if c.factor_sid})
        pipe = self._client.pipeline(transaction=False)
        for factor_sid in factor_sids:
            pipe.exists(keys.factor(factor_sid))
        present = {sid for sid, exists in zip(factor_sids, pipe.execute(), strict=True) if exists}
        found = [
            c
            for c in stored
            if (not c.factor_sid or c.factor_sid in present)
            and (query.factor_sid is None or c.factor_sid == query.factor_sid)
            and (query.status is None or c.status_at(now_ms) is query.status)
        ]
        return found[offset : offset + limit], len(found) > offset + limit
