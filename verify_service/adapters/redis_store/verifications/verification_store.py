"""Verifications in Redis: one small hash per (service, destination), changed by scripts."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import redis

from verify_service.adapters.destination_cipher import DestinationCipher
from verify_service.adapters.redis_store.attempts.attempt_history import (
    DEFAULT_RETENTION_MS,
    MAX_CHECK_EVENTS,
    RedisAttemptHistory,
    encode_ended_by,
)
from verify_service.adapters.redis_store.delivery.delivery_queue import RedisDeliveryQueue
from verify_service.adapters.redis_store.delivery.fallback_schedule import RedisFallbackSchedule
from verify_service.adapters.redis_store.errors import fail_closed
from verify_service.adapters.redis_store.events.expiry_schedule import RedisExpirySchedule
from verify_service.adapters.redis_store.keys import KeySpace
from verify_service.adapters.redis_store.protection.fraud_guard_store import (
    RedisFraudGuardStore,
    decode_trip,
)
from verify_service.adapters.redis_store.protection.rate_limit_store import decode_rate_limits
from verify_service.adapters.redis_store.protection.rate_limiter import LimitsRateLimiter
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.adapters.redis_store.services.service_store import decode_service
from verify_service.application.events.ports import ExpiryWatch
from verify_service.application.protection.ports import TallyHit, WindowLimit
from verify_service.application.verifications.ports import (
    DestinationLock,
    PendingSnapshot,
    ProtectionSettings,
    Reservation,
    ReserveResult,
    StartContext,
    StartOutcome,
    StartProbe,
    StartResult,
    StartWrite,
    TallyCorrection,
    VerificationRef,
)
from verify_service.domain.delivery.delivery import DeliveryJob
from verify_service.domain.errors import StoreUnavailable
from verify_service.domain.models import (
    MAX_CHECKS_PER_VERIFICATION,
    MAX_SENDS_PER_VERIFICATION,
    Channel,
    EndedBy,
    SendAttempt,
    Verification,
    VerificationStatus,
    live_status,
)
from verify_service.domain.protection.protection_settings import (
    DEFAULT_CHECKS_PER_DESTINATION_PER_HOUR,
    DEFAULT_FRAUD_GUARD_WINDOW_SECONDS,
    FraudGuardMode,
)
from verify_service.domain.service import Service

log = logging.getLogger(__name__)

# Hash fields (short names keep a pending verification small; see docs/performance.md):
# sid, to (sealed), ch channel, ca/ua created/updated ms, ex expiry ms, n sends, c checks,
# salt, h1..h5 code digests, a1..a5 "ms|channel|VL sid", am/pa PSD2 terms, lo locale, tg tags
# (sealed like `to`, bound to the VE sid; a JSON object in clear when written before),
# cc the checks carried from a canceled verification (counted in c from the start).


def _pending(
    fields: list[bytes | None], now_ms: int, cipher: DestinationCipher, context: bytes
) -> PendingSnapshot | None:
    sid, salt, expires, sends, checks, amount, payee, locale, to = fields
    if sid is None or salt is None or expires is None or int(expires) <= now_ms:
        return None
    return PendingSnapshot(
        sid=sid.decode(),
        salt=salt,
        sends=int(sends or 0),
        checks=int(checks or 0),
        expires_ms=int(expires),
        amount=amount.decode() if amount else None,
        payee=payee.decode() if payee else None,
        locale=locale.decode() if locale else None,
        to=cipher.open(to, context) if to else None,
    )


def _lock(value: bytes | None, now_ms: int) -> DestinationLock | None:
    """The destination's lock, while it lasts: the record a cancel left ("expiry ms|VE sid|
    checks used"; an older "expiry ms|VE sid" had them all used) with all its checks used.
    Fewer only carry over into the next verification (start_or_resend.lua): no lock."""
    if value is None:
        return None
    expires, sid, checks = ([*value.decode("ascii").split("|"), ""])[:3]
    used = int(checks) if checks else MAX_CHECKS_PER_VERIFICATION
    if int(expires) <= now_ms or used < MAX_CHECKS_PER_VERIFICATION:
        return None
    return DestinationLock(sid, int(expires))


_PROTECTION_FIELDS = (
    "checks_per_destination_per_hour",
    "fraud_guard_mode",
    "fraud_guard_window_seconds",
    "test_destinations",
)


def _protection_settings(values: list[bytes | None]) -> ProtectionSettings:
    """From an HMGET of `_PROTECTION_FIELDS` (JSON values; a missing one is its default)."""
    checks, mode, window, tests = (json.loads(v) if v is not None else None for v in values)
    return ProtectionSettings(
        checks_per_destination_per_hour=(
            DEFAULT_CHECKS_PER_DESTINATION_PER_HOUR if checks is None else int(checks)
        ),
        fraud_guard_mode=FraudGuardMode.BLOCK.value if mode is None else str(mode),
        fraud_guard_window_seconds=(
            DEFAULT_FRAUD_GUARD_WINDOW_SECONDS if window is None else int(window)
        ),
        test_destinations=tuple(str(pair[0]) for pair in tests or ()),
    )


# Decoded services and rate limits by their stored bytes: a start reads both every time, and
# decoding the service's ~50 JSON fields was the largest Python cost of a start after argon2
# (docs/performance.md). Keyed by the exact bytes read, so a changed service is decoded
# afresh; the values are immutable. Bounded: cleared when it holds more than this.
_DECODED_MAX = 256
_decoded: dict[tuple[str, tuple[tuple[bytes, bytes], ...]], Any] = {}


def _decoded_once(kind: str, raw: dict[bytes, bytes], decode: Any) -> Any:
    key = (kind, tuple(raw.items()))
    found = _decoded.get(key)
    if found is None:
        if len(_decoded) >= _DECODED_MAX:
            _decoded.clear()
        found = _decoded[key] = decode()
    return found


def _pairs(flat: list[bytes]) -> dict[str, bytes]:
    return {flat[i].decode(): flat[i + 1] for i in range(0, len(flat), 2)}


def _text(fields: dict[str, bytes], name: str) -> str | None:
    value = fields.get(name)
    return value.decode("utf-8") if value is not None else None


def tags_context(verification_sid: str) -> bytes:
    """The associated data a verification's tags are sealed with."""
    return f"tags:{verification_sid}".encode("ascii")


