"""Lifetimes follow the injected clock: expiry, locks that end with it, and `Retry-After`.

Real Redis, the Flask test client and a FixedClock; time passes only through `clock.advance`.
"""

from __future__ import annotations

import pytest

from tests.conftest import Api
from tests.support.fakes import FixedClock, RecordingSender

TO = "+14155552671"


def wrong_code(right: str) -> str:
    """A code of the same shape that is surely not `right`."""
    return "".join(str((int(d) + 1) % 10) for d in right)


def start(api: Api, service_sid: str, to: str = TO) -> str:
    response = api.start(service_sid, to)
    assert response.status_code == 201, response.json
    sid: str = response.json["sid"]  # type: ignore[index]
    return sid


def assert_not_found(response: object) -> None:
    assert response.status_code == 404, response.json  # type: ignore[attr-defined]
    assert response.json["code"] == 20404  # type: ignore[attr-defined]


# -- the default ten minutes ----------------------------------------------------------------


def test_verification_is_still_pending_at_599_seconds(api: Api, clock: FixedClock) -> None:
    """One second before the 10-minute lifetime ends, fetch still finds it."""
    service = api.create_service()
    sid = start(api, service)
    clock.advance(599)
    response = api.fetch(service, sid)
    assert response.status_code == 200
    assert response.json["status"] == "pending"  # type: ignore[index]


def test_right_code_is_approved_at_599_seconds(
    api: Api, clock: FixedClock, sender: RecordingSender
) -> None:
    """The code works until the last second of its life."""
    service = api.create_service()
    sid = start(api, service)
    clock.advance(599)
    response = api.check(service, sender.last_code(sid), To=TO)
    assert response.status_code == 200
    assert response.json["status"] == "approved"  # type: ignore[index]
    assert response.json["valid"] is True  # type: ignore[index]


def test_fetch_is_404_after_ten_minutes(api: Api, clock: FixedClock) -> None:
    """Expired verifications are soft-deleted: fetch answers 20404."""
    service = api.create_service()
    sid = start(api, service)
    clock.advance(601)
    assert_not_found(api.fetch(service, sid))


@pytest.mark.parametrize("by", ["To", "VerificationSid"])
def test_right_code_is_404_after_ten_minutes(
    api: Api, clock: FixedClock, sender: RecordingSender, by: str
) -> None:
    """An expired verification cannot be approved, whichever way the check names it."""
    service = api.create_service()
    sid = start(api, service)
    clock.advance(601)
    target = {"To": TO} if by == "To" else {"VerificationSid": sid}
    assert_not_found(api.check(service, sender.last_code(sid), **target))


def test_expiry_is_at_exactly_the_lifetime(api: Api, clock: FixedClock) -> None:
    """At 600.000 s the verification has ended (valid while now < created + ttl)."""
    service = api.create_service()
    sid = start(api, service)
    clock.advance(599.999)
    assert api.fetch(service, sid).status_code == 200
    clock.advance(0.001)
    assert_not_found(api.fetch(service, sid))


def test_resend_does_not_extend_the_lifetime(
    api: Api, clock: FixedClock, sender: RecordingSender
) -> None:
    """A resend adds a code to the pending verification; its end stays where it was."""
    service = api.create_service()
    sid = start(api, service)
    clock.advance(500)
    assert start(api, service) == sid
    clock.advance(101)
    assert_not_found(api.fetch(service, sid))
    assert_not_found(api.check(service, sender.last_code(sid), To=TO))


def test_start_after_expiry_creates_a_new_verification(
    api: Api, clock: FixedClock, sender: RecordingSender
) -> None:
    """The destination is free again; the old codes do not approve the new verification."""
    service = api.create_service()
    old_sid = start(api, service)
    old_code = sender.last_code(old_sid)
    clock.advance(601)
    new_sid = start(api, service)
    assert new_sid != old_sid
    fetched = api.fetch(service, new_sid).json
    assert fetched["status"] == "pending"  # type: ignore[index]
    assert len(fetched["send_code_attempts"]) == 1  # type: ignore[index]
    new_code = sender.last_code(new_sid)
    if old_code != new_code:
        response = api.check(service, old_code, To=TO)
        assert response.json["status"] == "pending"  # type: ignore[index]
    response = api.check(service, new_code, To=TO)
    assert response.json["status"] == "approved"  # type: ignore[index]


# -- a service's own lifetime ---------------------------------------------------------------


def test_service_ttl_of_120_seconds_expires_at_121(api: Api, clock: FixedClock) -> None:
    """VerificationTtlSeconds=120: pending at 119 s, gone at 121 s."""
    service = api.create_service(VerificationTtlSeconds=120)
    sid = start(api, service)
    clock.advance(119)
    assert api.fetch(service, sid).status_code == 200
    clock.advance(2)
    assert_not_found(api.fetch(service, sid))


def test_service_ttl_of_120_seconds_refuses_the_right_code_at_121(
    api: Api, clock: FixedClock, sender: RecordingSender
) -> None:
    """The short lifetime applies to checks too."""
    service = api.create_service(VerificationTtlSeconds=120)
    sid = start(api, service)
    clock.advance(121)
    assert_not_found(api.check(service, sender.last_code(sid), VerificationSid=sid))


