"""The core end-to-end specifications, written once and run against every Redis deployment
(one server, a Redis Cluster, Sentinel): each takes the official twilio SDK client, the
servers' base URLs (a race may be split across several `serve` processes sharing one Redis)
and the console outbox the delivery worker writes to. They say nothing about Redis itself:
what they check is what a caller of the API sees."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
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
