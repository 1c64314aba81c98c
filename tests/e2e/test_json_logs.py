"""`VERIFY_LOG_FORMAT=json`: a real `verify-service serve` (gunicorn, its access log on, its
child delivery worker) under a workload with errors writes one JSON object per line on
standard output and standard error alike; every line written while a request was handled
names its request id; the access line carries the same id; no line carries the destination,
a code or a secret in any spelling. And every answer carries `X-Request-Id` and Twilio's
`Twilio-Request-Id`."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from twilio.base.exceptions import TwilioRestException

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, SECRET_KEY
from tests.e2e.conftest import server_env, twilio_client
from tests.support.outbox import Outbox
from tests.support.processes import ApiServer, RedisServer

PHONE = "+14155552671"
EMAIL = "victim@example.com"
# The destinations as they may be spelled in a log line (or a URL), and pieces of them.
SPELLINGS = (
    PHONE,
    "14155552671",
    "4155552671",
    "415-555-2671",
    "415 555 2671",
    "(415) 555-2671",
    "%2B14155552671",
    "%2b14155552671",
    "5552671",
    "555-2671",
    EMAIL,
    "victim%40example.com",
    "victim",
    "Victim",
)
SECRETS = (AUTH_TOKEN, SECRET_KEY)
TWILIO_REQUEST_ID = re.compile(r"RQ[0-9a-f]{32}")
HOSTILE_REQUEST_IDS = (
    PHONE,  # a number: `+` is refused
    "14155552671",  # digits only: could be a number
    "1-415-555-2671",
    EMAIL,
    "a" * 129,  # too long
    "id with spaces",
    "<script>",
    "ab%0d%0aInjected: 1",
)
CLIENT_REQUEST_ID = "client-req_42.a:b"
MALFORMED = (
    b"GET /v2/Attempts?ChannelData.To=+1 415 555 2671 HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET /v2/Attempts?To=victim@example.com\u00e9 HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
    b"GET /v2/Services HTTP/1.1\r\nHost: x\r\n+14155552671: victim@example.com\r\n\r\n",
)


def get(url: str, **kwargs: Any) -> requests.Response:
    return requests.get(url, auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=10, **kwargs)


@pytest.fixture(scope="module")
def own_redis() -> Iterator[RedisServer]:
    """A Redis of this module's own: a worker left running by another module on the
    suite's Redis would take this server's messages and write their codes elsewhere."""
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def json_run(own_redis: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A server of its own (JSON logs, access log, child worker, Redis) driven through the
    SDK and plain HTTP, with errors; its whole output read after it stopped, the codes sent,
    and the answers the assertions need."""
    redis_server = own_redis
    folder: Path = tmp_path_factory.mktemp("json_logs")
    outbox_path = folder / "outbox.jsonl"
    env = {
        **server_env(redis_server.url, outbox_path),
        "VERIFY_LOG_FORMAT": "json",
        "VERIFY_LOGG_LEVEL": "INFO",  # a typo: its warning is a JSON line too
    }
    server = ApiServer(env, workers=2, options=("--access-log",))
    redis_server.client().flushall()
    server.start(folder / "server.log")
    outbox = Outbox(outbox_path, redis_server.client())
    answers: dict[str, Any] = {}
    try:
        twilio = twilio_client(server.url)
        service = twilio.verify.v2.services.create(friendly_name="Logs")
        verifications = twilio.verify.v2.services(service.sid).verifications
        sms = verifications.create(to=PHONE, channel="sms")
        mail = verifications.create(to=EMAIL, channel="email")
        code = outbox.last_code(sms.sid)
        # Wrong codes (each a log line), then the right one (approved).
        for wrong in ("000000", "999999"):
            if wrong != code:
                twilio.verify.v2.services(service.sid).verification_checks.create(
                    to=PHONE, code=wrong
                )
        twilio.verify.v2.services(service.sid).verification_checks.create(to=PHONE, code=code)
        mail_code = outbox.last_code(mail.sid)
        # Errors: a destination in a path (404), an unknown route, bad credentials named
        # after the destination, an invalid parameter, a resend past the limit.
        answers["safe_list_404"] = get(f"{server.url}/v2/SafeList/Numbers/{PHONE}")
        answers["no_route"] = get(f"{server.url}/nowhere/{EMAIL}")
        answers["unauthorized"] = requests.get(
            f"{server.url}/v2/Services", auth=(PHONE, AUTH_TOKEN), timeout=10
        )
        with pytest.raises(TwilioRestException):
            verifications.create(to="+1 415 555 2671", channel="pigeon")
        for _ in range(6):
            try:
                verifications.create(to=EMAIL, channel="email")
            except TwilioRestException:
                break
        answers["client_id"] = get(
            f"{server.url}/v2/Services/{service.sid}",
            headers={"X-Request-Id": CLIENT_REQUEST_ID},
        )
        answers["hostile"] = [
            get(f"{server.url}/v2/Services", headers={"X-Request-Id": hostile})
            for hostile in HOSTILE_REQUEST_IDS
        ]
        answers["readyz"] = requests.get(f"{server.url}/readyz", timeout=10)
        # Requests gunicorn itself refuses, carrying the destinations: its own error lines
        # stay masked in JSON too.
        for raw in MALFORMED:
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
                sock.sendall(raw)
                while sock.recv(65536):
                    pass
        outbox.wait_until_drained()
        codes = [code, mail_code, *outbox.codes_for(mail.sid)]
    finally:
        server.stop()
    text = (folder / "server.log").read_text(encoding="utf-8")
    return {"text": text, "codes": codes, "answers": answers, "service": service.sid}


