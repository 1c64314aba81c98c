"""Passkey ceremonies and credentials in Redis (the `PasskeyStore` port).

Pending ceremonies and the credential index are service-wide look-ups under
`{mfa:<VA sid>}` (`MfaKeys.passkeys`): a browser's answer names no identity, only a challenge
(and, for a discoverable sign-in, a credential id). Factor and challenge changes run in the
entity's slot, one script each (`scripts/passkey_*.lua`); no script touches both slots.
"""

from __future__ import annotations

import hashlib
from typing import Any

import redis

from verify_service.adapters.redis_store.errors import fail_closed
from verify_service.adapters.redis_store.keys import MfaKeys
from verify_service.adapters.redis_store.mfa.records import (
    challenge_fields,
    decode_challenge,
    decode_factor,
    pairs,
)
from verify_service.adapters.redis_store.scripts import ScriptArg, ScriptBook
from verify_service.application.mfa.passkey_ports import (
    Approval,
    Ceremony,
    CeremonyKind,
    ClaimOutcome,
    OpenOutcome,
    StepOutcome,
)
from verify_service.domain.mfa.models import Challenge, Factor
from verify_service.domain.mfa.passkey_errors import PasskeyTooManyPending, PendingScope

# A ceremony stays in Redis this long past its `expires_ms`, so a caller whose clock is a
# little behind Redis's still reads it and says "expired" rather than "not found".
CEREMONY_GRACE_MS = 60_000


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _wait_ms(earliest_expiry: Any, now_ms: int) -> int:
    """Until the earliest open ceremony expires (a bound's Retry-After)."""
    return max(int(float(_text(earliest_expiry))) - now_ms, 0)


def _digest(credential_id: str) -> str:
    return hashlib.sha256(credential_id.encode("ascii")).hexdigest()


def _ceremony_fields(ceremony: Ceremony) -> list[str]:
    return [
        "kind", ceremony.kind.value,
        "sid", ceremony.sid,
        "service_sid", ceremony.service_sid,
        "identity", ceremony.identity,
        "created_ms", str(ceremony.created_ms),
        "expires_ms", str(ceremony.expires_ms),
        "rp_id", ceremony.rp_id,
        "user_verification", ceremony.user_verification,
        "factor_sid", ceremony.factor_sid,
    ]  # fmt: skip


def _decode_ceremony(raw: Any) -> Ceremony:
    fields = {name: value.decode("utf-8") for name, value in pairs(raw).items()}
    return Ceremony(
        kind=CeremonyKind(fields["kind"]),
        sid=fields["sid"],
        service_sid=fields["service_sid"],
        identity=fields["identity"],
        created_ms=int(fields["created_ms"]),
        expires_ms=int(fields["expires_ms"]),
        rp_id=fields["rp_id"],
        user_verification=fields["user_verification"],
        factor_sid=fields.get("factor_sid", ""),
    )


