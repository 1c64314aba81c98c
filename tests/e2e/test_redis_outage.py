"""Fail closed: while Redis is down every API call is a Twilio-shaped 503, never a 500 and
never a success; when Redis returns on the same port the service recovers by itself."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.e2e.conftest import server_env
from tests.support.outbox import Outbox
from tests.support.processes import ApiServer, RedisServer

TO = "+14155552671"
# Enough calls that both gunicorn workers answer, on stale and on refused connections.
REPEATS = 6
RECOVERY_SECONDS = 10.0
PAUSE_MS = 4000  # long enough for three timed-out calls on a busy machine


@dataclass
class Stack:
    """A Redis and an API server of this module's own, so stopping Redis disturbs no one."""

    redis: RedisServer
    api: ApiServer
    outbox: Outbox
    session: requests.Session

    def post(self, path: str, **params: str) -> requests.Response:
        return self.session.post(f"{self.api.url}{path}", data=params, timeout=10)

    def get(self, path: str) -> requests.Response:
        return self.session.get(f"{self.api.url}{path}", timeout=10)

    def create_service(self) -> str:
        response = self.post("/v2/Services", FriendlyName="Acme")
        assert response.status_code == 201, response.text
        sid: str = response.json()["sid"]
        return sid

    def start(self, service_sid: str) -> requests.Response:
        return self.post(f"/v2/Services/{service_sid}/Verifications", To=TO, Channel="sms")


@dataclass(frozen=True)
class Pending:
    """A verification started while Redis was up, and its code."""

    service_sid: str
    verification_sid: str
    code: str


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder: Path = tmp_path_factory.mktemp("redis_outage")
    redis_server = RedisServer().start()
    api = ApiServer(server_env(redis_server.url, folder / "outbox.jsonl"), workers=2)
    try:
        api.start(folder / "server.log")
        with requests.Session() as session, redis_server.client() as client:
            session.auth = (ACCOUNT_SID, AUTH_TOKEN)
            yield Stack(redis_server, api, Outbox(folder / "outbox.jsonl", client), session)
    finally:
        api.stop()
        redis_server.stop()


def wait_until_ready(stack: Stack) -> None:
    deadline = time.monotonic() + RECOVERY_SECONDS
    while time.monotonic() < deadline:
        if stack.get("/readyz").status_code == 200:
            return
        time.sleep(0.1)
    pytest.fail(f"/readyz did not recover within {RECOVERY_SECONDS} s")


@pytest.fixture
def pending(stack: Stack) -> Iterator[Pending]:
    """A pending verification; then Redis stops, and starts again (empty) after the test."""
    service_sid = stack.create_service()
    started = stack.start(service_sid)
    assert started.status_code == 201, started.text
    sid = started.json()["sid"]
    code = stack.outbox.last_code(sid)
    stack.redis.stop()
    try:
        yield Pending(service_sid, sid, code)
    finally:
        stack.redis.stop()  # a no-op unless the test restarted it
        stack.redis.start()
        wait_until_ready(stack)


def assert_store_unavailable(response: requests.Response) -> None:
    assert response.status_code == 503, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"code", "message", "more_info", "status"}, body
    assert body["code"] == 20503
    assert body["status"] == 503
    assert isinstance(body["message"], str)
    assert body["message"]
    assert body["more_info"] == "https://www.twilio.com/docs/errors/20503"


CALLS: dict[str, Callable[[Stack, Pending], requests.Response]] = {
    "start": lambda s, p: s.start(p.service_sid),
    "check": lambda s, p: s.post(
        f"/v2/Services/{p.service_sid}/VerificationCheck", To=TO, Code="000000"
    ),
    "fetch": lambda s, p: s.get(f"/v2/Services/{p.service_sid}/Verifications/{p.verification_sid}"),
    "create service": lambda s, _: s.post("/v2/Services", FriendlyName="Acme"),
    "list services": lambda s, _: s.get("/v2/Services"),
    "create webhook": lambda s, p: s.post(
        f"/v2/Services/{p.service_sid}/Webhooks",
        FriendlyName="hook",
        EventTypes="*",
        WebhookUrl="https://93.184.216.34/hook",
    ),
    "list webhooks": lambda s, p: s.get(f"/v2/Services/{p.service_sid}/Webhooks"),
    "fetch webhook": lambda s, p: s.get(f"/v2/Services/{p.service_sid}/Webhooks/YW{'0' * 32}"),
}


