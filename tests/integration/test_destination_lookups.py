"""Look-ups by destination by those who see destinations masked (`support` keys, support
console users) are audited and limited per principal: `GET /v2/Attempts?ChannelData.To=…`
tried filler after filler would otherwise spell a masked number out in full."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import Api
from tests.integration.test_api_keys import basic, create_key
from tests.integration.test_console import ADMIN_PASSWORD, PASSWORD, Console
from tests.integration.test_rate_limit_store import run_concurrently
from tests.support.fakes import FixedClock, RecordingSender
from verify_service.adapters.redis_store.audit import audit_log
from verify_service.app import CONTAINER_KEY, build_staff_users, create_app
from verify_service.application.access.destination_lookups import DEFAULT_LOOKUPS_PER_HOUR
from verify_service.settings import ConfigError, Settings

TO = "+14155552671"
LIMIT = DEFAULT_LOOKUPS_PER_HOUR  # 60


def filler(n: int) -> str:
    """The n-th guess at `+1 415 555 ••••`, as an attacker would try them."""
    return f"+1415555{n:04d}"


class Key:
    """An API key's view of the API."""

    def __init__(self, client: FlaskClient, key: dict[str, Any]) -> None:
        self.client = client
        self.key = key
        self.sid: str = key["sid"]
        self.headers = basic(key["sid"], key["secret"])

    def on(self, client: FlaskClient) -> Key:
        """The same key on another client (one per thread)."""
        return Key(client, self.key)

    def attempts_to(self, to: str) -> TestResponse:
        return self.client.get(
            "/v2/Attempts", query_string={"ChannelData.To": to}, headers=self.headers
        )

    def resend(self, service_sid: str, to: str = TO) -> TestResponse:
        return self.client.post(
            f"/v2/Services/{service_sid}/Verifications",
            data={"To": to, "Channel": "sms"},
            headers=self.headers,
        )


def key_of(api: Api, app: Flask, role: str = "support") -> Key:
    return Key(app.test_client(), create_key(api, role=role, name=f"{role} desk"))


def entries(app: Flask, action: str) -> list[dict[str, Any]]:
    """The audit entries of `action`, oldest first."""
    records, _more = app.extensions[CONTAINER_KEY].audit.newest(1000)
    found = [dataclasses.asdict(r.entry) for r in reversed(records)]
    return [entry for entry in found if entry["action"] == action]


@pytest.fixture
def small_limit_app(
    settings: Settings, redis_client: redis.Redis, clock: FixedClock, sender: RecordingSender
) -> Flask:
    """The app with VERIFY_DESTINATION_LOOKUPS_PER_HOUR=3."""
    limited = dataclasses.replace(settings, destination_lookups_per_hour=3)
    return create_app(limited, clock=clock, providers=sender.as_providers())


# -- the API -------------------------------------------------------------------------------


def race(key: Key, app: Flask, threads: int, each: int) -> list[TestResponse]:
    """`threads` clients of `key` released together, `each` look-ups apiece (fillers)."""
    clients = [key.on(app.test_client()) for _ in range(threads)]
    return [
        answer
        for batch in run_concurrently(
            threads,
            lambda i: [clients[i].attempts_to(filler(each * i + j)) for j in range(each)],
        )
        for answer in batch
    ]


def test_a_race_of_120_lookups_by_one_support_key_answers_exactly_60(api: Api, app: Flask) -> None:
    """120 concurrent exact-match look-ups (40 threads released together, 3 each): exactly
    the limit answered, the rest 429/20429 with Retry-After, every one audited, masked."""
    support = key_of(api, app)
    answers = race(support, app, threads=40, each=3)

    statuses = [answer.status_code for answer in answers]
    assert statuses.count(200) == LIMIT
    assert statuses.count(429) == 120 - LIMIT
    for refused in (a for a in answers if a.status_code == 429):
        assert refused.json["code"] == 20429
        assert 0 < int(refused.headers["Retry-After"]) <= 3601
    audited = entries(app, "attempts.list")
    assert len(audited) == 120
    assert [e["outcome"] for e in audited].count("ok") == LIMIT
    assert [e["outcome"] for e in audited].count("20429") == 120 - LIMIT
    assert {e["actor"] for e in audited} == {support.sid}
    assert {e["role"] for e in audited} == {"support"}
    for entry in audited:
        assert entry["target"].startswith("+14•")
        assert "1415555" not in entry["target"]


