"""The whole receipt loop across real processes: `verify-service serve` (gunicorn and its
worker child) sends through `twilio://` to the HTTP stand-in with a `StatusCallback`; the test
plays Twilio and posts a signed status callback to exactly that URL; the extension endpoint
then shows the attempt delivered. A forged callback to the same URL changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from twilio.request_validator import RequestValidator

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.e2e.conftest import server_env, twilio_client
from tests.support.delivery_processes import ServeProcess
from tests.support.processes import RedisServer
from tests.support.standin_http import StandinHttp

TO = "+14155552671"
TWILIO_SID = "AC" + "feed" * 8
TWILIO_TOKEN = "twilio-e2e-standin-token-0123456789"
WAIT_SECONDS = 15.0


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def standin() -> Iterator[StandinHttp]:
    with StandinHttp(twilio_credentials=(TWILIO_SID, TWILIO_TOKEN)) as server:
        yield server


@pytest.fixture
def server(
    redis_server: RedisServer, redis_client: object, standin: StandinHttp, tmp_path: Path
) -> Iterator[ServeProcess]:
    env = {
        **server_env(redis_server.url, tmp_path / "outbox.jsonl"),
        # Its own key prefix: the session's server (and its worker) share this Redis.
        "VERIFY_REDIS_KEY_PREFIX": "receipts",
        "VERIFY_SMS_PROVIDERS": (
            f"twilio+http://{TWILIO_SID}:{TWILIO_TOKEN}@{standin.netloc}?from=+15005550006"
        ),
    }
    process = ServeProcess(env, workers=1)
    process.env["VERIFY_PUBLIC_URL"] = process.url  # what a provider would call back
    process.start(tmp_path / "server.log")
    yield process
    process.stop()


def test_a_signed_status_callback_shows_up_as_delivered(
    server: ServeProcess, standin: StandinHttp
) -> None:
    client = twilio_client(server.url)
    service = client.verify.v2.services.create(friendly_name="Receipts")
    verification = client.verify.v2.services(service.sid).verifications.create(to=TO, channel="sms")
    attempt_sid = verification.send_code_attempts[0]["attempt_sid"]
    wait_for(lambda: len(standin.requests) == 1, "the Twilio request")
    sent = standin.requests[0].form
    callback = sent["StatusCallback"]
    assert callback == f"{server.url}/v2/DeliveryReceipts/Twilio/{attempt_sid}"
    message_sid = standin.replies[0]["sid"]
    list_url = (
        f"{server.url}/v2/Services/{service.sid}/Verifications/{verification.sid}/DeliveryAttempts"
    )

    def attempts() -> list[dict[str, object]]:
        response = requests.get(list_url, auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5)
        assert response.status_code == 200, response.text
        found: list[dict[str, object]] = response.json()["delivery_attempts"]
        return found

    wait_for(lambda: attempts()[0]["status"] == "sent", "the attempt recorded as sent")

    params = {
        "AccountSid": TWILIO_SID,
        "MessageSid": message_sid,
        "MessageStatus": "delivered",
        "To": TO,
    }
    forged = requests.post(
        callback,
        data={**params},
        headers={
            "X-Twilio-Signature": RequestValidator(AUTH_TOKEN).compute_signature(callback, params)
        },  # signed with our own API token, not the provider's
        timeout=5,
    )
    assert forged.status_code == 403
    assert attempts()[0]["status"] == "sent"

    signature = RequestValidator(TWILIO_TOKEN).compute_signature(callback, params)
    response = requests.post(
        callback, data=params, headers={"X-Twilio-Signature": signature}, timeout=5
    )

    assert response.status_code == 204
    (attempt,) = attempts()
    assert attempt["attempt_sid"] == attempt_sid
    assert attempt["status"] == "delivered"
    assert attempt["provider_message_id"] == message_sid
    assert attempt["date_delivered"] is not None
