"""The core end-to-end specifications, written once and run against every Redis deployment
(one server, a Redis Cluster, Sentinel): each takes the official twilio SDK client, the
servers' base URLs (a race may be split across several `serve` processes sharing one Redis)
and the console outbox the delivery worker writes to. They say nothing about Redis itself:
what they check is what a caller of the API sees."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.support.mfa import IDENTITY, totp_code
from tests.support.outbox import Outbox
from verify_service.adapters.redis_store.keys import SHARDS, shard_of

TO = "+14155552671"
TIMEOUT_SECONDS = 30

Call = Callable[[requests.Session, int], requests.Response]


def run_together(count: int, call: Call) -> list[requests.Response]:
    """`count` threads, each with its own session, released at once by a barrier."""
    barrier = threading.Barrier(count)

    def one(index: int) -> requests.Response:
        with requests.Session() as session:
            session.auth = (ACCOUNT_SID, AUTH_TOKEN)
            barrier.wait(TIMEOUT_SECONDS)
            response = call(session, index)
            response.content  # noqa: B018 - read the body before the session closes
            return response

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def outcome(response: requests.Response) -> tuple[int, int | str]:
    """(HTTP status, Twilio error code) for an error, (status, verification status) else."""
    body = response.json()
    return response.status_code, body["code"] if response.status_code >= 400 else body["status"]


def wrong_code(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def refusal(call: Callable[[], object]) -> tuple[int, int]:
    with pytest.raises(TwilioRestException) as raised:
        call()
    return raised.value.status, raised.value.code


def lifecycle(twilio: Client, outbox: Outbox) -> None:
    """Start, a wrong check (pending), the right one (approved), then the verification is
    gone (20404) and its code no longer checks."""
    service = twilio.verify.v2.services.create(friendly_name="Acme")
    verify = twilio.verify.v2.services(service.sid)
    started = verify.verifications.create(to=TO, channel="sms")
    assert (started.status, started.channel, started.to) == ("pending", "sms", TO)
    assert verify.verifications(started.sid).fetch().status == "pending"
    code = outbox.last_code(started.sid)

    wrong = verify.verification_checks.create(to=TO, code=wrong_code(code))
    assert (wrong.status, wrong.valid) == ("pending", False)
    right = verify.verification_checks.create(to=TO, code=code)
    assert (right.status, right.valid, right.sid) == ("approved", True, started.sid)

    assert refusal(lambda: verify.verifications(started.sid).fetch()) == (404, 20404)
    assert refusal(lambda: verify.verification_checks.create(to=TO, code=code)) == (404, 20404)


def sixty_wrong_checks_count_exactly_five(
    twilio: Client, outbox: Outbox, base_urls: Sequence[str]
) -> None:
    """Of 60 simultaneous wrong checks (split across `base_urls`), five are evaluated and
    55 refused with 60202."""
    service = twilio.verify.v2.services.create(friendly_name="Acme")
    verification = twilio.verify.v2.services(service.sid).verifications.create(to=TO, channel="sms")
    wrong = wrong_code(outbox.last_code(verification.sid))

    def check(session: requests.Session, index: int) -> requests.Response:
        url = f"{base_urls[index % len(base_urls)]}/v2/Services/{service.sid}/VerificationCheck"
        return session.post(url, data={"To": TO, "Code": wrong}, timeout=TIMEOUT_SECONDS)

    responses = run_together(60, check)

    outcomes = Counter(outcome(r) for r in responses)
    # Each evaluated check saw its own count: four left it pending, the fifth locked it.
    assert outcomes == {
        (200, "pending"): 4,
        (200, "max_attempts_reached"): 1,
        (429, 60202): 55,
    }, outcomes
    assert all(r.json()["valid"] is False for r in responses if r.status_code == 200)


def sixteen_right_codes_approve_once(
    twilio: Client, outbox: Outbox, base_urls: Sequence[str]
) -> None:
    """Of 16 simultaneous right codes one is approved; the rest are 20404 or 60202."""
    service = twilio.verify.v2.services.create(friendly_name="Acme")
    verification = twilio.verify.v2.services(service.sid).verifications.create(to=TO, channel="sms")
    code = outbox.last_code(verification.sid)

    def check(session: requests.Session, index: int) -> requests.Response:
        url = f"{base_urls[index % len(base_urls)]}/v2/Services/{service.sid}/VerificationCheck"
        return session.post(url, data={"To": TO, "Code": code}, timeout=TIMEOUT_SECONDS)

    responses = run_together(16, check)

    approved = [r.json() for r in responses if r.status_code == 200]
    assert [(body["status"], body["valid"]) for body in approved] == [("approved", True)]
    assert approved[0]["sid"] == verification.sid
    others = Counter(outcome(r) for r in responses if r.status_code != 200)
    assert set(others) <= {(404, 20404), (429, 60202)}, others
    assert sum(others.values()) == 15


def every_message_is_delivered_by_the_worker(
    twilio: Client, outbox: Outbox, numbers: int = 40
) -> None:
    """Starts for `numbers` destinations: each message is delivered once by the worker,
    from every outbox shard the attempts landed on."""
    service = twilio.verify.v2.services.create(friendly_name="Acme")
    verifications = twilio.verify.v2.services(service.sid).verifications
    started = [
        verifications.create(to=f"+1415555{3000 + index:04d}", channel="sms")
        for index in range(numbers)
    ]
    outbox.wait_until_drained()
    shards = set()
    for verification in started:
        (message,) = outbox.messages_for(verification.sid, at_least=1)
        assert message["to"] == verification.to
        (attempt,) = verification.send_code_attempts
        shards.add(shard_of(attempt["attempt_sid"], SHARDS))
    assert len(shards) > SHARDS // 2, shards  # the attempts spread over the shards


def rate_limits_refuse_at_the_limit(twilio: Client, base_url: str) -> None:
    """A bucket of one refuses the second start with 20429; two sends per destination per
    hour refuse the third with 60203."""
    service = twilio.verify.v2.services.create(friendly_name="Acme")
    limit = twilio.verify.v2.services(service.sid).rate_limits.create(unique_name="end_user_ip")
    twilio.verify.v2.services(service.sid).rate_limits(limit.sid).buckets.create(max=1, interval=60)
    verifications = twilio.verify.v2.services(service.sid).verifications
    ip = {"end_user_ip": "203.0.113.9"}
    verifications.create(to="+447911000001", channel="sms", rate_limits=ip)
    assert refusal(
        lambda: verifications.create(to="+447911000002", channel="sms", rate_limits=ip)
    ) == (429, 20429)

    capped = create_service(base_url, SendsPerDestinationPerHour=2)
    sends = twilio.verify.v2.services(capped).verifications
    sends.create(to="+447400123456", channel="sms")
    sends.create(to="+447400123456", channel="sms")
    assert refusal(lambda: sends.create(to="+447400123456", channel="sms")) == (429, 60203)


def create_service(base_url: str, **params: Any) -> str:
    """A service with extension parameters (the SDK knows only Twilio's)."""
    response = requests.post(
        f"{base_url}/v2/Services",
        data={"FriendlyName": "Acme", **params},
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=10,
    )
    assert response.status_code == 201, response.text
    sid: str = response.json()["sid"]
    return sid


# -- MFA: TOTP factors and challenges (docs/mfa.md) -------------------------------------------
# Against a real server the clock is the wall clock: a code is made for the client's time
# step, and the server accepts it within its skew (1 step), so a step boundary passing
# between the two is harmless; the factor is verified with the current step's code and then
# challenged with the next step's (a step already used would be a replay).


def _now_ms() -> int:
    return int(time.time() * 1000)


def enrolled_totp_factor(twilio: Client, identity: str = IDENTITY) -> tuple[Any, str, str]:
    """(entity context, factor sid, secret) of a TOTP factor verified now."""
    service = twilio.verify.v2.services.create(friendly_name="Acme")
    entity = twilio.verify.v2.services(service.sid).entities(identity)
    factor = entity.new_factors.create(friendly_name="phone", factor_type="totp")
    assert factor.status == "unverified"
    secret: str = factor.binding["secret"]
    verified = entity.factors(factor.sid).update(auth_payload=totp_code(secret, _now_ms()))
    assert verified.status == "verified"
    return entity, factor.sid, secret


def _never_right(secret: str) -> str:
    """A 6-digit code that is no code of the steps around now (so always wrong)."""
    around = {totp_code(secret, _now_ms(), steps=s) for s in range(-3, 5)}
    return next(c for c in (f"{n:06d}" for n in range(1000)) if c not in around)


def totp_lifecycle(twilio: Client) -> None:
    """Enrol (unverified → verified), a challenge approved at once, a pending one answered
    after a wrong code, the code replayed (denied), then the entity deleted with all."""
    entity, factor_sid, secret = enrolled_totp_factor(twilio)
    next_code = totp_code(secret, _now_ms(), steps=1)
    approved = entity.challenges.create(factor_sid=factor_sid, auth_payload=next_code)
    assert approved.status == "approved"
    pending = entity.challenges.create(factor_sid=factor_sid)
    assert pending.status == "pending"
    wrong = entity.challenges(pending.sid).update(auth_payload=_never_right(secret))
    assert wrong.status == "pending"
    assert entity.challenges(pending.sid).update(auth_payload=next_code).status == "denied"
    assert [c.status for c in entity.challenges.list()] == ["approved", "denied"]
    assert entity.delete() is True
    assert refusal(entity.fetch) == (404, 20404)
    assert refusal(entity.factors(factor_sid).fetch) == (404, 20404)


def sixteen_right_totp_codes_approve_once(twilio: Client, base_urls: Sequence[str]) -> None:
    """16 simultaneous challenges with the same right code: exactly one approved, the
    other 15 denied (the code's time step is used up)."""
    entity, factor_sid, secret = enrolled_totp_factor(twilio)
    service_sid = entity._solution["service_sid"]
    code = totp_code(secret, _now_ms(), steps=1)

    def create(session: requests.Session, index: int) -> requests.Response:
        url = f"{base_urls[index % len(base_urls)]}/v2/Services/{service_sid}/Entities/{IDENTITY}"
        return session.post(
            f"{url}/Challenges",
            data={"FactorSid": factor_sid, "AuthPayload": code},
            timeout=TIMEOUT_SECONDS,
        )

    outcomes = Counter(outcome(r) for r in run_together(16, create))
    assert outcomes == {(201, "approved"): 1, (201, "denied"): 15}, outcomes


def sixty_wrong_totp_answers_count_exactly_five(twilio: Client, base_urls: Sequence[str]) -> None:
    """60 simultaneous wrong answers to one pending challenge: five evaluated (pending),
    55 refused with 60308; then the right code is refused too (the window is full)."""
    entity, factor_sid, secret = enrolled_totp_factor(twilio)
    service_sid = entity._solution["service_sid"]
    pending = entity.challenges.create(factor_sid=factor_sid)
    wrong = _never_right(secret)

    def answer(session: requests.Session, index: int) -> requests.Response:
        url = f"{base_urls[index % len(base_urls)]}/v2/Services/{service_sid}/Entities/{IDENTITY}"
        return session.post(
            f"{url}/Challenges/{pending.sid}", data={"AuthPayload": wrong}, timeout=TIMEOUT_SECONDS
        )

    outcomes = Counter(outcome(r) for r in run_together(60, answer))
    assert outcomes == {(200, "pending"): 5, (429, 60308): 55}, outcomes
    right = totp_code(secret, _now_ms(), steps=1)
    assert refusal(lambda: entity.challenges(pending.sid).update(auth_payload=right)) == (
        429,
        60308,
    )