def test_a_start_succeeds_while_redis_is_up(stack: Stack) -> None:
    """With Redis up, a start on this module's own server is a 201 with a delivered code."""
    response = stack.start(stack.create_service())
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "pending"
    assert len(stack.outbox.codes_for(response.json()["sid"])) == 1


@pytest.mark.parametrize("call", list(CALLS), ids=list(CALLS))
def test_every_api_call_answers_503_while_redis_is_down(
    stack: Stack, pending: Pending, call: str
) -> None:
    """Start, check, fetch, service create and list, webhook create, list and fetch are each a
    Twilio-shaped 503 (20503)."""
    for _ in range(REPEATS):
        assert_store_unavailable(CALLS[call](stack, pending))


def test_a_check_with_the_right_code_is_never_approved_while_redis_is_down(
    stack: Stack, pending: Pending
) -> None:
    """Fail closed: the right code, while Redis is down, gets 503 and never `approved`."""
    path = f"/v2/Services/{pending.service_sid}/VerificationCheck"
    for params in (
        {"To": TO, "Code": pending.code},
        {"VerificationSid": pending.verification_sid, "Code": pending.code},
    ):
        for _ in range(REPEATS):
            response = stack.post(path, **params)
            assert "approved" not in response.text
            assert_store_unavailable(response)


def test_readyz_is_503_and_healthz_200_while_redis_is_down(stack: Stack, pending: Pending) -> None:
    """Readiness follows Redis; liveness does not (the process itself is fine)."""
    for _ in range(REPEATS):
        assert stack.get("/readyz").status_code == 503
        assert stack.get("/healthz").status_code == 200


def test_the_service_recovers_by_itself_when_redis_returns_on_the_same_port(
    stack: Stack,
) -> None:
    """After Redis restarts (empty) on its port, /readyz turns 200 and starts succeed again."""
    port = stack.redis.port
    stack.redis.stop()
    try:
        assert_store_unavailable(stack.post("/v2/Services", FriendlyName="Acme"))
    finally:
        stack.redis.start()
    assert stack.redis.port == port

    wait_until_ready(stack)

    # Redis came back empty, so every start needs a new service; each worker answers some.
    for _ in range(REPEATS):
        assert stack.get("/readyz").status_code == 200
        service_sid = stack.create_service()
        response = stack.start(service_sid)
        assert response.status_code == 201, response.text
    sid = response.json()["sid"]
    check = stack.post(
        f"/v2/Services/{service_sid}/VerificationCheck",
        VerificationSid=sid,
        Code=stack.outbox.last_code(sid),
    )
    assert check.status_code == 200, check.text
    assert (check.json()["status"], check.json()["valid"]) == ("approved", True)


def test_a_redis_that_stops_answering_is_a_503_within_the_timeout(stack: Stack) -> None:
    """A hung Redis (CLIENT PAUSE) turns into 503s after the 0.5 s timeout, then recovers."""
    service_sid = stack.create_service()
    started = stack.start(service_sid)
    assert started.status_code == 201, started.text
    sid = started.json()["sid"]
    code = stack.outbox.last_code(sid)
    check_path = f"/v2/Services/{service_sid}/VerificationCheck"
    with stack.redis.client() as admin:
        admin.client_pause(PAUSE_MS, all=True)

    began = time.monotonic()
    assert_store_unavailable(stack.start(service_sid))
    hung_check = stack.post(check_path, VerificationSid=sid, Code=code)
    assert "approved" not in hung_check.text
    assert_store_unavailable(hung_check)
    assert stack.get("/readyz").status_code == 503
    assert time.monotonic() - began < PAUSE_MS / 1000

    wait_until_ready(stack)
    check = stack.post(check_path, VerificationSid=sid, Code=code)
    assert check.status_code == 200, check.text
    assert (check.json()["status"], check.json()["valid"]) == ("approved", True)
