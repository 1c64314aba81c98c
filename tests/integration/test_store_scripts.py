"""RedisVerificationStore and its Lua scripts, driven directly against a real redis-server.

The store is built as `build_container` builds it; times go in as ARGV, so no test sleeps.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import redis

from verify_service.adapters.argon2_hasher import PROFILES, Argon2CodeHasher
from verify_service.adapters.redis_store.keys import KeySpace
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.adapters.redis_store.services.service_store import RedisServiceStore
from verify_service.adapters.redis_store.verifications.verification_store import (
    RedisVerificationStore,
)
from verify_service.app import build_container
from verify_service.application.verifications.ports import (
    ReserveResult,
    StartOutcome,
    StartResult,
    StartWrite,
    VerificationRef,
)
from verify_service.domain import sids
from verify_service.domain.delivery.delivery import DeliveryJob, RenderedMessage
from verify_service.domain.keyring import Keyring
from verify_service.domain.models import Channel, VerificationStatus
from verify_service.domain.service import Service
from verify_service.settings import Settings

NOW = 1_790_000_000_000
TTL_MS = 600_000
TO = "+14155552671"

REDIS_STORE_DIR = Path(str(resources.files("verify_service.adapters.redis_store")))
LUA_FILES = sorted(REDIS_STORE_DIR.glob("*/scripts/*.lua"))


class _QueueingStore:
    """The real store, queueing a delivery job beside each write as a start does."""

    def __init__(self, store: RedisVerificationStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def start_or_resend(self, write: StartWrite) -> StartOutcome:
        job = DeliveryJob(
            attempt_sid=write.attempt_sid,
            verification_sid=write.sid,
            service_sid=write.ref.service_sid,
            verification_tag=write.ref.tag,
            to=write.to,
            message=RenderedMessage(Channel.SMS, "en", "Your Acme verification code is: 123456"),
            enqueued_ms=write.now_ms,
        )
        return self._store.start_or_resend(write, job)


class Harness:
    """The verification store, a service to hold verifications, and code digests."""

    def __init__(self, settings: Settings, client: redis.Redis) -> None:
        keyring = Keyring.from_secret(settings.secret_key)
        self.client = client
        self.scripts = ScriptBook()
        self.keys = KeySpace(settings.key_prefix)
        self.store = _QueueingStore(
            build_container(settings, redis_client=client).verification_store
        )
        self.services = RedisServiceStore(client, self.scripts, self.keys)
        self.hasher = Argon2CodeHasher(keyring, PROFILES["otp-2m"])
        self.keyring = keyring
        self.service_sid = sids.new_sid("VA")
        self.services.create_service(
            Service(
                sid=self.service_sid, friendly_name="Acme", date_created_ms=NOW, date_updated_ms=NOW
            )
        )
        tag = keyring.destination_tag(self.service_sid, TO, sids.VERIFICATION_TAG_HEX_DIGITS)
        self.ref = VerificationRef(self.service_sid, tag)
        self.salt = self.hasher.new_salt()

    @property
    def key(self) -> str:
        return self.keys.verification(self.ref)

    def write(
        self,
        sid: str,
        *,
        is_new: bool,
        code: str = "123456",
        now_ms: int = NOW,
        amount: str | None = None,
        payee: str | None = None,
    ) -> StartWrite:
        return StartWrite(
            ref=self.ref,
            sid=sid,
            is_new=is_new,
            salt=self.salt,
            code_digest=self.hasher.digest(sid, code, self.salt),
            attempt_sid=sids.new_attempt_sid(self.service_sid, now_ms),
            channel=Channel.SMS,
            now_ms=now_ms,
            ttl_ms=TTL_MS,
            to=TO,
            amount=amount,
            payee=payee,
            locale=None,
            tags_json=None,
        )

    def create(self, code: str = "123456", **kwargs: Any) -> str:
        sid = sids.new_verification_sid(self.ref.tag)
        outcome = self.store.start_or_resend(self.write(sid, is_new=True, code=code, **kwargs))
        assert outcome.result is StartResult.CREATED
        return sid

    def raw(self) -> dict[bytes, bytes]:
        return self.client.hgetall(self.key)  # type: ignore[return-value]


@pytest.fixture
def harness(settings: Settings, redis_client: redis.Redis) -> Harness:
    return Harness(settings, redis_client)


# -- start_or_resend ------------------------------------------------------------------------


def test_create_stores_a_pending_verification(harness: Harness) -> None:
    """A new verification: one send, no checks, ends after its TTL."""
    sid = sids.new_verification_sid(harness.ref.tag)
    outcome = harness.store.start_or_resend(harness.write(sid, is_new=True))
    assert outcome.result is StartResult.CREATED
    verification = outcome.verification
    assert verification is not None
    assert verification.sid == sid
    assert verification.to == TO
    assert verification.status is VerificationStatus.PENDING
    assert verification.created_ms == NOW
    assert verification.expires_ms == NOW + TTL_MS
    assert len(verification.send_attempts) == 1
    assert verification.check_count == 0


def test_stored_hash_holds_no_code_and_no_plain_destination(harness: Harness) -> None:
    """A Redis dump reveals neither the code nor the phone number (DESIGN: Codes)."""
    harness.create(code="987654")
    values = b"".join(harness.raw().values())
    assert b"987654" not in values
    assert TO.encode() not in values
    assert TO[1:].encode() not in values


def test_verification_key_expires_with_its_ttl(harness: Harness) -> None:
    """Redis drops the hash by itself once the verification has ended."""
    harness.create()
    pttl = harness.client.pttl(harness.key)
    assert TTL_MS - 5_000 < pttl <= TTL_MS


def test_resend_adds_a_send_to_the_pending_verification(harness: Harness) -> None:
    """Same sid, one more attempt and one more code digest; the expiry does not move."""
    sid = harness.create(code="111111")
    outcome = harness.store.start_or_resend(
        harness.write(sid, is_new=False, code="222222", now_ms=NOW + 30_000)
    )
    assert outcome.result is StartResult.RESENT
    assert outcome.verification is not None
    assert outcome.verification.sid == sid
    assert len(outcome.verification.send_attempts) == 2
    assert outcome.verification.expires_ms == NOW + TTL_MS
    assert outcome.verification.updated_ms == NOW + 30_000


def test_start_as_new_while_one_is_pending_is_a_conflict(harness: Harness) -> None:
    """A concurrent start won: nothing changes and the caller must read again."""
    harness.create()
    before = harness.raw()
    other = sids.new_verification_sid(harness.ref.tag)
    outcome = harness.store.start_or_resend(harness.write(other, is_new=True))
    assert outcome == StartOutcome(StartResult.CONFLICT)
    assert harness.raw() == before


def test_resend_with_a_stale_sid_is_a_conflict(harness: Harness) -> None:
    """The pending verification is not the one the caller read (it ended and restarted)."""
    harness.create()
    before = harness.raw()
    stale = sids.new_verification_sid(harness.ref.tag)
    outcome = harness.store.start_or_resend(harness.write(stale, is_new=False))
    assert outcome.result is StartResult.CONFLICT
    assert harness.raw() == before


def test_resend_when_nothing_is_pending_is_a_conflict(harness: Harness) -> None:
    """The verification the caller read has ended meanwhile: no hash is made up."""
    stale = sids.new_verification_sid(harness.ref.tag)
    outcome = harness.store.start_or_resend(harness.write(stale, is_new=False))
    assert outcome.result is StartResult.CONFLICT
    assert harness.raw() == {}


def test_sixth_send_is_max_sends_with_the_time_left(harness: Harness) -> None:
    """Five sends per verification; the answer says how long until it ends."""
    sid = harness.create()
    for _ in range(4):
        assert harness.store.start_or_resend(harness.write(sid, is_new=False)).result is (
            StartResult.RESENT
        )
    outcome = harness.store.start_or_resend(harness.write(sid, is_new=False, now_ms=NOW + 1_000))
    assert outcome.result is StartResult.MAX_SENDS
    assert outcome.retry_after_ms == TTL_MS - 1_000


def test_create_over_an_expired_verification_replaces_it(harness: Harness) -> None:
    """The script itself treats an expired hash as absent (the clock is an argument)."""
    old = harness.create()
    new = sids.new_verification_sid(harness.ref.tag)
    later = NOW + TTL_MS
    outcome = harness.store.start_or_resend(harness.write(new, is_new=True, now_ms=later))
    assert outcome.result is StartResult.CREATED
    assert outcome.verification is not None
    assert outcome.verification.sid == new != old
    assert outcome.verification.check_count == 0


# -- prepare_start and fetch ----------------------------------------------------------------


def test_prepare_start_returns_the_service_and_the_pending_snapshot(harness: Harness) -> None:
    """One round trip gives what a start needs: the service and the pending sid and salt."""
    assert harness.store.prepare_start(harness.ref, NOW)[1] is None
    sid = harness.create()
    service, pending = harness.store.prepare_start(harness.ref, NOW + 1)
    assert service is not None
    assert service.sid == harness.service_sid
    assert pending is not None
    assert (pending.sid, pending.salt) == (sid, harness.salt)
    assert harness.store.prepare_start(harness.ref, NOW + TTL_MS)[1] is None


def test_fetch_finds_the_live_verification_by_its_sid_only(harness: Harness) -> None:
    """Another sid, or an expired verification, is not found."""
    sid = harness.create()
    assert harness.store.fetch(harness.ref, sid, NOW)[1] is not None
    other = sids.new_verification_sid(harness.ref.tag)
    assert harness.store.fetch(harness.ref, other, NOW)[1] is None
    assert harness.store.fetch(harness.ref, sid, NOW + TTL_MS)[1] is None


# -- reserve_check_attempt ------------------------------------------------------------------


def test_reserve_returns_the_material_to_verify(harness: Harness) -> None:
    """The reservation carries the salt and every code digest, and counts the attempt."""
    sid = harness.create(code="111111")
    harness.store.start_or_resend(harness.write(sid, is_new=False, code="222222"))
    reservation = harness.store.reserve_check(harness.ref, sid, NOW, psd2_given=False)
    assert reservation.result is ReserveResult.RESERVED
    assert reservation.service_exists
    assert reservation.salt == harness.salt
    assert reservation.verification is not None
    assert reservation.verification.check_count == 1
    for code in ("111111", "222222"):
        assert harness.hasher.matches(sid, code, reservation.salt, reservation.code_digests)
    assert not harness.hasher.matches(sid, "333333", reservation.salt, reservation.code_digests)


def test_reserve_returns_locked_after_five(harness: Harness) -> None:
    """Five attempts are counted; the sixth is refused with the time left."""
    sid = harness.create()
    for count in range(1, 6):
        reservation = harness.store.reserve_check(harness.ref, sid, NOW, psd2_given=False)
        assert reservation.result is ReserveResult.RESERVED
        assert reservation.verification is not None
        assert reservation.verification.check_count == count
    fifth = reservation.verification
    assert fifth is not None
    assert fifth.status is VerificationStatus.MAX_ATTEMPTS_REACHED
    locked = harness.store.reserve_check(harness.ref, sid, NOW + 60_000, psd2_given=False)
    assert locked.result is ReserveResult.LOCKED
    assert locked.retry_after_ms == TTL_MS - 60_000
    assert harness.raw()[b"c"] == b"5"


def test_locked_verification_refuses_a_resend(harness: Harness) -> None:
    """No new code while locked: a resend would refund the guesses."""
    sid = harness.create()
    for _ in range(5):
        harness.store.reserve_check(harness.ref, sid, NOW, psd2_given=False)
    outcome = harness.store.start_or_resend(harness.write(sid, is_new=False, now_ms=NOW + 1))
    assert outcome.result is StartResult.LOCKED
    assert outcome.retry_after_ms == TTL_MS - 1


def test_concurrent_reservations_never_exceed_five(harness: Harness) -> None:
    """Twenty racing checks: exactly five are counted, the rest are locked."""
    sid = harness.create()
    results = run_concurrently(
        20, lambda: harness.store.reserve_check(harness.ref, sid, NOW, psd2_given=False).result
    )
    assert results.count(ReserveResult.RESERVED) == 5
    assert results.count(ReserveResult.LOCKED) == 15


def test_reserve_for_another_sid_is_missing_and_counts_nothing(harness: Harness) -> None:
    """A check by a wrong VerificationSid does not use up the real one's attempts."""
    harness.create()
    other = sids.new_verification_sid(harness.ref.tag)
    assert harness.store.reserve_check(harness.ref, other, NOW, False).result is (
        ReserveResult.MISSING
    )
    assert harness.raw()[b"c"] == b"0"