class RedisVerificationStore:
    def __init__(
        self,
        client: redis.Redis,
        scripts: ScriptBook,
        keys: KeySpace,
        cipher: DestinationCipher,
        outbox: RedisDeliveryQueue,
        fallbacks: RedisFallbackSchedule | None = None,
        fraud_guard: RedisFraudGuardStore | None = None,
        history: RedisAttemptHistory | None = None,
        limiter: LimitsRateLimiter | None = None,
        expiries: RedisExpirySchedule | None = None,
    ) -> None:
        self._expiries = expiries
        self._client = client
        self._limiter = limiter
        self._attempts = history.records if history else None
        self._history_ttl_ms = history.retention_ms if history else DEFAULT_RETENTION_MS
        self._fraud_guard = fraud_guard
        self._fallbacks = fallbacks
        self._scripts = scripts
        self._keys = keys
        self._cipher = cipher
        self._outbox = outbox

    # -- decoding -----------------------------------------------------------------------

    def _context(self, ref: VerificationRef) -> bytes:
        return f"{ref.service_sid}:{ref.tag}".encode("ascii")

    def _tags(self, fields: dict[str, bytes]) -> str | None:
        """The start's tags: unsealed (None when under a key no longer on the ring, as its
        `to` then is too), or the JSON object a hash from before sealing holds in clear."""
        sealed = fields.get("tg")
        if not sealed:
            return None
        if sealed.startswith(b"{"):  # a sealed value starts with its key id, never "{"
            return sealed.decode("utf-8")
        return self._cipher.open(sealed, tags_context(fields["sid"].decode()))

    def _decode(
        self,
        ref: VerificationRef,
        fields: dict[str, bytes],
        status: VerificationStatus | None,
        to: str | None = None,
    ) -> Verification | None:
        """The verification, or None when its destination cannot be unsealed: it was
        stored under a previous VERIFY_SECRET_KEY, and none of its codes can match now."""
        to = to or self._cipher.open(fields["to"], self._context(ref))
        if to is None:
            return None
        sends = int(fields["n"])
        attempts = []
        for index in range(1, sends + 1):
            time_ms, channel, attempt_sid = fields[f"a{index}"].decode().split("|")
            attempts.append(SendAttempt(attempt_sid, Channel(channel), int(time_ms)))
        checks = int(fields["c"])
        return Verification(
            sid=fields["sid"].decode(),
            service_sid=ref.service_sid,
            to=to,
            channel=Channel(fields["ch"].decode()),
            created_ms=int(fields["ca"]),
            updated_ms=int(fields["ua"]),
            expires_ms=int(fields["ex"]),
            send_attempts=tuple(attempts),
            check_count=checks,
            carried_checks=int(fields.get("cc", 0)),
            amount=_text(fields, "am"),
            payee=_text(fields, "pa"),
            locale=_text(fields, "lo"),
            status=status or live_status(checks),
            tags=self._tags(fields),
        )

    # -- start --------------------------------------------------------------------------

    @fail_closed
    def prepare_start(
        self, ref: VerificationRef, now_ms: int
    ) -> tuple[Service | None, PendingSnapshot | None]:
        context = self.prepare_protected_start(ref, now_ms, StartProbe())
        return context.service, context.pending

    @fail_closed
    def prepare_protected_start(
        self, ref: VerificationRef, now_ms: int, probe: StartProbe
    ) -> StartContext:
        """One round trip: the service, its rate limits, the pending verification, and what
        `probe` asks for (safe-list membership, the prefix's Fraud Guard record)."""
        limiter = self._limiter if probe.limits or probe.tally is not None else None
        finish: Any = None

        def build(pipe: Any) -> None:
            nonlocal finish
            pipe.hgetall(self._keys.service(ref.service_sid))
            pipe.hgetall(self._keys.rate_limits(ref.service_sid))
            pipe.hmget(
                self._keys.verification(ref), "sid", "salt", "ex", "n", "c", "am", "pa", "lo", "to"
            )
            pipe.get(self._keys.lock(ref))
            if probe.safe_list_field is not None:
                fields = [probe.safe_list_field, *probe.safe_list_others]
                pipe.hmget(self._keys.safe_list(), fields)
            if probe.prefix is not None and self._fraud_guard is not None:
                self._fraud_guard.queue_block_read(pipe, ref.service_sid, probe.prefix)
            if limiter is not None:
                finish = limiter.queue(pipe, probe.limits, [], now_ms, probe.tally)

        replies = self._scripts.run_pipeline(self._client, build)
        raw_service, raw_limits, pending_fields, lock = replies[:4]
        rest = iter(replies[4:])
        safe_listed = (
            any(value is not None for value in next(rest))
            if probe.safe_list_field is not None
            else False
        )
        block = (
            decode_trip(next(rest))
            if probe.prefix is not None and self._fraud_guard is not None
            else None
        )
        counted = finish(rest) if finish is not None else None
        service = (
            _decoded_once("service", raw_service, lambda: decode_service(raw_service))
            if raw_service
            else None
        )
        rate_limits = (
            _decoded_once(
                ref.service_sid, raw_limits, lambda: decode_rate_limits(ref.service_sid, raw_limits)
            )
            if service
            else ()
        )
        return StartContext(
            service=service,
            pending=_pending(pending_fields, now_ms, self._cipher, self._context(ref)),
            rate_limits=rate_limits,
            safe_listed=safe_listed,
            block=block,
            lock=_lock(lock, now_ms),
            counted=counted,
            counted_ms=now_ms,
        )

    @fail_closed
    def start_or_resend(
        self,
        write: StartWrite,
        delivery: DeliveryJob | None,
        correction: TallyCorrection | None = None,
    ) -> StartOutcome:
        sha = self._scripts.sha("start_or_resend")
        key = self._keys.verification(write.ref)
        args: list[Any] = [
            write.now_ms,
            write.sid,
            "1" if write.is_new else "0",
            write.ttl_ms,
            MAX_SENDS_PER_VERIFICATION,
            MAX_CHECKS_PER_VERIFICATION,
            write.channel.value,
            write.attempt_sid,
            write.code_digest,
            write.salt,
            self._cipher.seal(write.to, self._context(write.ref)),
            write.amount or "",
            write.payee or "",
            write.locale or "",
            self._cipher.seal(write.tags_json, tags_context(write.sid)) if write.tags_json else "",
        ]

        def build(pipe: Any) -> None:
            pipe.evalsha(sha, 2, key, self._keys.lock(write.ref), *args)
            if delivery is not None:
                self._outbox.queue_commands(pipe, delivery)
                if self._attempts is not None:
                    # The attempt history's record, which holds its delivery status.
                    self._attempts.queue_creation(
                        pipe,
                        write.attempt_sid,
                        write.ref.service_sid,
                        write.sid,
                        write.channel.value,
                        write.to,
                        write.country,
                        write.now_ms,
                    )
            if correction is not None and self._fraud_guard is not None:
                self._fraud_guard.queue_correction(pipe, correction.tally, correction.counted_ms)
            if watch is not None and self._expiries is not None:
                # In this round trip, not the next: metrics cost no extra one per start.
                self._expiries.queue_watch(pipe, watch)

        watch = write.expiry if write.is_new else None
        if watch is not None and self._expiries is not None:
            watch = self._expiries.seal(watch)  # its tags, sealed once: queued and forgotten alike
        reply = self._scripts.run_pipeline(self._client, build)[0]
        result = StartResult(reply[0].decode())
        if watch is not None and result is not StartResult.CREATED:
            self._forget_watch(write, watch)
        if result in (StartResult.CREATED, StartResult.RESENT):
            fields = _pairs(reply[1])
            self._schedule_fallback(write, int(fields["ex"]))
            return StartOutcome(result, self._decode(write.ref, fields, None, to=write.to))
        retry_after_ms = int(reply[1]) if len(reply) > 1 else 0
        return StartOutcome(result, retry_after_ms=retry_after_ms)

    def _forget_watch(self, write: StartWrite, watch: ExpiryWatch) -> None:
        """The script refused the create (a concurrent start, a lock): its watch would
        count an expiry that never was (at due time it looks like a lapsed verification),
        so it goes, in one more round trip on this refusal path only. Lost when Redis fails
        in between: then one spurious expiry is counted (docs/operations.md)."""
        if self._expiries is None:
            return
        try:
            self._expiries.forget(watch)
        except StoreUnavailable:
            log.warning("verification %s: refused create's expiry watch left", write.sid)

    def _schedule_fallback(self, write: StartWrite, expires_ms: int) -> None:
        """The send was accepted: schedule the step that follows it (one more round trip,
        on fallback services only; a refused start schedules nothing). Lost, not retried,
        when Redis fails in between, like a step taken by a worker that dies."""
        if write.fallback is None or self._fallbacks is None:
            return
        try:
            self._fallbacks.schedule(
                write.ref.service_sid,
                write.sid,
                write.fallback.step,
                write.attempt_sid,
                write.fallback.due_ms,
                expires_ms,
                write.now_ms,
            )
        except StoreUnavailable:
            log.warning(
                "verification %s: fallback step not scheduled (store unavailable)", write.sid
            )

    # -- check --------------------------------------------------------------------------

    @fail_closed
    def reserve_check(
        self,
        ref: VerificationRef,
        expected_sid: str | None,
        now_ms: int,
        psd2_given: bool,
        window: WindowLimit | None = None,
        *,
        psd2_terms_sent: bool = False,
    ) -> Reservation:
        limiter = self._limiter
        if window is not None and (limiter is None or not limiter.can_queue(window)):
            window = None
        sha = self._scripts.sha("reserve_check_attempt")
        key = self._keys.verification(ref)
        args: list[Any] = [
            now_ms,
            expected_sid or "",
            MAX_CHECKS_PER_VERIFICATION,
            "1" if psd2_given else "0",
            self._history_ttl_ms,
            MAX_CHECK_EVENTS,
            "1" if psd2_terms_sent else "0",
        ]
        history = self._keys.verification_history(ref)

        def build(pipe: Any) -> None:
            pipe.exists(self._keys.service(ref.service_sid))
            pipe.hmget(self._keys.service(ref.service_sid), *_PROTECTION_FIELDS)
            pipe.evalsha(sha, 3, key, history, self._keys.lock(ref), *args)
            if window is not None and limiter is not None:
                limiter.queue_hit(pipe, window, now_ms)

        # durability: an attempt reservation waits for replicas (docs/durability.md)
        exists, settings, reply, *rest = self._scripts.run_pipeline(
            self._client, build, durable=True
        )
        counted = (
            limiter.queued_outcome(window, rest[0], now_ms)
            if window is not None and limiter is not None
            else None
        )
        result = ReserveResult(reply[0].decode())
        if result is not ReserveResult.RESERVED:
            retry_after_ms = int(reply[1]) if len(reply) > 1 else 0
            return Reservation(result, bool(exists), retry_after_ms=retry_after_ms, window=counted)
        fields = _pairs(reply[1])
        verification = self._decode(ref, fields, None)
        if verification is None:
            return Reservation(ReserveResult.MISSING, bool(exists), window=counted)
        digests = tuple(fields[f"h{i}"] for i in range(1, int(fields["n"]) + 1))
        return Reservation(
            result,
            bool(exists),
            verification=verification,
            salt=fields["salt"],
            code_digests=digests,
            settings=_protection_settings(settings),
            window=counted,
        )

    @fail_closed
    def protection_settings(self, service_sid: str) -> ProtectionSettings:
        values = self._client.hmget(self._keys.service(service_sid), *_PROTECTION_FIELDS)
        return _protection_settings(values)  # type: ignore[arg-type]

    # -- end ----------------------------------------------------------------------------

    def _end(
        self,
        ref: VerificationRef,
        sid: str,
        now_ms: int,
        outcome: VerificationStatus,
        by_check: bool = False,
        ended_by: EndedBy | None = None,
        tally: TallyHit | None = None,
    ) -> Verification | None:
        sha = self._scripts.sha("end_verification")
        if self._fraud_guard is None:
            tally = None
        key = self._keys.verification(ref)
        history = self._keys.verification_history(ref)
        args = [now_ms, sid, outcome.value, "1" if by_check else "0", self._history_ttl_ms]
        args.append(MAX_CHECKS_PER_VERIFICATION)  # a cancel leaves the checks it used
        args.append(encode_ended_by(ended_by) if ended_by is not None else "")
        lock = self._keys.lock(ref)

        def build(pipe: Any) -> None:
            pipe.exists(self._keys.service(ref.service_sid))
            pipe.evalsha(sha, 3, key, history, lock, *args)
            if self._fallbacks is not None:
                self._fallbacks.unschedule_commands(pipe, ref.service_sid, sid)
            if tally is not None and self._fraud_guard is not None:
                self._fraud_guard.queue_tally(pipe, tally, now_ms, 1)

        durable = outcome is VerificationStatus.APPROVED  # durability: docs/durability.md
        exists, reply = self._scripts.run_pipeline(self._client, build, durable=durable)[:2]
        if not exists or reply[0] == b"missing":
            self._take_back_approval(tally, now_ms)
            return None
        ended = self._decode(ref, _pairs(reply[1]), outcome)
        return ended.with_status(outcome, now_ms) if ended is not None else None

    def _take_back_approval(self, tally: TallyHit | None, now_ms: int) -> None:
        """The verification had ended already (a concurrent right code): its approval was
        counted by that one. Losing this take-back only makes Fraud Guard more lenient for
        one approval, so a store error here is logged, not raised."""
        if tally is None or self._fraud_guard is None:
            return
        try:
            self._fraud_guard.take_back_approval(tally, now_ms)
        except StoreUnavailable:
            log.warning("fraud guard: an approval counted twice was not taken back")

    @fail_closed
    def approve(
        self,
        ref: VerificationRef,
        sid: str,
        now_ms: int,
        by_check: bool = False,
        ended_by: EndedBy | None = None,
        tally: TallyHit | None = None,
    ) -> Verification | None:
        return self._end(ref, sid, now_ms, VerificationStatus.APPROVED, by_check, ended_by, tally)

    @fail_closed
    def cancel(
        self, ref: VerificationRef, sid: str, now_ms: int, ended_by: EndedBy | None = None
    ) -> Verification | None:
        return self._end(ref, sid, now_ms, VerificationStatus.CANCELED, ended_by=ended_by)

    # -- delivery -----------------------------------------------------------------------

    @fail_closed
    def attempt_is_live(self, job: DeliveryJob, now_ms: int) -> bool:
        """The job's verification is still pending and still holds this attempt."""
        key = self._keys.verification(VerificationRef(job.service_sid, job.verification_tag))
        # Every attempt field: concurrent resends decide their positions in the script.
        attempt_fields = [f"a{i}" for i in range(1, MAX_SENDS_PER_VERIFICATION + 1)]
        values: Any = self._client.hmget(key, "sid", "ex", *attempt_fields)
        sid, expires, attempts = values[0], values[1], values[2:]
        suffix = f"|{job.attempt_sid}".encode("ascii")
        return (
            sid is not None
            and sid.decode() == job.verification_sid
            and expires is not None
            and int(expires) > now_ms
            and any(attempt is not None and attempt.endswith(suffix) for attempt in attempts)
        )

    # -- fetch --------------------------------------------------------------------------

    @fail_closed
    def fetch(
        self, ref: VerificationRef, sid: str, now_ms: int
    ) -> tuple[Service | None, Verification | None]:
        return self.fetch_many([(ref, sid)], now_ms)[0]

    @fail_closed
    def fetch_many(
        self, wanted: Sequence[tuple[VerificationRef, str]], now_ms: int
    ) -> list[tuple[Service | None, Verification | None]]:
        """`fetch` for each (ref, sid), in one round trip (each service read once)."""
        service_sids = list(dict.fromkeys(ref.service_sid for ref, _sid in wanted))
        pipe = self._client.pipeline(transaction=False)
        for service_sid in service_sids:
            pipe.hgetall(self._keys.service(service_sid))
        for ref, _sid in wanted:
            pipe.hgetall(self._keys.verification(ref))
        replies = pipe.execute()
        services = {
            service_sid: decode_service(raw)
            for service_sid, raw in zip(service_sids, replies, strict=False)
        }
        found: list[tuple[Service | None, Verification | None]] = []
        for (ref, sid), raw in zip(wanted, replies[len(service_sids) :], strict=True):
            service = services[ref.service_sid]
            fields = {k.decode(): v for k, v in raw.items()}
            if not fields or fields["sid"].decode() != sid or int(fields["ex"]) <= now_ms:
                found.append((service, None))
            else:
                found.append((service, self._decode(ref, fields, None)))
        return found