def parsed(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def test_every_line_is_one_json_object_with_the_documented_fields(
    json_run: dict[str, Any],
) -> None:
    """gunicorn's lines, the app's and the worker's: each parses, with timestamp, level,
    logger, message and event."""
    lines = json_run["text"].splitlines()
    assert len(lines) > 20
    for line in lines:
        entry = json.loads(line)  # raises on anything that is not one JSON object
        assert isinstance(entry, dict), line
        for field in ("timestamp", "level", "logger", "message", "event"):
            assert field in entry, line
    events = {entry["event"] for entry in parsed(json_run["text"])}
    assert {"unknown_variable", "access", "redis_not_durable"} <= events
    loggers = {entry["logger"] for entry in parsed(json_run["text"])}
    assert {"gunicorn.error", "gunicorn.access"} <= loggers
    assert "verify_service.application.delivery.delivery_worker" in loggers  # the child worker


def test_every_line_written_in_a_request_names_its_request_id(json_run: dict[str, Any]) -> None:
    """The access line and every app line of a gunicorn worker carry the request id; the
    access line has its method, masked path, status and duration as fields."""
    entries = parsed(json_run["text"])
    booted = re.compile(r"Booting worker with pid: (\d+)")
    api_pids = {
        int(match.group(1)) for entry in entries if (match := booted.search(entry["message"]))
    }
    assert len(api_pids) == 2
    in_requests = [
        entry
        for entry in entries
        if entry["process"] in api_pids and entry["logger"].startswith("verify_service.")
    ]
    access = [entry for entry in entries if entry["logger"] == "gunicorn.access"]
    assert in_requests
    assert access
    assert [entry for entry in [*in_requests, *access] if not entry.get("request_id")] == []
    for entry in access:
        assert {"method", "path", "status", "duration_ms", "twilio_request_id"} <= set(entry)
    assert any(entry["path"] == "/v2/SafeList/Numbers/*" for entry in access)


def test_no_line_carries_a_destination_code_or_secret_in_any_spelling(
    json_run: dict[str, Any],
) -> None:
    """Scanned as written (JSON escapes included) and as decoded."""
    text = json_run["text"]
    decoded = "\n".join(json.dumps(entry, ensure_ascii=False) for entry in parsed(text))
    for haystack in (text, decoded):
        for spelling in (*SPELLINGS, *SECRETS, *HOSTILE_REQUEST_IDS[2:]):
            assert spelling not in haystack, spelling
        for code in json_run["codes"]:
            assert not re.search(rf"(?<![0-9]){code}(?![0-9])", haystack), "a code was logged"


def test_a_client_request_id_is_answered_and_logged(json_run: dict[str, Any]) -> None:
    """An acceptable `X-Request-Id` comes back as it was sent, and names the request's
    access line; `Twilio-Request-Id` is still the service's own `RQ…` id, logged beside it."""
    answer = json_run["answers"]["client_id"]
    assert answer.status_code == 200
    assert answer.headers["X-Request-Id"] == CLIENT_REQUEST_ID
    twilio_id = answer.headers["Twilio-Request-Id"]
    assert TWILIO_REQUEST_ID.fullmatch(twilio_id)
    (line,) = [
        entry
        for entry in parsed(json_run["text"])
        if entry["logger"] == "gunicorn.access" and entry.get("request_id") == CLIENT_REQUEST_ID
    ]
    assert line["twilio_request_id"] == twilio_id
    assert line["path"] == f"/v2/Services/{json_run['service']}"


def test_a_hostile_request_id_is_replaced(json_run: dict[str, Any]) -> None:
    """A number, an e-mail address, an over-long or odd id is not echoed nor logged: the
    answer names a new `RQ…` id, the same in both headers."""
    for answer in json_run["answers"]["hostile"]:
        assert answer.status_code == 200
        assert TWILIO_REQUEST_ID.fullmatch(answer.headers["X-Request-Id"])
        assert answer.headers["X-Request-Id"] == answer.headers["Twilio-Request-Id"]


@pytest.mark.parametrize("name", ["safe_list_404", "no_route", "unauthorized", "readyz"])
def test_errors_404s_and_health_checks_carry_twilio_request_id(
    json_run: dict[str, Any], name: str
) -> None:
    """Every answer, not only the successful ones."""
    answer = json_run["answers"][name]
    assert answer.status_code in {200, 401, 404}
    assert TWILIO_REQUEST_ID.fullmatch(answer.headers["Twilio-Request-Id"])
    assert answer.headers["X-Request-Id"] == answer.headers["Twilio-Request-Id"]


def test_the_text_format_still_names_the_request_id(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """`VERIFY_LOG_FORMAT=text` (the default): one readable line per event, the access line
    and the app's lines with `[rid=…]`."""
    env = {**server_env(redis_server.url, tmp_path / "outbox.jsonl"), "VERIFY_LOG_FORMAT": "text"}
    server = ApiServer(env, workers=1, options=("--access-log", "--no-worker"))
    server.start(tmp_path / "server.log")
    try:
        created = requests.post(
            f"{server.url}/v2/Services",
            data={"FriendlyName": "Text"},
            auth=(ACCOUNT_SID, AUTH_TOKEN),
            headers={"X-Request-Id": CLIENT_REQUEST_ID},
            timeout=10,
        )
        assert created.status_code == 201
    finally:
        server.stop()
    lines = (tmp_path / "server.log").read_text(encoding="utf-8").splitlines()
    tagged = [line for line in lines if f"[rid={CLIENT_REQUEST_ID}]" in line]
    assert any(
        "gunicorn.access" in line and '"POST /v2/Services HTTP/1.1" 201' in line for line in tagged
    )
    assert any("service VA" in line and "created" in line for line in tagged)
    assert not any(line.lstrip().startswith("{") for line in lines)
