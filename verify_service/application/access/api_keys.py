"""API keys: `SK` sids with a secret shown once, each acting for the account with one role.

A request authenticates with HTTP Basic `SK…:secret`, exactly as the Twilio helper libraries
send it (`Client(key_sid, key_secret, account_sid=AC…)`). The store holds only
`HMAC-SHA256(k_api[kid], P)` with `P = SHA-256(sid ‖ 0x00 ‖ secret)`, the ring key id `kid`,
and P wrapped under that key, so a rotation can re-MAC P under a new key without the secret
(docs/key-rotation.md). The secret is 256 random bits, so there is nothing to brute-force and
a slow hash (argon2) would only add latency to every request.
Revocation deletes the key, and nothing caches keys outside Redis, so the next request made
with a revoked key is refused.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections import Counter
from dataclasses import dataclass

from verify_service.application.access.access import ROLES, Principal
from verify_service.application.access.ports import ApiKeyRecord, ApiKeyStore
from verify_service.application.audit.ports import AuditEntry, AuditLog
from verify_service.application.ports import Clock
from verify_service.application.secrets.ports import Progress, ResealCount
from verify_service.domain import sids
from verify_service.domain.errors import InvalidParameter, NotFound, StoreUnavailable
from verify_service.domain.keyring import LEGACY_KEY_ID, Keyring

log = logging.getLogger(__name__)

SID_PREFIX = "SK"
SECRET_BYTES = 32
MAX_FRIENDLY_NAME = 64
# Compared against when no key has the sid, so an unknown sid costs what a wrong secret does.
_NO_DIGEST = bytes(32)
_WRAP_PURPOSE = "api-key-proof"


def _secret_fields(keyring: Keyring, sid: str, proof: bytes) -> tuple[str, bytes, bytes]:
    """(key id, digest, wrapped proof) of a key under the ring's primary."""
    key_id = keyring.primary_id
    return (
        key_id,
        keyring.primary_api_key_mac(proof),
        keyring.wrap(key_id, _WRAP_PURPOSE, sid, proof),
    )


@dataclass(frozen=True, slots=True)
class ApiKey:
    """What may be shown of a key: never its secret, nor the digest of it."""

    sid: str
    friendly_name: str | None
    role: str
    created_ms: int
    updated_ms: int


@dataclass(frozen=True, slots=True)
class CreatedApiKey:
    """A new key and its secret: the one time the secret exists outside its holder."""

    key: ApiKey
    secret: str


def _shown(record: ApiKeyRecord) -> ApiKey:
    return ApiKey(
        record.sid, record.friendly_name, record.role, record.created_ms, record.updated_ms
    )