def test_a_lookup_that_cannot_be_audited_is_a_503_and_spends_nothing(
    api: Api, app: Flask, redis_client: redis.Redis
) -> None:
    """When the count is written but the audit entry is not (here the audit head is
    unreadable), the look-up answers 503, never unaudited, and is taken back from the
    count: the key still has its whole hour afterwards."""
    support = key_of(api, app)
    head = "it:{audit}:head"
    redis_client.rename(head, f"{head}:saved")
    redis_client.set(head, "not a hash")
    try:
        refused = [support.attempts_to(filler(n)) for n in range(5)]
    finally:
        redis_client.delete(head)
        redis_client.rename(f"{head}:saved", head)
    assert {(r.status_code, r.json["code"]) for r in refused} == {(503, 20503)}
    answered = [support.attempts_to(filler(100 + n)).status_code for n in range(LIMIT + 1)]
    assert answered == [200] * LIMIT + [429]


def test_the_window_frees_after_retry_after(api: Api, app: Flask, clock: FixedClock) -> None:
    """Past the limit a key waits Retry-After seconds, then is answered again."""
    support = key_of(api, app)
    for n in range(LIMIT):
        assert support.attempts_to(filler(n)).status_code == 200
    refused = support.attempts_to(TO)
    assert (refused.status_code, refused.json["code"]) == (429, 20429)
    clock.advance(int(refused.headers["Retry-After"]))
    assert support.attempts_to(TO).status_code == 200


def test_each_support_key_has_its_own_limit_and_admins_have_none(api: Api, app: Flask) -> None:
    """One key's look-ups do not spend another's; the account's own are neither counted
    nor refused (it sees numbers in full anyway)."""
    first, second = key_of(api, app), key_of(api, app)
    for n in range(LIMIT):
        assert first.attempts_to(filler(n)).status_code == 200
    assert first.attempts_to(TO).status_code == 429
    assert second.attempts_to(TO).status_code == 200
    for n in range(LIMIT + 10):
        answer = api.client.get(
            "/v2/Attempts", query_string={"ChannelData.To": filler(n)}, headers=api.headers
        )
        assert answer.status_code == 200
    assert {e["actor"] for e in entries(app, "attempts.list")} == {first.sid, second.sid}


def test_listing_without_a_destination_filter_is_not_counted(api: Api, app: Flask) -> None:
    """Only a look-up by destination is counted: the unfiltered history is not an oracle."""
    support = key_of(api, app)
    for _ in range(LIMIT + 5):
        assert support.client.get("/v2/Attempts", headers=support.headers).status_code == 200
    assert support.attempts_to(TO).status_code == 200
    assert len(entries(app, "attempts.list")) == 1


def test_a_malformed_destination_is_a_400_audited_and_not_counted(
    api: Api, small_limit_app: Flask
) -> None:
    """Bad input is a clear 60200 and costs nothing of the limit."""
    app_api = Api(small_limit_app.test_client())
    support = key_of(app_api, small_limit_app)
    for _ in range(5):
        refused = support.attempts_to("415-555")
        assert (refused.status_code, refused.json["code"]) == (400, 60200)
        assert "ChannelData.To" in refused.json["message"]
    for n in range(3):
        assert support.attempts_to(filler(n)).status_code == 200
    outcomes = [e["outcome"] for e in entries(small_limit_app, "attempts.list")]
    assert outcomes == ["60200"] * 5 + ["ok"] * 3


def test_a_support_resend_is_a_lookup_by_destination(
    small_limit_app: Flask, sender: RecordingSender
) -> None:
    """A resend answers 404 when nothing is pending for `To`: it is counted like any
    look-up, and past the limit it is refused before anything is sent."""
    app_api = Api(small_limit_app.test_client())
    service = app_api.create_service()
    assert app_api.start(service, TO).status_code == 201
    support = key_of(app_api, small_limit_app)
    assert support.resend(service).status_code == 201
    assert support.resend(service, filler(1)).status_code == 404
    assert support.attempts_to(TO).status_code == 200
    sent_before = len(sender.sent)
    refused = support.resend(service)
    assert (refused.status_code, refused.json["code"]) == (429, 20429)
    assert "Retry-After" in refused.headers
    assert len(sender.sent) == sent_before
    outcomes = [e["outcome"] for e in entries(small_limit_app, "verifications.resend")]
    assert outcomes == ["ok", "ok", "20429"]


def test_when_the_count_or_audit_cannot_be_written_the_lookup_is_a_503(
    api: Api, app: Flask, redis_client: redis.Redis
) -> None:
    """Fail closed: a Redis that accepts reads but refuses writes (the key still
    authenticates) answers 503/20503, never an unaudited answer; the account reads on."""
    service = api.create_service()
    assert api.start(service, TO).status_code == 201
    support = key_of(api, app)
    redis_client.config_set("maxmemory", "1")
    redis_client.config_set("maxmemory-policy", "noeviction")
    try:
        refused = support.attempts_to(TO)
        admin = api.client.get(
            "/v2/Attempts", query_string={"ChannelData.To": TO}, headers=api.headers
        )
    finally:
        redis_client.config_set("maxmemory", "0")
    assert (refused.status_code, refused.json["code"]) == (503, 20503)
    assert "data" not in refused.get_data(as_text=True)
    assert admin.status_code == 200
    assert len(admin.json["attempts"]) == 1
    assert entries(app, "attempts.list") == []