def test_reserve_by_destination_needs_no_sid(harness: Harness) -> None:
    """A check by `To` passes no expected sid."""
    harness.create()
    assert harness.store.reserve_check(harness.ref, None, NOW, False).result is (
        ReserveResult.RESERVED
    )


def test_reserve_after_expiry_is_missing_and_deletes_the_hash(harness: Harness) -> None:
    """An expired verification is removed by the first script that sees it."""
    sid = harness.create()
    reservation = harness.store.reserve_check(harness.ref, sid, NOW + TTL_MS, False)
    assert reservation.result is ReserveResult.MISSING
    assert harness.raw() == {}


def test_reserve_reports_a_deleted_service(harness: Harness) -> None:
    """The service is read in the same round trip; a deleted one makes the check 404."""
    sid = harness.create()
    harness.services.delete_service(harness.service_sid)
    assert not harness.store.reserve_check(harness.ref, sid, NOW, False).service_exists


def test_psd2_verification_without_terms_is_refused_without_counting(harness: Harness) -> None:
    """Forgetting Amount and Payee is a caller error, not a guess."""
    sid = harness.create(amount="10.00", payee="Shop")
    reservation = harness.store.reserve_check(harness.ref, sid, NOW, psd2_given=False)
    assert reservation.result is ReserveResult.PSD2_REQUIRED
    assert harness.raw()[b"c"] == b"0"
    reservation = harness.store.reserve_check(harness.ref, sid, NOW, psd2_given=True)
    assert reservation.result is ReserveResult.RESERVED
    assert reservation.verification is not None
    assert (reservation.verification.amount, reservation.verification.payee) == ("10.00", "Shop")


