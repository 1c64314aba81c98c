"""The real gunicorn access log (`serve --access-log`) never shows a phone number or an
e-mail address, in whatever spelling a client puts it in the URL; it still shows each
request's route, sids and status."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.e2e.conftest import server_env
from tests.support.processes import ApiServer, RedisServer

# Spellings of +1 415 555 2671 and victim@example.com as they may appear in a URL.
SPELLINGS = [
    "%2B14155552671",
    "+14155552671",
    "%2B1%20415%20555%202671",
    "+1-415-555-2671",
    "%2B1-415-555-2671",
    "%28415%29%20555-2671",
    "415.555.2671",
    "%2b1%2d415%2d555%2d2671",
    "%252B14155552671",
    "tel:%2B14155552671",
    "victim@example.com",
    "victim%40example.com",
    "Victim%40Example.COM",
    "victim%2Btag%40example.com",
]
USER_NAMES = ["victim@example.com", "+14155552671"]
PERSONAL_FRAGMENTS = ("555", "2671", "ictim", "example.com", "%40", "@")


@pytest.fixture(scope="module")
def logged_requests(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A server of its own with the access log on, sent every spelling on the routes that
    carry a destination; its log, read after it stopped (everything flushed)."""
    folder: Path = tmp_path_factory.mktemp("access_log")
    env = server_env(redis_server.url, folder / "outbox.jsonl")
    server = ApiServer(env, workers=1, options=("--access-log",))
    server.start(folder / "server.log")
    auth = (ACCOUNT_SID, AUTH_TOKEN)
    try:
        with requests.Session() as session:
            session.auth = auth
            for spelling in SPELLINGS:
                for target in (
                    f"/v2/SafeList/Numbers/{spelling}",
                    f"/v2/Attempts?ChannelData.To={spelling}&PageSize=5",
                    f"/v2/Attempts?{spelling}=1",
                    f"/v2/Services?FriendlyName={spelling}",
                    f"/console/search?to={spelling}",
                    f"/nowhere/{spelling}/{spelling}?x={spelling}",
                ):
                    # `requests` would re-encode the URL: send the bytes as written.
                    request = requests.Request("GET", f"{server.url}{target}", auth=auth)
                    prepared = session.prepare_request(request)
                    prepared.url = f"{server.url}{target}"
                    session.send(prepared, timeout=10, allow_redirects=False)
            # A client that typed its e-mail or number as the Basic user name.
            for user in USER_NAMES:
                requests.get(f"{server.url}/v2/Services", auth=(user, "wrong"), timeout=10)
    finally:
        server.stop()
    return (folder / "server.log").read_text(encoding="utf-8")


# What a line carries that is not the request: its time and the request's random id (whose
# hex digits can spell `555` by chance).
_NOT_THE_REQUEST = re.compile(r"^\S+ \S+ |RQ[0-9a-f]{32}")


def access_lines(log: str) -> list[str]:
    return [
        _NOT_THE_REQUEST.sub("", line)
        for line in log.splitlines()
        if '"GET /' in line and "/healthz" not in line
    ]


def test_no_number_or_email_reaches_the_access_log_in_any_spelling(logged_requests: str) -> None:
    """Every request was logged, and no line carries a fragment of the number or mailbox."""
    lines = access_lines(logged_requests)
    assert len(lines) == len(SPELLINGS) * 6 + len(USER_NAMES)
    leaked = [line for line in lines if any(part in line.lower() for part in PERSONAL_FRAGMENTS)]
    assert leaked == []


def test_the_access_log_still_shows_routes_parameter_names_and_statuses(
    logged_requests: str,
) -> None:
    """An operator can still tell which route was called, with which parameters, and how it
    was answered."""
    lines = access_lines(logged_requests)
    assert sum('"GET /v2/SafeList/Numbers/* HTTP/1.1" 404' in line for line in lines) >= 1
    attempts = '"GET /v2/Attempts?ChannelData.To=*&PageSize=* HTTP/1.1" '
    assert sum(attempts in line for line in lines) == len(SPELLINGS)
    assert sum('"GET /v2/Attempts?*=* HTTP/1.1"' in line for line in lines) == len(SPELLINGS)