class RedisPasskeyStore:
    def __init__(self, client: redis.Redis, scripts: ScriptBook, keys: MfaKeys) -> None:
        self._redis = client
        self._scripts = scripts
        self._keys = keys

    def _run(self, name: str, keys: list[str], args: list[ScriptArg]) -> Any:
        return self._scripts.run(self._redis, name, keys, args)

    def _durable(self, name: str, keys: list[str], args: list[ScriptArg]) -> Any:
        """A script whose effect must survive a failover (a claimed ceremony must not come
        back as a replayable one; a verified factor, an approval, a sign count): run with the
        replica wait when one is configured (VERIFY_REDIS_WAIT_REPLICAS)."""
        sha = self._scripts.sha(name)

        def build(pipe: Any) -> None:
            pipe.evalsha(sha, len(keys), *keys, *args)

        return self._scripts.run_pipeline(self._redis, build, durable=True)[0]

    def _ceremony_key(self, service_sid: str, tag: str) -> str:
        return self._keys.passkeys(service_sid, f"ceremony:{tag}")

    def _credentials(self, service_sid: str) -> str:
        """The service's credential index: a hash, SHA-256 of the credential id (hex, as a
        credential id is up to 1023 bytes the authenticator chose) → "<identity> <YF>"."""
        return self._keys.passkeys(service_sid, "credentials")

    def _discoverable(self, service_sid: str) -> str:
        """The service's open discoverable ceremonies: a sorted set, tag by expires ms."""
        return self._keys.passkeys(service_sid, "discoverable")

    @fail_closed
    def open_ceremony(
        self, tag: str, ceremony: Ceremony, ttl_ms: int, most_discoverable: int
    ) -> OpenOutcome:
        keys = [self._ceremony_key(ceremony.service_sid, tag)]
        if not ceremony.identity:  # a discoverable sign-in: counted per service
            keys.append(self._discoverable(ceremony.service_sid))
        opened = self._run(
            "passkey_open_ceremony",
            keys,
            [
                str(ttl_ms + CEREMONY_GRACE_MS),
                tag,
                str(most_discoverable),
                str(ceremony.created_ms),
                str(ceremony.expires_ms),
                *_ceremony_fields(ceremony),
            ],
        )
        outcome = OpenOutcome(_text(opened[0]))
        if outcome is OpenOutcome.TOO_MANY:
            raise PasskeyTooManyPending(
                PendingScope.SERVICE, most_discoverable, _wait_ms(opened[1], ceremony.created_ms)
            )
        return outcome

    @fail_closed
    def claim_ceremony(
        self, service_sid: str, tag: str, kind: CeremonyKind, now_ms: int
    ) -> tuple[ClaimOutcome, Ceremony | None]:
        reply = self._durable(
            "passkey_claim_ceremony",
            [self._ceremony_key(service_sid, tag), self._discoverable(service_sid)],
            [str(now_ms), kind.value, tag],
        )
        outcome = ClaimOutcome(_text(reply[0]))
        if outcome is not ClaimOutcome.CLAIMED:
            return outcome, None
        return outcome, _decode_ceremony(reply[1])

    @fail_closed
    def verify_factor(
        self,
        service_sid: str,
        identity: str,
        factor_sid: str,
        passkey_fields: dict[str, str],
        metadata_json: str,
        now_ms: int,
    ) -> tuple[StepOutcome, Factor | None]:
        flat: list[ScriptArg] = [str(now_ms), metadata_json]
        for name, value in passkey_fields.items():
            flat += ["pk_" + name, value]
        reply = self._durable(
            "passkey_verify_factor",
            [self._keys.of(service_sid, identity).factor(factor_sid)],
            flat,
        )
        outcome = StepOutcome(_text(reply[0]))
        return outcome, decode_factor(reply[1]) if len(reply) > 1 else None

    @fail_closed
    def claim_credential(
        self,
        service_sid: str,
        credential_id: str,
        holder: tuple[str, str],
        previous: tuple[str, str] | None,
    ) -> bool:
        claimed = self._durable(
            "passkey_claim_credential",
            [self._credentials(service_sid)],
            [_digest(credential_id), " ".join(holder), " ".join(previous) if previous else ""],
        )
        return bool(claimed)

    @fail_closed
    def release_credential(
        self, service_sid: str, credential_id: str, holder: tuple[str, str]
    ) -> None:
        self._run(
            "passkey_release_credential",
            [self._credentials(service_sid)],
            [_digest(credential_id), " ".join(holder)],
        )

    @fail_closed
    def find_credential(self, service_sid: str, credential_id: str) -> tuple[str, str] | None:
        found = self._redis.hget(self._credentials(service_sid), _digest(credential_id))
        if found is None:
            return None
        identity, _, factor_sid = _text(found).partition(" ")
        return identity, factor_sid

    @fail_closed
    def create_challenge(
        self, challenge: Challenge, ttl_ms: int, prune_before_ms: int, most_pending: int
    ) -> Challenge | None:
        keys = self._keys.of(challenge.service_sid, challenge.identity)
        reply = self._run(
            "passkey_create_challenge",
            [keys.entity, keys.challenge(challenge.sid), keys.challenges, keys.passkey_pending],
            [
                str(challenge.created_ms),
                str(ttl_ms),
                str(prune_before_ms),
                challenge.sid,
                str(most_pending),
                str(challenge.expires_ms),
                str(challenge.expires_ms - challenge.created_ms + CEREMONY_GRACE_MS),
                *challenge_fields(challenge),
            ],
        )
        outcome = _text(reply[0])
        if outcome == "too_many":
            raise PasskeyTooManyPending(
                PendingScope.IDENTITY, most_pending, _wait_ms(reply[1], challenge.created_ms)
            )
        if outcome != "pending":
            return None
        return decode_challenge(reply[1])

    @fail_closed
    def approve_challenge(
        self,
        service_sid: str,
        identity: str,
        factor_sid: str,
        challenge_sid: str,
        approval: Approval,
        now_ms: int,
    ) -> tuple[StepOutcome, Challenge | None, Factor | None]:
        keys = self._keys.of(service_sid, identity)
        new = challenge_fields(approval.new_challenge) if approval.new_challenge else []
        reply = self._durable(
            "passkey_approve_challenge",
            [
                keys.factor(factor_sid),
                keys.challenge(challenge_sid),
                keys.challenges,
                keys.passkey_pending,
            ],
            [
                str(now_ms),
                approval.credential_id,
                str(approval.sign_count),
                approval.metadata_json,
                str(approval.challenge_ttl_ms),
                challenge_sid,
                *new,
            ],
        )
        outcome = StepOutcome(_text(reply[0]))
        if outcome is not StepOutcome.ACCEPTED:
            return outcome, None, None
        return outcome, decode_challenge(reply[1]), decode_factor(reply[2])

    @fail_closed
    def deny_challenge(
        self, service_sid: str, identity: str, challenge_sid: str, now_ms: int
    ) -> None:
        keys = self._keys.of(service_sid, identity)
        self._durable(
            "passkey_deny_challenge",
            [keys.challenge(challenge_sid), keys.passkey_pending],
            [str(now_ms), challenge_sid],
        )

    @fail_closed
    def delete_service(self, service_sid: str) -> None:
        """A deleted service's credential index and open discoverable ceremonies (its pending
        ceremonies expire within minutes, and a deleted service's are refused before they are
        claimed)."""
        self._redis.delete(self._credentials(service_sid), self._discoverable(service_sid))