def test_service_ttl_of_a_day_outlives_the_default(
    api: Api, clock: FixedClock, sender: RecordingSender
) -> None:
    """VerificationTtlSeconds=86400 keeps the verification past 10 minutes."""
    service = api.create_service(VerificationTtlSeconds=86_400)
    sid = start(api, service)
    clock.advance(86_399)
    response = api.check(service, sender.last_code(sid), To=TO)
    assert response.json["status"] == "approved"  # type: ignore[index]


# -- locks end with the verification ---------------------------------------------------------


def lock(api: Api, service: str, sid: str, code: str) -> None:
    """Five wrong checks: the fifth answers 200 max_attempts_reached."""
    for attempt in range(1, 6):
        response = api.check(service, wrong_code(code), To=TO)
        assert response.status_code == 200, response.json
        expected = "pending" if attempt < 5 else "max_attempts_reached"
        assert response.json["status"] == expected  # type: ignore[index]
        assert response.json["valid"] is False  # type: ignore[index]
        assert response.json["sid"] == sid  # type: ignore[index]


def test_sixth_check_after_five_wrong_codes_is_rejected_with_60202(
    api: Api, sender: RecordingSender
) -> None:
    """Locked: even the right code is refused."""
    service = api.create_service()
    sid = start(api, service)
    code = sender.last_code(sid)
    lock(api, service, sid, code)
    response = api.check(service, code, To=TO)
    assert response.status_code == 429
    assert response.json["code"] == 60202  # type: ignore[index]


def test_lock_ends_with_expiry_and_then_a_new_start_works(
    api: Api, clock: FixedClock, sender: RecordingSender
) -> None:
    """A lock lasts as long as the verification; after it, the destination starts afresh."""
    service = api.create_service()
    sid = start(api, service)
    lock(api, service, sid, sender.last_code(sid))
    assert api.start(service, TO).status_code == 429
    clock.advance(601)
    new_sid = start(api, service)
    assert new_sid != sid
    response = api.check(service, sender.last_code(new_sid), To=TO)
    assert response.status_code == 200
    assert response.json["status"] == "approved"  # type: ignore[index]


def test_60202_on_check_carries_retry_after_equal_to_the_seconds_left(
    api: Api, clock: FixedClock, sender: RecordingSender
) -> None:
    """After 100 s of a 600 s lifetime, the lock ends in 500 s."""
    service = api.create_service()
    sid = start(api, service)
    clock.advance(100)
    lock(api, service, sid, sender.last_code(sid))
    response = api.check(service, "0000", To=TO)
    assert response.status_code == 429
    assert response.json["code"] == 60202  # type: ignore[index]
    assert response.headers["Retry-After"] == "500"
    clock.advance(200)
    assert api.check(service, "0000", To=TO).headers["Retry-After"] == "300"


def test_60202_on_start_carries_retry_after_equal_to_the_seconds_left(
    api: Api, clock: FixedClock, sender: RecordingSender
) -> None:
    """A locked destination gets no new code until the verification ends."""
    service = api.create_service()
    sid = start(api, service)
    lock(api, service, sid, sender.last_code(sid))
    clock.advance(250)
    response = api.start(service, TO)
    assert response.status_code == 429
    assert response.json["code"] == 60202  # type: ignore[index]
    assert response.headers["Retry-After"] == "350"


def test_retry_after_rounds_a_partial_second_up(
    api: Api, clock: FixedClock, sender: RecordingSender
) -> None:
    """499.5 s left is announced as 500: a client that waits as told finds the lock gone."""
    service = api.create_service()
    sid = start(api, service)
    lock(api, service, sid, sender.last_code(sid))
    clock.advance(100.5)
    assert api.check(service, "0000", To=TO).headers["Retry-After"] == "500"


def test_retry_after_is_one_second_in_the_last_second(
    api: Api, clock: FixedClock, sender: RecordingSender
) -> None:
    """Never 0: a `Retry-After: 0` invites a tight retry loop."""
    service = api.create_service()
    sid = start(api, service)
    lock(api, service, sid, sender.last_code(sid))
    clock.advance(599.999)
    assert api.check(service, "0000", To=TO).headers["Retry-After"] == "1"


def test_sixth_send_is_rejected_with_60203_and_retry_after(api: Api, clock: FixedClock) -> None:
    """Five sends per verification; the sixth waits for the verification to end."""
    service = api.create_service()
    sid = start(api, service)
    for _ in range(4):
        clock.advance(30)
        assert start(api, service) == sid
    response = api.start(service, TO)
    assert response.status_code == 429
    assert response.json["code"] == 60203  # type: ignore[index]
    assert response.headers["Retry-After"] == str(600 - 4 * 30)


def test_send_limit_ends_with_expiry(api: Api, clock: FixedClock) -> None:
    """After the lifetime, the destination can be sent a code again."""
    service = api.create_service(VerificationTtlSeconds=120)
    sid = start(api, service)
    for _ in range(4):
        start(api, service)
    assert api.start(service, TO).headers["Retry-After"] == "120"
    clock.advance(121)
    assert start(api, service) != sid


def test_responses_without_a_wait_carry_no_retry_after(api: Api, sender: RecordingSender) -> None:
    """`Retry-After` is only for 429s that end with the verification."""
    service = api.create_service()
    sid = start(api, service)
    assert "Retry-After" not in api.fetch(service, sid).headers
    response = api.check(service, wrong_code(sender.last_code(sid)), To=TO)
    assert "Retry-After" not in response.headers