# -- approve and cancel ---------------------------------------------------------------------


def test_approve_succeeds_once(harness: Harness) -> None:
    """The first approval ends the verification; a second finds nothing."""
    sid = harness.create()
    approved = harness.store.approve(harness.ref, sid, NOW + 5)
    assert approved is not None
    assert approved.status is VerificationStatus.APPROVED
    assert approved.valid
    assert approved.updated_ms == NOW + 5
    assert harness.store.approve(harness.ref, sid, NOW + 6) is None
    assert harness.raw() == {}


def test_concurrent_approvals_succeed_exactly_once(harness: Harness) -> None:
    """Of many racing right codes, exactly one sees `approved`."""
    sid = harness.create()
    results = run_concurrently(16, lambda: harness.store.approve(harness.ref, sid, NOW))
    assert sum(result is not None for result in results) == 1


def test_approve_with_another_sid_leaves_the_verification(harness: Harness) -> None:
    """Only the named verification can be ended."""
    sid = harness.create()
    other = sids.new_verification_sid(harness.ref.tag)
    assert harness.store.approve(harness.ref, other, NOW) is None
    assert harness.store.cancel(harness.ref, other, NOW) is None
    assert harness.raw()[b"sid"] == sid.encode()


def test_approve_after_expiry_is_none(harness: Harness) -> None:
    """An expired verification cannot be approved, even by an update."""
    sid = harness.create()
    assert harness.store.approve(harness.ref, sid, NOW + TTL_MS) is None
    assert harness.raw() == {}