class ApiKeys:
    """Create, list, fetch and revoke keys; each change is audited when a log is given."""

    def __init__(
        self, store: ApiKeyStore, keyring: Keyring, clock: Clock, audit: AuditLog | None = None
    ) -> None:
        self._store = store
        self._keyring = keyring
        self._clock = clock
        self._audit = audit

    def audited(self, audit: AuditLog) -> ApiKeys:
        """The same keys, appending an entry per change to `audit` (for callers no audit
        hook covers, such as the CLI)."""
        return ApiKeys(self._store, self._keyring, self._clock, audit)

    def create(self, friendly_name: str | None, role: str, actor: Principal) -> CreatedApiKey:
        if role not in ROLES:
            raise InvalidParameter("Role", f"one of {', '.join(ROLES)}")
        if friendly_name is not None and len(friendly_name) > MAX_FRIENDLY_NAME:
            raise InvalidParameter("FriendlyName", f"at most {MAX_FRIENDLY_NAME} characters")
        sid = sids.new_sid(SID_PREFIX)
        secret = secrets.token_urlsafe(SECRET_BYTES)  # 43 characters, no ':' (Basic-safe)
        now = self._clock.now_ms()
        key_id, digest, wrapped = _secret_fields(
            self._keyring, sid, self._keyring.api_key_proof(sid, secret)
        )
        record = ApiKeyRecord(
            sid=sid,
            friendly_name=friendly_name or None,
            role=role,
            secret_digest=digest,
            created_ms=now,
            updated_ms=now,
            key_id=key_id,
            wrapped_proof=wrapped,
        )
        self._store.create(record)
        log.info("api key %s created with role %s by %s", sid, role, actor.credential_sid)
        self._record(actor, "keys.create", sid, "ok", now)
        return CreatedApiKey(_shown(record), secret)

    def list(self, page: int, page_size: int) -> tuple[list[ApiKey], bool]:
        records, more = self._store.list(page * page_size, page_size)
        return [_shown(record) for record in records], more

    def fetch(self, sid: str) -> ApiKey:
        record = self._store.get(sid) if sids.is_sid(sid, SID_PREFIX) else None
        if record is None:
            raise NotFound
        return _shown(record)

    def revoke(self, sid: str, actor: Principal) -> None:
        """Delete the key: the next request made with it is refused (401)."""
        now = self._clock.now_ms()
        well_formed = sids.is_sid(sid, SID_PREFIX)
        if not (well_formed and self._store.revoke(sid)):
            # A malformed path segment is not echoed (it could be a pasted secret).
            target = sid if well_formed else "(malformed)"
            self._record(actor, "keys.revoke", target, "not_found", now)
            raise NotFound
        log.warning("api key %s revoked by %s", sid, actor.credential_sid)
        self._record(actor, "keys.revoke", sid, "ok", now)

    # -- rotation (`Resealable`) ---------------------------------------------------------

    kind = "api keys"

    def key_ids(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for sid in self._store.sids():
            record = self._store.get(sid)
            if record is not None:
                counts[record.key_id or LEGACY_KEY_ID] += 1
        return counts

    def reseal(self, progress: Progress, _now_ms: int) -> ResealCount:
        """Re-MAC each key's proof under the primary. A key from before key ids holds no
        proof: it is upgraded the next time it is used (`ApiKeyCredentials`), until then it
        counts as unreadable."""
        count = ResealCount(self.kind)
        for sid in self._store.sids():
            record = self._store.get(sid)
            count.looked_at += 1
            progress(self.kind, count.looked_at)
            if record is None:
                continue  # revoked meanwhile
            if record.key_id == self._keyring.primary_id:
                count.already_primary += 1
                continue
            proof = (
                None
                if record.key_id is None or record.wrapped_proof is None
                else self._keyring.unwrap(record.key_id, _WRAP_PURPOSE, sid, record.wrapped_proof)
            )
            if (
                proof is None
                or self._keyring.api_key_mac(record.key_id or "", proof) != record.secret_digest
            ):
                count.unreadable += 1
                continue
            key_id, digest, wrapped = _secret_fields(self._keyring, sid, proof)
            if self._store.replace_digest(sid, record.secret_digest, key_id, digest, wrapped):
                count.resealed += 1
            else:
                count.raced += 1
        if count.unreadable:
            count.notes.append(
                "keys from before key ids are re-MAC'd when next used; others need their key"
            )
        return count

    def _record(self, actor: Principal, action: str, target: str, outcome: str, now: int) -> None:
        if self._audit is not None:
            self._audit.append(
                AuditEntry(
                    actor=actor.credential_sid,
                    role=actor.role,
                    action=action,
                    target=target,
                    outcome=outcome,
                    time_ms=now,
                )
            )


class ApiKeyCredentials:
    """`CredentialVerifier` for `SK…:secret`. Only a well-formed `SK` user name costs a Redis
    read (one `HGETALL`); a Redis failure raises StoreUnavailable (503), never a 401."""

    def __init__(self, store: ApiKeyStore, keyring: Keyring, account_sid: str) -> None:
        self._store = store
        self._keyring = keyring
        self._account_sid = account_sid

    def verify(self, username: str, password: str) -> Principal | None:
        if not sids.is_sid(username, SID_PREFIX):
            return None
        record = self._store.get(username)
        proof = self._keyring.api_key_proof(username, password)
        expected, presented = _NO_DIGEST, self._keyring.primary_api_key_mac(proof)
        if record is not None and record.key_id is None:
            # From before key ids: HMAC(k_api[k0], sid 0x00 secret), while k0 is on the ring.
            if self._keyring.keys(LEGACY_KEY_ID) is not None:
                expected = record.secret_digest
                presented = self._keyring.api_key_digest(username, password)
        elif record is not None:
            # A key id not on this ring (a key made after a rotation this process has not
            # seen, or one whose key was dropped): no digest matches, a 401.
            mac = self._keyring.api_key_mac(record.key_id, proof)
            if mac is not None:
                expected, presented = record.secret_digest, mac
        if not hmac.compare_digest(presented, expected) or record is None:
            return None
        if expected is _NO_DIGEST:
            return None
        if record.key_id is None:
            # Upgrade to today's form while the secret is at hand (compare-and-set; a lost
            # race or an outage here does not refuse the request).
            key_id, digest, wrapped = _secret_fields(self._keyring, record.sid, proof)
            try:
                self._store.replace_digest(
                    record.sid, record.secret_digest, key_id, digest, wrapped
                )
            except StoreUnavailable:
                log.warning("api key %s: upgrading its digest failed (Redis)", record.sid)
        # Responses name the account (`account_sid` is AC…), whichever credential was used.
        return Principal(self._account_sid, record.sid, record.role)
