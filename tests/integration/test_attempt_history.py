"""The attempt history: sends with their delivery status, checks, conversion, Twilio's
filters and paging, retention by the clock, nothing personal in clear, and a start that
costs no more round trips than before."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from flask import Flask

from bench.services import UNPROTECTED
from tests.conftest import Api, deliver_queued
from tests.integration.test_rate_limiter import CountingClient
from tests.support.fakes import FixedClock, RecordingSender
from verify_service.app import CONTAINER_KEY, create_app
from verify_service.application.attempts.attempts import Attempts
from verify_service.settings import Settings

US = "+14155552671"
GB = "+447400123456"
DAY = 24 * 3600


def _attempts(api: Api, **filters: str) -> dict[str, Any]:
    query = "&".join(f"{k}={v.replace('+', '%2B')}" for k, v in filters.items())
    response = api.get(f"/v2/Attempts?{query}")
    assert response.status_code == 200, response.json
    body: dict[str, Any] = response.json  # type: ignore[assignment]
    return body


def _summary(api: Api, **filters: str) -> dict[str, Any]:
    query = "&".join(f"{k}={v.replace('+', '%2B')}" for k, v in filters.items())
    response = api.get(f"/v2/Attempts/Summary?{query}")
    assert response.status_code == 200, response.json
    body: dict[str, Any] = response.json  # type: ignore[assignment]
    return body


def _history(app: Flask) -> Attempts:
    attempts = app.extensions[CONTAINER_KEY].attempts
    assert attempts is not None
    return attempts


def test_a_send_is_recorded_with_its_delivery_status_masked(api: Api) -> None:
    service = api.create_service()
    started = api.start(service, US).json
    assert started is not None
    listed = _attempts(api)["attempts"]
    assert len(listed) == 1
    attempt = listed[0]
    assert attempt["sid"] == started["send_code_attempts"][0]["attempt_sid"]
    assert attempt["service_sid"] == service
    assert attempt["verification_sid"] == started["sid"]
    assert attempt["channel"] == "sms"
    assert attempt["conversion_status"] == "unconverted"
    assert attempt["price"] is None
    data = attempt["channel_data"]
    assert data["to"] == "+14•••••••71"
    assert data["message_status"] == "sent"  # the worker ran (api.start delivers)
    assert data["provider"] == "recording"
    assert data["country"] == "US"
    assert data["status"] == "unconfirmed"
    fetched = api.get(f"/v2/Attempts/{attempt['sid']}")
    assert fetched.status_code == 200
    assert fetched.json == attempt


def test_checks_and_conversion_are_recorded(
    api: Api, app: Flask, sender: RecordingSender, clock: FixedClock
) -> None:
    service = api.create_service()
    sid = api.start(service, US).json["sid"]  # type: ignore[index]
    clock.advance(30)
    api.start(service, US)  # a resend: a second attempt
    assert api.check(service, "000000", To=US).json["status"] == "pending"  # type: ignore[index]
    clock.advance(5)
    assert api.check(service, sender.last_code(sid), To=US).json["status"] == "approved"  # type: ignore[index]
    listed = _attempts(api, VerificationSid=sid)["attempts"]
    assert [a["conversion_status"] for a in listed] == ["converted", "converted"]
    assert {a["channel_data"]["status"] for a in listed} == {"confirmed"}
    ended = _history(app).history_for(service, US)
    assert len(ended) == 1
    assert ended[0].sid == sid
    assert ended[0].outcome == "approved"
    assert ended[0].masked_to == "+14•••••••71"
    assert [s.delivery_status for s in ended[0].sends] == ["sent", "sent"]
    assert [c.outcome for c in ended[0].checks] == ["wrong", "approved"]
    assert ended[0].checks[1].time_ms - ended[0].checks[0].time_ms == 5000


def test_locked_refusals_canceled_and_live_verifications(
    api: Api, app: Flask, clock: FixedClock
) -> None:
    service = api.create_service()
    locked = api.start(service, US).json["sid"]  # type: ignore[index]
    for _ in range(5):
        api.check(service, "000000", To=US)
    assert api.check(service, "000000", To=US).status_code == 429
    canceled = api.start(service, GB).json["sid"]  # type: ignore[index]
    api.update(service, canceled, "canceled")
    live = api.start(service, "+14155552672").json["sid"]  # type: ignore[index]
    history = _history(app)
    assert history.history_for(service, "+14155552672") == []  # still live: not ended
    (gb,) = history.history_for(service, GB)
    assert (gb.sid, gb.outcome, gb.checks) == (canceled, "canceled", ())
    clock.advance(601)  # the locked one expires
    (us,) = history.history_for(service, US)
    assert (us.sid, us.outcome) == (locked, "expired")
    assert [c.outcome for c in us.checks] == ["wrong"] * 5 + ["refused"]
    assert live != locked


def test_filters_and_paging(api: Api, clock: FixedClock) -> None:
    first = api.create_service()
    second = api.create_service()
    api.start(first, US)
    clock.advance(10)
    api.start(first, GB, channel="call")
    clock.advance(10)
    api.start(second, "someone@example.com", channel="email")
    clock.advance(10)
    by_service = _attempts(api, VerifyServiceSid=first)["attempts"]
    assert [a["channel"] for a in by_service] == ["call", "sms"]  # newest first
    assert [a["channel"] for a in _attempts(api, Channel="EMAIL")["attempts"]] == ["email"]
    email = _attempts(api, Channel="email")["attempts"][0]
    assert email["channel_data"]["to"] == "•••@example.com"
    assert email["channel_data"]["country"] is None
    assert [a["channel"] for a in _attempts(api, Country="gb")["attempts"]] == ["call"]
    to = _attempts(api, **{"ChannelData.To": US})["attempts"]
    assert [a["channel_data"]["to"] for a in to] == ["+14•••••••71"]
    assert _attempts(api, Status="converted")["attempts"] == []
    assert len(_attempts(api, Status="UNCONVERTED")["attempts"]) == 3
    start = "2026-09-21T14:13:30Z"  # FixedClock starts at 14:13:20
    after = _attempts(api, DateCreatedAfter=start)["attempts"]
    assert [a["channel"] for a in after] == ["call", "email"][::-1]
    before = _attempts(api, DateCreatedBefore=start)["attempts"]
    assert [a["channel"] for a in before] == ["sms"]
    # Paging: PageSize 2, then the next page's URL as given (filters and token in it).
    page = _attempts(api, PageSize="2")
    assert [a["channel"] for a in page["attempts"]] == ["email", "call"]
    next_url = page["meta"]["next_page_url"]
    assert next_url is not None
    assert "PageToken=" in next_url
    rest = api.get(f"{urlsplit(next_url).path}?{urlsplit(next_url).query}").json
    assert rest is not None
    assert [a["channel"] for a in rest["attempts"]] == ["sms"]
    assert rest["meta"]["next_page_url"] is None
    assert rest["meta"]["page"] == 1
    # A filter survives into the next page's URL.
    filtered = _attempts(api, VerifyServiceSid=first, PageSize="1")
    assert f"VerifyServiceSid={first}" in filtered["meta"]["next_page_url"]
    # Page without a token skips whole pages.
    assert [a["channel"] for a in _attempts(api, PageSize="1", Page="2")["attempts"]] == ["sms"]


def test_bad_filters_are_60200(api: Api) -> None:
    for query in (
        "Channel=fax",
        "Status=maybe",
        "DateCreatedAfter=yesterday",
        "VerifyServiceSid=VA123",
        "PageToken=nope",
        "ChannelData.To=12",
    ):
        response = api.get(f"/v2/Attempts?{query}")
        assert response.status_code == 400, query
        assert response.json["code"] == 60200  # type: ignore[index]
    assert api.get("/v2/Attempts/VL" + "0" * 32).status_code == 404
    assert api.get("/v2/Attempts/nope").status_code == 404


def test_summary_counts_conversion_by_channel_and_country(
    api: Api, sender: RecordingSender
) -> None:
    service = api.create_service()
    sid = api.start(service, US).json["sid"]  # type: ignore[index]
    api.start(service, US)  # resend
    api.check(service, sender.last_code(sid), To=US)
    api.start(service, GB)
    api.start(service, "someone@example.com", channel="email")
    summary = _summary(api)
    assert summary["total_attempts"] == 4
    assert summary["total_converted"] == 2
    assert summary["total_unconverted"] == 2
    assert summary["conversion_rate_percentage"] == "50"
    assert summary["url"].endswith("/v2/Attempts/Summary")
    assert summary["by_country"]["US"]["total_converted"] == 2
    assert summary["by_country"]["GB"]["conversion_rate_percentage"] == "0"
    assert summary["by_channel"]["email"]["total_attempts"] == 1
    assert summary["complete"] is True
    assert _summary(api, Country="GB")["total_attempts"] == 1
    assert _summary(api, DestinationPrefix="+1415")["total_attempts"] == 2
    assert _summary(api, Channel="sms", VerifyServiceSid=service)["total_attempts"] == 3
    empty = _summary(api, Country="FR")
    assert (empty["total_attempts"], empty["conversion_rate_percentage"]) == (0, None)
    sid_third = api.start(service, "+14155552699").json["sid"]  # type: ignore[index]
    api.check(service, sender.last_code(sid_third), To="+14155552699")
    assert _summary(api)["conversion_rate_percentage"] == "60"


def test_retention_by_the_clock(
    api: Api, app: Flask, clock: FixedClock, sender: RecordingSender, redis_client: redis.Redis
) -> None:
    service = api.create_service()
    sid = api.start(service, US).json["sid"]  # type: ignore[index]
    api.check(service, sender.last_code(sid), To=US)
    attempt = _attempts(api)["attempts"][0]["sid"]
    clock.advance(29 * DAY)
    assert len(_attempts(api)["attempts"]) == 1
    assert len(_history(app).history_for(service, US)) == 1
    clock.advance(1 * DAY + 1)
    assert _attempts(api)["attempts"] == []
    assert _summary(api)["total_attempts"] == 0
    assert api.get(f"/v2/Attempts/{attempt}").status_code == 404
    assert _history(app).history_for(service, US) == []
    # A later send writes a bucket of its own (one service, one day) and trims nothing.
    api.start(service, US)
    assert len(_attempts(api)["attempts"]) == 1
    streams = list(redis_client.scan_iter("it:h:*:r"))
    assert len(streams) == 2
    assert all(redis_client.xlen(stream) == 1 for stream in streams)
    # Each bucket expires whole at the end of its day plus the retention (a TTL relative to
    # the clock that wrote it, so clock skew does not matter).
    for key in redis_client.scan_iter("it:h:*"):
        assert 30 * DAY * 1000 < redis_client.pttl(key) <= 31 * DAY * 1000


def test_retention_is_configurable(
    settings: Settings, redis_client: redis.Redis, clock: FixedClock, sender: RecordingSender
) -> None:
    app = create_app(
        Settings(**{**_fields(settings), "attempt_retention_days": 2}),
        clock=clock,
        providers=sender.as_providers(),
    )
    api = Api(app.test_client())
    service = api.create_service()
    api.start(service, US)
    clock.advance(2 * DAY + 1)
    assert _attempts(api)["attempts"] == []


def _fields(settings: Settings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in settings.__dataclass_fields__}


def test_no_destination_in_clear_anywhere_in_redis(
    api: Api, redis_client: redis.Redis, sender: RecordingSender
) -> None:
    service = api.create_service()
    sid = api.start(service, US).json["sid"]  # type: ignore[index]
    api.check(service, "000000", To=US)
    api.check(service, sender.last_code(sid), To=US)
    api.start(service, "someone@example.com", channel="email")
    needles = [b"4155552671", b"someone@example.com", b"someone"]
    for key in redis_client.scan_iter("*"):
        assert not any(n in key for n in needles), key
        kind = redis_client.type(key)
        values: list[bytes] = []
        if kind == b"hash":
            for field, value in redis_client.hgetall(key).items():
                values += [field, value]
        elif kind == b"zset":
            values += [m for m, _ in redis_client.zrange(key, 0, -1, withscores=True)]
        elif kind == b"string":
            values.append(redis_client.get(key) or b"")
        elif kind == b"list":
            values += redis_client.lrange(key, 0, -1)
        elif kind == b"stream":
            for _id, entry in redis_client.xrange(key):
                for field, value in entry.items():
                    values += [field, value]
        for value in values:
            assert not any(n in value for n in needles), key


# A protected start counts its limits with its first read (issue 10): 2, as unprotected.
@pytest.mark.parametrize(("protected", "expected", "check"), [(False, 2, 1), (True, 2, 2)])
def test_a_start_costs_the_same_round_trips(
    settings: Settings,
    redis_client: redis.Redis,
    clock: FixedClock,
    sender: RecordingSender,
    protected: bool,
    expected: int,
    check: int,
) -> None:
    counting = CountingClient(connection_pool=redis_client.connection_pool)
    app = create_app(settings, clock=clock, providers=sender.as_providers(), redis_client=counting)
    api = Api(app.test_client())
    service = api.create_service(**({} if protected else UNPROTECTED))
    api.start(service, "+14155550100")  # warm: scripts loaded
    deliver_queued(app)
    CountingClient.round_trips = 0
    response = api.post(f"/v2/Services/{service}/Verifications", To=US, Channel="sms")
    assert response.status_code == 201
    assert CountingClient.round_trips == expected
    # ... and a wrong-code check costs what it did (1 unprotected, 2 protected: the
    # process's first check of the service reads its check limit first).
    CountingClient.round_trips = 0
    api.check(service, "000000", To=US)
    assert CountingClient.round_trips == check
    assert len(_attempts(api, **{"ChannelData.To": US})["attempts"]) == 1
