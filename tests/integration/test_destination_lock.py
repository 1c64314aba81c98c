"""A lock outlives a cancel (issue 9, item 3): a verification canceled after its five wrong
checks leaves its destination locked until the verification's own expiry, whoever cancels it
(a backend key, a support key, a console user). Meanwhile every start is refused with
429/60202 and `Retry-After`, and so is a check by To: a cancel never hands out fresh guesses.
Canceled with fewer checks used, they carry over: the next verification of the destination
starts with them used, so cycles of wrong checks and cancels never add up to more than five.

Real Redis, the Flask test client and a FixedClock; time passes only through `clock.advance`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
import redis
from flask import Flask
from werkzeug.test import TestResponse

from tests.conftest import Api, deliver_queued
from tests.integration.test_api_keys import basic, create_key
from tests.integration.test_console import PASSWORD, Console
from tests.support.fakes import FixedClock, RecordingSender
from verify_service.app import CONTAINER_KEY, build_staff_users
from verify_service.application.verifications.ports import StartContext
from verify_service.http.wiring import EXTENSION_KEY

TO = "+14155552671"
TTL_SECONDS = 600


def wrong_code(right: str) -> str:
    return "".join(str((int(d) + 1) % 10) for d in right)


def lock_out(api: Api, sender: RecordingSender, service: str) -> str:
    """Start a verification and use up its five checks with wrong codes; its sid."""
    started = api.start(service, TO)
    assert started.status_code == 201, started.json
    sid: str = started.json["sid"]  # type: ignore[index]
    wrong = wrong_code(sender.last_code(sid))
    statuses = [api.check(service, wrong, To=TO).json["status"] for _ in range(5)]  # type: ignore[index]
    assert statuses == ["pending"] * 4 + ["max_attempts_reached"]
    refused = api.check(service, wrong, To=TO)
    assert refused.json["code"] == 60202  # type: ignore[index]
    return sid


def assert_locked(response: TestResponse, retry_after: int) -> None:
    assert response.status_code == 429, response.json
    assert response.json["code"] == 60202  # type: ignore[index]
    assert response.headers["Retry-After"] == str(retry_after)


def _cancel_with_key(api: Api, app: Flask, service: str, sid: str, **key_options: str) -> None:
    key = create_key(api, **key_options)
    response = app.test_client().post(
        f"/v2/Services/{service}/Verifications/{sid}",
        data={"Status": "canceled"},
        headers=basic(key["sid"], key["secret"]),
    )
    assert response.json["status"] == "canceled", response.json  # type: ignore[index]


def cancel_by_backend(api: Api, app: Flask, service: str, sid: str) -> None:
    _cancel_with_key(api, app, service, sid, role="backend")


def cancel_by_support_key(api: Api, app: Flask, service: str, sid: str) -> None:
    _cancel_with_key(api, app, service, sid, role="support", name="helpdesk")


def cancel_in_the_console(api: Api, app: Flask, service: str, sid: str) -> None:
    build_staff_users(app.extensions[CONTAINER_KEY]).add("sam", PASSWORD, "support")
    console = Console(app.test_client())
    assert console.login().status_code == 303
    console.search(service, TO)
    assert sid in console.text
    assert console.cancel().status_code == 200
    assert "The verification was canceled" in console.text


CANCELS: dict[str, Callable[[Api, Flask, str, str], None]] = {
    "backend key": cancel_by_backend,
    "support key": cancel_by_support_key,
    "support console": cancel_in_the_console,
}


@pytest.mark.parametrize("cancel", CANCELS.values(), ids=CANCELS.keys())
def test_a_start_after_cancelling_a_locked_verification_is_refused_until_its_expiry(
    api: Api,
    app: Flask,
    clock: FixedClock,
    sender: RecordingSender,
    cancel: Callable[[Api, Flask, str, str], None],
) -> None:
    """5 wrong checks, a cancel (any canceller), a start: 60202 with the lock's Retry-After."""
    service = api.create_service()
    sid = lock_out(api, sender, service)
    clock.advance(100)
    cancel(api, app, service, sid)
    sent = len(sender.sent)
    assert_locked(api.start(service, TO), TTL_SECONDS - 100)
    assert_locked(api.start(service, TO, channel="call"), TTL_SECONDS - 100)
    clock.advance(250)
    assert_locked(api.start(service, TO), TTL_SECONDS - 350)
    assert len(sender.sent) == sent  # nothing queued, nothing sent