def test_cancel_after_approve_is_none(harness: Harness) -> None:
    """An ended verification stays ended."""
    sid = harness.create()
    assert harness.store.approve(harness.ref, sid, NOW) is not None
    assert harness.store.cancel(harness.ref, sid, NOW) is None


def test_cancel_ends_the_verification_and_frees_the_destination(harness: Harness) -> None:
    """After a cancel, a start creates a new verification (and cannot approve the old)."""
    sid = harness.create()
    canceled = harness.store.cancel(harness.ref, sid, NOW)
    assert canceled is not None
    assert canceled.status is VerificationStatus.CANCELED
    assert harness.store.approve(harness.ref, sid, NOW) is None
    assert harness.create() != sid


# -- script loading -------------------------------------------------------------------------


def test_scripts_reload_transparently_after_script_flush(harness: Harness) -> None:
    """NOSCRIPT (Redis restarted or flushed its script cache) is handled on every path."""
    harness.client.script_flush()
    sid = harness.create()  # EVALSHA alone
    harness.client.script_flush()
    reservation = harness.store.reserve_check(harness.ref, sid, NOW, False)  # in a pipeline
    assert reservation.result is ReserveResult.RESERVED
    harness.client.script_flush()
    assert harness.store.approve(harness.ref, sid, NOW) is not None  # in a pipeline
    harness.client.script_flush()
    assert harness.services.delete_service(harness.service_sid)
    assert all(harness.client.script_exists(*(harness.scripts.sha(p.stem) for p in LUA_FILES)))


def test_reserve_after_script_flush_counts_the_attempt_once(harness: Harness) -> None:
    """The pipeline retried after NOSCRIPT must not reserve twice."""
    sid = harness.create()
    harness.client.script_flush()
    harness.store.reserve_check(harness.ref, sid, NOW, False)
    assert harness.raw()[b"c"] == b"1"


def test_script_book_knows_every_lua_file() -> None:
    """Each file under scripts/ is loaded under its stem."""
    book = ScriptBook()
    assert LUA_FILES
    for path in LUA_FILES:
        assert re.fullmatch(r"[0-9a-f]{40}", book.sha(path.stem))


# -- the scripts' text ----------------------------------------------------------------------