# -- the console ---------------------------------------------------------------------------


def console_of(app: Flask, name: str, password: str, role: str) -> Console:
    build_staff_users(app.extensions[CONTAINER_KEY]).add(name, password, role)
    console = Console(app.test_client())
    assert console.login(name, password).status_code == 303
    return console


def test_console_searches_by_a_support_user_are_counted(small_limit_app: Flask) -> None:
    """The console's search is the same oracle: a support user's searches are audited and
    limited; past the limit a 429 page says so plainly, with Retry-After."""
    app_api = Api(small_limit_app.test_client())
    service = app_api.create_service()
    sam = console_of(small_limit_app, "sam", PASSWORD, "support")
    for n in range(3):
        assert sam.search(service, filler(n)).status_code == 200
    refused = sam.search(service, TO)
    assert refused.status_code == 429
    assert "Search limit reached" in sam.text
    assert "3 times per hour" in sam.text
    assert int(refused.headers["Retry-After"]) > 0
    assert "4155552671" not in sam.text
    searches = entries(small_limit_app, "console.search")
    assert [e["outcome"] for e in searches] == ["ok", "ok", "ok", "20429"]
    assert {e["actor"] for e in searches} == {"sam"}
    assert all(e["target"].startswith(f"{service}/+14•") for e in searches)
    # A support key's budget is its own; a console admin is not limited.
    assert key_of(app_api, small_limit_app).attempts_to(TO).status_code == 200
    ada = console_of(small_limit_app, "ada", ADMIN_PASSWORD, "admin")
    for n in range(5):
        assert ada.search(service, filler(n)).status_code == 200


def test_a_malformed_console_search_is_not_counted(small_limit_app: Flask) -> None:
    """A search for something that is not a number or an address is a 400 and costs nothing."""
    service = Api(small_limit_app.test_client()).create_service()
    sam = console_of(small_limit_app, "sam", PASSWORD, "support")
    for _ in range(4):
        assert sam.search(service, "415-555").status_code == 400
    for n in range(3):
        assert sam.search(service, filler(n)).status_code == 200


# -- the setting ---------------------------------------------------------------------------


def production_env(**overrides: str) -> dict[str, str]:
    return {
        "VERIFY_REDIS_URL": "redis://127.0.0.1:6390/0",
        "VERIFY_ACCOUNT_SID": "AC" + "0123456789abcdef" * 2,
        "VERIFY_AUTH_TOKEN": "lookups-test-auth-token-5e1d",
        "VERIFY_SECRET_KEY": "lookups-test-secret-key-at-least-32-bytes-0a7b",
        **overrides,
    }


def test_the_limit_defaults_to_60_per_hour() -> None:
    """The documented default."""
    assert Settings.from_env(production_env()).destination_lookups_per_hour == 60


@pytest.mark.parametrize("value", ["1", "10000", "250"])
def test_the_limit_takes_1_to_10000(value: str) -> None:
    """VERIFY_DESTINATION_LOOKUPS_PER_HOUR takes a whole number from 1 to 10000."""
    settings = Settings.from_env(production_env(VERIFY_DESTINATION_LOOKUPS_PER_HOUR=value))
    assert settings.destination_lookups_per_hour == int(value)


@pytest.mark.parametrize("value", ["0", "10001", "-5", "sixty", "1.5"])
def test_a_limit_out_of_bounds_stops_the_start(value: str) -> None:
    """Anything else stops the start, naming the variable."""
    with pytest.raises(ConfigError, match="VERIFY_DESTINATION_LOOKUPS_PER_HOUR"):
        Settings.from_env(production_env(VERIFY_DESTINATION_LOOKUPS_PER_HOUR=value))


def test_a_console_search_that_loses_the_audit_race_is_a_console_page(
    small_limit_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When other processes keep moving the audit log's head (here: no append attempt is
    left), the search is refused on an HTML page with Retry-After, never the API's JSON."""
    service = Api(small_limit_app.test_client()).create_service()
    sam = console_of(small_limit_app, "sam", PASSWORD, "support")
    monkeypatch.setattr(audit_log, "APPEND_ATTEMPTS", 0)
    refused = sam.search(service, TO)
    assert refused.status_code == 429
    assert refused.mimetype == "text/html"
    assert "Too many changes at once" in sam.text
    assert refused.headers["Retry-After"] == "1"
