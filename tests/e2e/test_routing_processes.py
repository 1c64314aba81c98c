"""Routing across real processes: `verify-service serve` (gunicorn and its worker child) reads
VERIFY_ROUTES_FILE; a service's MessagingConfiguration sends India through route `india`,
whose first gateway refuses and whose second delivers; its Whatsapp.MsgServiceSid and
Whatsapp.From send WhatsApp through route `wa` with that sender (docs/messages.md, "Routing by
country")."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import server_env, twilio_client
from tests.support.delivery_processes import ServeProcess
from tests.support.processes import RedisServer, wait_until
from tests.support.standin_http import Failure, StandinHttp

IN_MOBILE = "+919876543210"
GW_SID = "AC" + "cafe" * 8
GW_TOKEN = "routing-e2e-standin-token-0123456789"
INDIA = "MG" + "2" * 32
WHATSAPP = "MG" + "3" * 32
SENDER = "+14155550112"


@pytest.fixture
def gateways() -> Iterator[tuple[StandinHttp, StandinHttp]]:
    with (
        StandinHttp(twilio_credentials=(GW_SID, GW_TOKEN)) as first,
        StandinHttp(twilio_credentials=(GW_SID, GW_TOKEN)) as second,
    ):
        yield first, second


def dsn(gateway: StandinHttp, sender: str) -> str:
    return f"twilio+http://{GW_SID}:{GW_TOKEN}@{gateway.netloc}?from={sender}&timeout=2"


@pytest.fixture
def server(
    redis_server: RedisServer,
    redis_client: object,
    gateways: tuple[StandinHttp, StandinHttp],
    tmp_path: Path,
) -> Iterator[ServeProcess]:
    first, second = gateways
    routes = tmp_path / "routes.toml"
    routes.write_text(
        f"""
[routes.india]
sid = "{INDIA}"
sms = "{dsn(first, "+15005550001")} || {dsn(second, "+15005550002")}"

[routes.wa]
sid = "{WHATSAPP}"
whatsapp = "{dsn(second, "+15005550003")}"
whatsapp_senders = ["{SENDER}"]
""",
        encoding="utf-8",
    )
    env = {
        **server_env(redis_server.url, tmp_path / "outbox.jsonl"),
        # Its own key prefix: the session's server (and its worker) share this Redis.
        "VERIFY_REDIS_KEY_PREFIX": "routing",
        "VERIFY_ROUTES_FILE": str(routes),
    }
    process = ServeProcess(env, workers=1)
    process.start(tmp_path / "server.log")
    yield process
    process.stop()


def attempt_of(client: Any, verification_sid: str) -> dict[str, Any]:
    """The `channel_data` of the verification's one attempt, through the SDK."""
    [attempt] = client.verify.v2.verification_attempts.list(verification_sid=verification_sid)
    data: dict[str, Any] = attempt.channel_data
    return data


def test_the_worker_process_fails_over_inside_the_route_and_names_the_whatsapp_sender(
    server: ServeProcess, gateways: tuple[StandinHttp, StandinHttp]
) -> None:
    first, second = gateways
    first.fail_next(Failure.twilio_rejection(), times=1)
    client = twilio_client(server.url)
    service = client.verify.v2.services.create(
        friendly_name="Routed", whatsapp_msg_service_sid=WHATSAPP, whatsapp_from=SENDER
    )
    client.verify.v2.services(service.sid).messaging_configurations.create(
        country="IN", messaging_service_sid=INDIA
    )
    sms = client.verify.v2.services(service.sid).verifications.create(to=IN_MOBILE, channel="sms")
    wait_until(lambda: len(second.requests) == 1, "the second gateway of route india")
    assert [r.form["To"] for r in first.requests] == [IN_MOBILE]
    assert second.requests[0].form["From"] == "+15005550002"
    # The worker process recorded the route with the attempt, after the failover inside it.
    wait_until(lambda: attempt_of(client, sms.sid)["message_status"] == "sent", "the recorded send")
    assert attempt_of(client, sms.sid)["messaging_service_sid"] == INDIA
    client.verify.v2.services(service.sid).verifications.create(to=IN_MOBILE, channel="whatsapp")
    wait_until(lambda: len(second.requests) == 2, "the WhatsApp message of route wa")
    assert second.requests[1].form["From"] == f"whatsapp:{SENDER}"
    assert second.requests[1].form["To"] == f"whatsapp:{IN_MOBILE}"