def header_of(source: str) -> str:
    lines = source.splitlines()
    header = []
    for line in lines:
        if not line.startswith("--"):
            break
        header.append(line)
    return "\n".join(header)


@pytest.mark.parametrize("path", LUA_FILES, ids=lambda p: p.name)
def test_lua_header_lists_keys_and_argv(path: Path) -> None:
    """Each script opens with a comment naming every KEYS and ARGV slot it reads."""
    source = path.read_text("utf-8")
    header = header_of(source)
    body = source[len(header) :]
    assert "KEYS[1]" in header
    assert "ARGV[" in header
    for index in set(re.findall(r"KEYS\[(\d+)\]", body)):
        assert f"KEYS[{index}]" in header, f"KEYS[{index}] is used but not documented"
    ranges = [int(start) for start in re.findall(r"ARGV\[(\d+)\.\.\]", header)]
    for index in {int(i) for i in re.findall(r"ARGV\[(\d+)\]", body)}:
        documented = f"ARGV[{index}]" in header or any(index >= start for start in ranges)
        assert documented, f"ARGV[{index}] is used but not documented"
    assert "Returns" in header


@pytest.mark.parametrize("path", LUA_FILES, ids=lambda p: p.name)
def test_lua_builds_no_key_names(path: Path) -> None:
    """Every redis.call's key is KEYS[n], KEYS[i] in a loop over the declared keys (an MFA
    cascade: the caller names every record), or a local that holds KEYS[n] and is never
    reassigned."""
    source = path.read_text("utf-8")
    code = "\n".join(line.split("--", 1)[0] for line in source.splitlines())
    key_locals = set(re.findall(r"\blocal\s+(\w+)\s*=\s*KEYS\[\d+\]\s*$", code, re.MULTILINE))
    for name in key_locals:
        assignments = re.findall(rf"^\s*(?:local\s+)?{name}\s*=", code, re.MULTILINE)
        assert len(assignments) == 1, f"{name} is reassigned"
    calls = re.findall(r"redis\.p?call\(\s*'(\w+)'\s*,\s*([^,)]+)", code)
    assert calls
    for command, raw_key in calls:
        key = raw_key.strip()
        assert re.fullmatch(r"KEYS\[(\d+|i)\]", key) or key in key_locals, (
            f"{path.name}: {command} is called on {key!r}, not on KEYS[n]"
        )


# The MFA wrong-code windows are measured in Redis's time, the one clock every app node
# shares (docs/mfa.md, "Limits"): these scripts read TIME for those windows only; everything
# else they date (steps, expiry, records) is the caller's ARGV.
WRONG_CODE_WINDOW_SCRIPTS = {"verify_factor.lua", "answer_challenge.lua", "create_challenge.lua"}


@pytest.mark.parametrize("path", LUA_FILES, ids=lambda p: p.name)
def test_lua_reads_time_from_argv_only(path: Path) -> None:
    """No TIME, no randomness inside scripts: the clock is the caller's ARGV (but for the
    wrong-code windows, WRONG_CODE_WINDOW_SCRIPTS, whose TIME goes into `clock` only)."""
    code = path.read_text("utf-8")
    if path.name in WRONG_CODE_WINDOW_SCRIPTS and path.parent.parent.name == "mfa":
        assert re.findall(r"redis\.call\('TIME'\)", code) == ["redis.call('TIME')"]
        assert re.search(r"^\s*(local )?t = redis\.call\('TIME'\)$", code, re.MULTILINE)
        code = code.replace("redis.call('TIME')", "")
    assert not re.search(r"redis\.p?call\(\s*'(TIME|RANDOMKEY|SRANDMEMBER)'", code, re.I)
    assert "math.random" not in code


def test_store_keys_of_one_verification_share_a_hash_tag(harness: Harness) -> None:
    """Redis Cluster keeps everything a verification script touches in one slot."""
    key = harness.key
    tag = re.search(r"\{([^}]*)\}", key)
    assert tag is not None
    assert tag.group(1) == f"{harness.service_sid}:{harness.ref.tag}"
    assert "{svc}" in harness.keys.service(harness.service_sid)
    assert "{svc}" in harness.keys.service_index()


# -- helpers --------------------------------------------------------------------------------


def run_concurrently(count: int, action: Callable[[], Any]) -> list[Any]:
    """Run `action` in `count` threads released together; return every result."""
    barrier = threading.Barrier(count)
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        try:
            result = action()
        except BaseException as exc:  # reported below, in the test's thread
            with lock:
                errors.append(exc)
            return
        with lock:
            results.append(result)

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not errors, errors
    assert len(results) == count
    return results