def test_a_start_is_accepted_once_the_locked_verification_would_have_expired(
    api: Api, app: Flask, clock: FixedClock, sender: RecordingSender
) -> None:
    """The lock lasts exactly as long as the verification would have: then a new one starts,
    with five fresh checks."""
    service = api.create_service()
    sid = lock_out(api, sender, service)
    cancel_by_backend(api, app, service, sid)
    clock.advance(TTL_SECONDS - 1)
    assert_locked(api.start(service, TO), 1)
    clock.advance(1)
    started = api.start(service, TO)
    assert started.status_code == 201, started.json
    assert started.json["sid"] != sid  # type: ignore[index]
    checked = api.check(service, sender.last_code(started.json["sid"]), To=TO)  # type: ignore[index]
    assert checked.json["status"] == "approved"  # type: ignore[index]


def test_a_start_that_read_before_the_cancel_is_refused_by_the_script_that_creates(
    api: Api, app: Flask, sender: RecordingSender, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race: a start read the destination before the cancel (nothing pending, no lock
    yet) and writes after it. start_or_resend.lua reads the lock itself and refuses."""
    service = api.create_service()
    sid = lock_out(api, sender, service)
    cancel_by_backend(api, app, service, sid)
    store = app.extensions[EXTENSION_KEY].verifications._store
    real_prepare = store.prepare_protected_start

    def read_before_the_cancel(ref: object, now_ms: int, probe: object) -> StartContext:
        return dataclasses.replace(real_prepare(ref, now_ms, probe), pending=None, lock=None)

    monkeypatch.setattr(store, "prepare_protected_start", read_before_the_cancel)
    sent = len(sender.sent)
    assert_locked(api.start(service, TO), TTL_SECONDS)
    deliver_queued(app)  # the message the refused write queued beside it is dropped
    assert len(sender.sent) == sent


def test_a_check_by_to_is_refused_while_the_lock_lasts(
    api: Api, app: Flask, clock: FixedClock, sender: RecordingSender
) -> None:
    """After the cancel, a check by To answers 60202 (locked), not 404 (nothing pending)."""
    service = api.create_service()
    sid = lock_out(api, sender, service)
    clock.advance(30)
    cancel_by_backend(api, app, service, sid)
    assert_locked(api.check(service, "123456", To=TO), TTL_SECONDS - 30)
    refused_by_sid = api.check(service, "123456", VerificationSid=sid)
    assert refused_by_sid.status_code == 404  # that verification itself has ended
    clock.advance(TTL_SECONDS - 30)
    assert api.check(service, "123456", To=TO).status_code == 404


def test_cancelling_a_verification_with_checks_left_leaves_no_lock(
    api: Api, app: Flask, sender: RecordingSender
) -> None:
    """Only a verification whose checks are used up locks its destination: with checks
    left, a start is accepted (and a check by To finds nothing pending)."""
    service = api.create_service()
    sid = api.start(service, TO).json["sid"]  # type: ignore[index]
    wrong = wrong_code(sender.last_code(sid))
    for _ in range(4):
        api.check(service, wrong, To=TO)
    cancel_by_backend(api, app, service, sid)
    assert api.check(service, wrong, To=TO).status_code == 404
    assert api.start(service, TO).status_code == 201


def wrong_checks(
    api: Api, sender: RecordingSender, service: str, sid: str, count: int
) -> list[str | int]:
    """`count` wrong checks by To of verification `sid`: the statuses (or error codes)."""
    wrong = wrong_code(sender.last_code(sid))
    answers = [api.check(service, wrong, To=TO).json for _ in range(count)]
    return [answer.get("code", answer["status"]) for answer in answers]  # type: ignore[union-attr]


def test_a_cancel_never_refunds_guesses(
    api: Api, app: Flask, clock: FixedClock, sender: RecordingSender
) -> None:
    """4 wrong, a cancel, a start, 1 wrong: the next check is refused (60202), even with the
    right code, and so is every start until the first verification would have expired."""
    service = api.create_service()
    first = api.start(service, TO).json["sid"]  # type: ignore[index]
    assert wrong_checks(api, sender, service, first, 4) == ["pending"] * 4
    clock.advance(100)
    cancel_by_backend(api, app, service, first)
    started = api.start(service, TO)
    assert started.status_code == 201, started.json
    second: str = started.json["sid"]  # type: ignore[index]
    assert wrong_checks(api, sender, service, second, 1) == ["max_attempts_reached"]
    assert_locked(api.check(service, wrong_code(sender.last_code(second)), To=TO), TTL_SECONDS)
    assert_locked(api.check(service, sender.last_code(second), To=TO), TTL_SECONDS)
    assert_locked(api.start(service, TO), TTL_SECONDS)
    clock.advance(TTL_SECONDS - 100 - 1)  # the first verification's last second
    assert_locked(api.start(service, TO), 101)
    cancel_by_backend(api, app, service, second)  # and a cancel of this one refunds nothing
    assert_locked(api.start(service, TO), 101)
    assert_locked(api.check(service, "123456", To=TO), 101)


def test_guesses_used_before_a_cancel_count_against_the_next_verification(
    api: Api, app: Flask, sender: RecordingSender
) -> None:
    """2 wrong, a cancel, a start: three wrong checks lock the new verification."""
    service = api.create_service()
    first = api.start(service, TO).json["sid"]  # type: ignore[index]
    assert wrong_checks(api, sender, service, first, 2) == ["pending"] * 2
    cancel_by_backend(api, app, service, first)
    second = api.start(service, TO).json["sid"]  # type: ignore[index]
    assert wrong_checks(api, sender, service, second, 4) == [
        "pending",
        "pending",
        "max_attempts_reached",
        60202,
    ]
    assert_locked(api.start(service, TO), TTL_SECONDS)


def test_guesses_carry_over_through_any_number_of_cancels(
    api: Api, app: Flask, sender: RecordingSender
) -> None:
    """4 wrong, then start-and-cancel five times: the sixth verification has one check."""
    service = api.create_service()
    sid = api.start(service, TO).json["sid"]  # type: ignore[index]
    assert wrong_checks(api, sender, service, sid, 4) == ["pending"] * 4
    for _ in range(5):
        cancel_by_backend(api, app, service, sid)
        started = api.post(f"/v2/Services/{service}/Verifications", To=TO, Channel="sms")
        assert started.status_code == 201, started.json
        deliver_queued(app)
        sid = started.json["sid"]  # type: ignore[index]
    assert wrong_checks(api, sender, service, sid, 2) == ["max_attempts_reached", 60202]


def test_a_cancel_with_no_check_leaves_nothing(
    api: Api, app: Flask, sender: RecordingSender, redis_client: redis.Redis
) -> None:
    """Canceled before any check, a verification leaves no record: the next has five checks."""
    service = api.create_service()
    cancel_by_backend(api, app, service, api.start(service, TO).json["sid"])  # type: ignore[index]
    assert list(redis_client.scan_iter(match="it:lock:*")) == []
    sid = api.start(service, TO).json["sid"]  # type: ignore[index]
    assert wrong_checks(api, sender, service, sid, 5) == ["pending"] * 4 + ["max_attempts_reached"]


def test_an_approval_ends_the_carried_guesses(
    api: Api, app: Flask, sender: RecordingSender
) -> None:
    """4 wrong, a cancel, a start approved by its code: the next verification has five."""
    service = api.create_service()
    first = api.start(service, TO).json["sid"]  # type: ignore[index]
    wrong_checks(api, sender, service, first, 4)
    cancel_by_backend(api, app, service, first)
    second = api.start(service, TO).json["sid"]  # type: ignore[index]
    assert api.check(service, sender.last_code(second), To=TO).json["status"] == "approved"  # type: ignore[index]
    third = api.start(service, TO).json["sid"]  # type: ignore[index]
    assert wrong_checks(api, sender, service, third, 5) == ["pending"] * 4 + [
        "max_attempts_reached"
    ]


def test_a_lock_record_of_the_older_form_still_locks(
    api: Api, clock: FixedClock, redis_client: redis.Redis
) -> None:
    """A record written before checks were carried ('expiry|sid') means all five used."""
    service = api.create_service()
    api.start(service, TO)
    keys = list(redis_client.scan_iter(match="it:v:*"))
    assert len(keys) == 1
    lock_key = b"it:lock:" + keys[0].removeprefix(b"it:v:")
    redis_client.delete(keys[0])
    expires = clock.now_ms() + 300_000
    redis_client.set(lock_key, f"{expires}|VE{'0' * 32}", px=300_000)
    assert_locked(api.start(service, TO), 300)
    assert_locked(api.check(service, "123456", To=TO), 300)


def test_a_right_fifth_check_leaves_no_lock(api: Api, sender: RecordingSender) -> None:
    """Approved by its last allowed check, a verification locks nothing."""
    service = api.create_service()
    sid = api.start(service, TO).json["sid"]  # type: ignore[index]
    code = sender.last_code(sid)
    for _ in range(4):
        api.check(service, wrong_code(code), To=TO)
    assert api.check(service, code, To=TO).json["status"] == "approved"  # type: ignore[index]
    assert api.start(service, TO).status_code == 201


def test_the_lock_is_per_destination_and_service(
    api: Api, app: Flask, sender: RecordingSender
) -> None:
    """Another number, or the same number in another service, is not locked."""
    service, other_service = api.create_service(), api.create_service()
    cancel_by_backend(api, app, service, lock_out(api, sender, service))
    assert api.start(service, "+14155552672").status_code == 201
    assert api.start(other_service, TO).status_code == 201


def test_the_console_shows_the_lock(
    api: Api, app: Flask, clock: FixedClock, sender: RecordingSender
) -> None:
    """A support user searching the destination sees it locked, until when, and by which
    verification."""
    service = api.create_service()
    sid = lock_out(api, sender, service)
    cancel_in_the_console(api, app, service, sid)
    console = Console(app.test_client())
    assert console.login().status_code == 303
    console.search(service, TO)
    assert 'id="destination-lock"' in console.text
    assert "Locked until" in console.text
    assert sid in console.text
    clock.advance(TTL_SECONDS)
    console.search(service, TO)
    assert 'id="destination-lock"' not in console.text


def test_the_console_shows_no_lock_while_checks_are_left(
    api: Api, app: Flask, sender: RecordingSender
) -> None:
    """Canceled with 4 wrong checks, the destination is not locked, and not shown locked."""
    service = api.create_service()
    sid = api.start(service, TO).json["sid"]  # type: ignore[index]
    wrong_checks(api, sender, service, sid, 4)
    cancel_in_the_console(api, app, service, sid)
    console = Console(app.test_client())
    assert console.login().status_code == 303
    console.search(service, TO)
    assert 'id="no-current"' in console.text
    assert 'id="destination-lock"' not in console.text


def test_the_lock_record_holds_no_destination_and_expires_with_the_verification(
    api: Api, app: Flask, sender: RecordingSender, redis_client: redis.Redis
) -> None:
    """One key per locked destination, named by the keyed tag, valued 'expiry|sid|checks',
    with the verification's remaining lifetime as its TTL."""
    service = api.create_service()
    sid = lock_out(api, sender, service)
    cancel_by_backend(api, app, service, sid)
    keys = list(redis_client.scan_iter(match="it:lock:*"))
    assert len(keys) == 1
    assert b"4155552671" not in keys[0]
    value = redis_client.get(keys[0])
    assert value is not None
    assert value.decode().endswith(f"|{sid}|5")
    assert 0 < redis_client.pttl(keys[0]) <= TTL_SECONDS * 1000


def test_the_console_shows_the_checks_carried_over_a_cancel(
    api: Api, app: Flask, sender: RecordingSender
) -> None:
    """The verification after a cancel shows the checks it started with as used."""
    service = api.create_service()
    sid = api.start(service, TO).json["sid"]  # type: ignore[index]
    wrong_checks(api, sender, service, sid, 3)
    cancel_in_the_console(api, app, service, sid)
    api.start(service, TO)
    console = Console(app.test_client())
    assert console.login().status_code == 303
    console.search(service, TO)
    assert '<dd id="check-count">3 of 5 (3 used before a cancel' in console.text
