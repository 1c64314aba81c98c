"""A cancel never hands out fresh guesses, however many starts race it (issue 9, item 3).

Through the real server (gunicorn, two workers) and the official SDK: a verification locked
by five wrong checks is canceled, and hundreds of starts for its destination arrive at once,
right after the cancel or together with it. Every one is refused with 429/60202: the lock is
written by the script that ends the verification and read by the script that creates one.
And wrong checks, cancels and starts released together, round after round, never evaluate
more than five wrong checks in all: the checks a cancel ends carry into the next start.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import redis
import requests
from twilio.rest import Client

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.e2e.test_concurrency import verification_keys
from tests.support.core_specs import outcome, run_together, wrong_code
from tests.support.outbox import Outbox
from tests.support.processes import ApiServer

TO = "+14155552671"
TIMEOUT_SECONDS = 30


def locked_verification(twilio: Client, outbox: Outbox) -> tuple[str, str]:
    """A service and a verification of TO in it whose five checks are used up."""
    service = twilio.verify.v2.services.create(friendly_name="Acme")
    verification = twilio.verify.v2.services(service.sid).verifications.create(to=TO, channel="sms")
    wrong = wrong_code(outbox.last_code(verification.sid))
    checks = twilio.verify.v2.services(service.sid).verification_checks
    statuses = [checks.create(to=TO, code=wrong).status for _ in range(5)]
    assert statuses == ["pending"] * 4 + ["max_attempts_reached"]
    return service.sid, verification.sid


def test_four_hundred_starts_right_after_the_cancel_are_all_refused(
    twilio: Client, api_server: ApiServer, redis_client: redis.Redis, outbox: Outbox
) -> None:
    """5 wrong checks, a cancel, then 400 simultaneous starts: 400 x 429/60202, none sent."""
    service, sid = locked_verification(twilio, outbox)
    canceled = twilio.verify.v2.services(service).verifications(sid).update(status="canceled")
    assert canceled.status == "canceled"
    url = f"{api_server.url}/v2/Services/{service}/Verifications"
    outbox.wait_until_drained()
    messages = len(outbox.messages())

    responses = run_together(
        400, lambda session, _: session.post(url, data={"To": TO, "Channel": "sms"}, timeout=30)
    )

    assert Counter(outcome(r) for r in responses) == {(429, 60202): 400}
    assert all(0 < int(r.headers["Retry-After"]) <= 600 for r in responses)
    assert verification_keys(redis_client) == []
    outbox.wait_until_drained()
    assert len(outbox.messages()) == messages


def test_starts_racing_the_cancel_are_all_refused(
    twilio: Client, api_server: ApiServer, redis_client: redis.Redis, outbox: Outbox
) -> None:
    """One cancel and 300 starts released together: whichever way each start interleaves
    with the cancel, it sees the locked verification or its lock, and is refused."""
    service, sid = locked_verification(twilio, outbox)
    starts_url = f"{api_server.url}/v2/Services/{service}/Verifications"
    cancel_url = f"{starts_url}/{sid}"
    starts = 300
    barrier = threading.Barrier(starts + 1)

    def one(index: int) -> requests.Response:
        with requests.Session() as session:
            session.auth = (ACCOUNT_SID, AUTH_TOKEN)
            barrier.wait(TIMEOUT_SECONDS)
            if index == starts:
                response = session.post(cancel_url, data={"Status": "canceled"}, timeout=30)
            else:
                response = session.post(starts_url, data={"To": TO, "Channel": "sms"}, timeout=30)
            response.content  # noqa: B018 - read the body before the session closes
            return response

    with ThreadPoolExecutor(max_workers=starts + 1) as pool:
        responses = list(pool.map(one, range(starts + 1)))

    *started, canceled = responses
    assert (canceled.status_code, canceled.json()["status"]) == (200, "canceled")
    assert Counter(outcome(r) for r in started) == {(429, 60202): starts}
    assert verification_keys(redis_client) == []


def test_wrong_checks_racing_cancels_and_starts_never_exceed_five_in_all(
    twilio: Client, api_server: ApiServer, outbox: Outbox
) -> None:
    """Eight rounds of a start, then two wrong checks, a cancel and a start released together
    (hourly limits off): of all the wrong checks, exactly five are ever evaluated."""
    created = requests.post(
        f"{api_server.url}/v2/Services",
        data={
            "FriendlyName": "Acme",
            "ChecksPerDestinationPerHour": "0",
            "SendsPerDestinationPerHour": "0",
            "SendsPerDestinationPerDay": "0",
        },
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=TIMEOUT_SECONDS,
    )
    assert created.status_code == 201, created.text
    starts_url = f"{api_server.url}/v2/Services/{created.json()['sid']}/Verifications"
    checks_url = f"{api_server.url}/v2/Services/{created.json()['sid']}/VerificationCheck"
    wrong = "000000"  # replaced by a code known to be wrong before any check

    def start() -> requests.Response:
        return requests.post(
            starts_url,
            data={"To": TO, "Channel": "sms"},
            auth=(ACCOUNT_SID, AUTH_TOKEN),
            timeout=TIMEOUT_SECONDS,
        )

    def round_of(sid: str, wrong: str) -> Callable[[requests.Session, int], requests.Response]:
        """A cancel of `sid`, a start and wrong checks by To, one per thread."""

        def one(session: requests.Session, index: int) -> requests.Response:
            if index == 0:
                return session.post(f"{starts_url}/{sid}", data={"Status": "canceled"}, timeout=30)
            if index == 1:
                return session.post(starts_url, data={"To": TO, "Channel": "sms"}, timeout=30)
            return session.post(checks_url, data={"To": TO, "Code": wrong}, timeout=30)

        return one

    checks: list[requests.Response] = []
    for _ in range(8):
        started = start()
        if started.status_code != 201:
            assert outcome(started) == (429, 60202)  # locked: all five used
            continue
        sid = started.json()["sid"]
        wrong = wrong_code(outbox.last_code(sid))
        responses = run_together(4, round_of(sid, wrong))
        checks += responses[2:]
    # Then, one by one, wrong checks of whatever is left until they are refused.
    started = start()
    if started.status_code == 201:
        wrong = wrong_code(outbox.last_code(started.json()["sid"]))
    for _ in range(6):
        checks.append(
            requests.post(
                checks_url,
                data={"To": TO, "Code": wrong},
                auth=(ACCOUNT_SID, AUTH_TOKEN),
                timeout=30,
            )
        )

    evaluated = [r for r in checks if r.status_code == 200]
    assert len(evaluated) == 5, Counter(outcome(r) for r in checks)
    assert [r.json()["status"] for r in evaluated].count("max_attempts_reached") == 1
    assert outcome(start()) == (429, 60202)
