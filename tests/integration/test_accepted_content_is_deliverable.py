"""Content that cannot be delivered is a 400 at the start, never a dead letter.

Whatever the API accepts renders and encodes for every channel and every provider it may
go to (property test, through the HTTP API on a real Redis); whatever it refuses leaves
nothing queued and counts nothing; e-mail addresses are refused or sent as plain SMTP
carries them.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from flask import Flask
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.conftest import Api, deliver_queued
from tests.support.every_provider import encode_and_read_back, every_provider
from tests.support.fakes import FixedClock, RecordingSender
from tests.support.smtp_server import SmtpServer
from verify_service.adapters.delivery.providers.smtp import SmtpConfig, SmtpProvider
from verify_service.app import CONTAINER_KEY, create_app
from verify_service.domain.delivery.delivery import DeliveryRequest
from verify_service.domain.messages.messages import (
    SHIPPED_LOCALES,
    MessageContent,
    render,
    resolve_locale,
)
from verify_service.domain.models import Channel
from verify_service.settings import Settings

# The characters that broke deliveries, mixed into any Unicode text.
TRICKY = list("\r\n\t\x00\x1b\x7f\x85\x9b\u2028\u2029\u202e\u2066\u200f\u200b\ufeff\u00ad")
TRICKY += ["\ud800", "\udfff", "\u200c", "\u200d", "\u0301", "\u3002", ".", ":", "/", " "]
TRICKY += list("éß€😀中ע٣<>&\"'=?%+")
# Half the texts are made of characters a message may carry (so that many starts are
# accepted and their messages encoded), half of anything, the tricky ones more often.
SHOWN = st.characters(categories=["L", "M", "N", "P", "S", "Zs"])
ANY = st.one_of(st.characters(), st.sampled_from(TRICKY))
TEXT = st.one_of(st.text(SHOWN, min_size=1, max_size=30), st.text(ANY, max_size=40))
TERMS = st.one_of(st.text(SHOWN, min_size=1, max_size=64), st.text(ANY, min_size=1, max_size=64))
LOCAL_PART = st.one_of(
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,11}", fullmatch=True),
    st.text(
        st.one_of(st.sampled_from("abc.+-_'\"\\ @\r\nüé中"), st.characters()),
        min_size=1,
        max_size=12,
    ),
)
DOMAINS = ["example.com", "bücher.example", "例子.example", "xn--bcher-kva.example", "EXAMPLE.ORG"]
PROTECTION_OFF = {
    "StartsPerServicePerMinute": 0,
    "DailySendCap": 0,
    "DailyCountrySendCap": 0,
    "SendsPerDestinationPerHour": 0,
    "SendsPerDestinationPerDay": 0,
    "FraudGuardMode": "off",
}
PROVIDERS = every_provider()


def post_json(api: Api, path: str, body: dict[str, Any]) -> Any:
    """JSON with `\\uXXXX` escapes, so lone surrogates reach the service as they would."""
    return api.client.post(
        path, data=json.dumps(body), content_type="application/json", headers=api.headers
    )


def assert_deliverable_everywhere(request: DeliveryRequest) -> None:
    for provider in PROVIDERS[request.message.channel]:
        encode_and_read_back(provider, request)


def assert_renders_for_every_channel(content: MessageContent, to: str, locale: str) -> None:
    """The same content on every channel a fallback could take, in the locale it would use."""
    for channel in Channel:
        destination = to if (channel is Channel.EMAIL) == ("@" in to) else "+14155552671"
        message = render(channel, content, "123456", resolve_locale(locale, destination, channel))
        request = DeliveryRequest(destination, message, "VA" + "1" * 32, "VE" + "2" * 32, "VL")
        assert_deliverable_everywhere(request)


@pytest.fixture
def counter() -> Iterator[int]:
    return itertools.count(1000)


class Recorded:
    """The recording provider, with a short repr for Hypothesis's report of a failure."""

    def __init__(self, sender: RecordingSender) -> None:
        self.sent = sender.sent

    def __repr__(self) -> str:
        return f"<{len(self.sent)} messages recorded>"


@pytest.fixture
def recorded(sender: RecordingSender) -> Recorded:
    return Recorded(sender)


@hypothesis_settings(
    max_examples=200,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    channel=st.sampled_from(list(Channel)),
    custom_name=st.none() | TEXT,
    amount=TERMS,
    payee=TERMS,
    locale=st.sampled_from(sorted(SHIPPED_LOCALES)),
    local_part=LOCAL_PART,
    domain=st.sampled_from(DOMAINS),
)
def test_whatever_a_start_accepts_encodes_for_every_provider(
    api: Api,
    recorded: Recorded,
    counter: Iterator[int],
    channel: Channel,
    custom_name: str | None,
    amount: str,
    payee: str,
    locale: str,
    local_part: str,
    domain: str,
) -> None:
    """Any 201 renders and encodes on every provider of every channel; anything else is a
    60200 (never a 5xx, never a dead letter)."""
    number = next(counter)
    service_sid = api.create_service(Psd2Enabled="true", **PROTECTION_OFF)
    to = f"{local_part}@{domain}" if channel is Channel.EMAIL else f"+1415555{number:04d}"
    body: dict[str, Any] = {"To": to, "Channel": channel.value, "Amount": amount}
    body |= {"Payee": payee, "Locale": locale}
    if custom_name is not None:
        body["CustomFriendlyName"] = custom_name
    sent_before = len(recorded.sent)
    response = post_json(api, f"/v2/Services/{service_sid}/Verifications", body)
    event(f"start answered {response.status_code}")
    if response.status_code != 201:
        assert (response.status_code, response.json["code"]) == (400, 60200), response.json
        assert deliver_queued(api.client.application) == 0
        return
    assert deliver_queued(api.client.application) == 1
    (sent,) = recorded.sent[sent_before:]
    assert_deliverable_everywhere(
        DeliveryRequest(sent.to, sent.message, service_sid, sent.verification_sid, "VL")
    )
    content = MessageContent(
        friendly_name=custom_name.strip() if custom_name is not None else "Acme",
        amount=amount,
        payee=payee,
    )
    assert_renders_for_every_channel(content, sent.to, locale)


@hypothesis_settings(
    max_examples=100,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(name=TEXT)
def test_whatever_service_name_is_accepted_encodes_for_every_provider(api: Api, name: str) -> None:
    """A service FriendlyName the API accepts goes into every channel's message intact."""
    response = post_json(api, "/v2/Services", {"FriendlyName": name})
    event(f"create answered {response.status_code}")
    if response.status_code != 201:
        assert (response.status_code, response.json["code"]) == (400, 60200), response.json
        return
    stored = response.json["friendly_name"]
    assert stored == name.strip()
    content = MessageContent(friendly_name=stored, do_not_share_warning=True)
    assert_renders_for_every_channel(content, "jane@bücher.example", "en")
    assert_renders_for_every_channel(content, "+14155552671", "ar")


# -- refused at the start: nothing queued, nothing counted ----------------------------------


def redis_state(redis_client: redis.Redis) -> dict[bytes, bytes | None]:
    """Every key of the in-process tests' prefix (tests/conftest.py) and its serialized value:
    equal states mean nothing was written. Other prefixes are not this app's: the e2e suite's
    session server (prefix `vs`) may still be polling the same Redis, and its worker re-creates
    its outbox stream after each test's flush."""
    return {key: redis_client.dump(key) for key in sorted(redis_client.keys("it:*"))}


@pytest.mark.parametrize(
    "body",
    [
        {"To": "+14155552671", "Channel": "sms", "CustomFriendlyName": "Acme\r\nBank"},
        {"To": "+14155552671", "Channel": "sms", "CustomFriendlyName": "Acme\ud800"},
        {"To": "+14155552671", "Channel": "sms", "CustomFriendlyName": "Acme\u202e"},
        {"To": "+14155552671", "Channel": "sms", "CustomFriendlyName": "evil。com"},
        {"To": "+14155552671", "Channel": "call", "CustomMessage": "x\x00"},
        {"To": "jürgen@example.com", "Channel": "email"},
        {"To": "jane@example.com", "Channel": "email", "CustomFriendlyName": "Acme\x85"},
    ],
)
def test_a_start_refused_at_the_api_leaves_nothing_queued_and_counts_nothing(
    api: Api, redis_client: redis.Redis, sender: RecordingSender, body: dict[str, Any]
) -> None:
    """The refusal writes nothing to Redis (no verification, no queued message, no counter),
    and the same destination's next good start is its first."""
    service_sid = api.create_service(SendsPerDestinationPerHour=1)
    before = redis_state(redis_client)
    response = post_json(api, f"/v2/Services/{service_sid}/Verifications", body)
    assert (response.status_code, response.json["code"]) == (400, 60200)
    assert redis_state(redis_client) == before
    assert deliver_queued(api.client.application) == 0
    to = "jane@example.com" if body["Channel"] == "email" else body["To"]
    good = post_json(
        api, f"/v2/Services/{service_sid}/Verifications", {"To": to, "Channel": body["Channel"]}
    )
    assert good.status_code == 201, good.json
    assert len(good.json["send_code_attempts"]) == 1
    assert deliver_queued(api.client.application) == 1
    assert len(sender.sent) == 1


# -- e-mail addresses: as plain SMTP carries them -------------------------------------------


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def smtp_app(
    settings: Settings,
    redis_client: redis.Redis,
    clock: FixedClock,
    sender: RecordingSender,
    smtp_server: SmtpServer,
) -> Flask:
    """E-mail goes through the real SMTP provider to a real SMTP server without SMTPUTF8."""
    smtp = SmtpProvider(
        SmtpConfig(host="127.0.0.1", port=smtp_server.port, sender="verify@example.test")
    )
    providers: dict[Channel, list[Any]] = {channel: [sender] for channel in Channel}
    providers[Channel.EMAIL] = [smtp]
    return create_app(settings, clock=clock, providers=providers)


def test_a_non_ascii_local_part_is_refused_at_the_start(
    smtp_app: Flask, smtp_server: SmtpServer
) -> None:
    """`jürgen@…` needs SMTPUTF8, which relays need not offer: 60200 naming To, not a dead
    letter."""
    api = Api(smtp_app.test_client())
    service_sid = api.create_service()
    response = api.start(service_sid, "jürgen@example.com", "email")
    assert (response.status_code, response.json["code"]) == (400, 60200)  # type: ignore[index]
    assert "To" in response.json["message"]  # type: ignore[index]
    assert smtp_server.received == []


def test_an_internationalized_domain_is_sent_in_its_idna_form(
    smtp_app: Flask, smtp_server: SmtpServer
) -> None:
    """`jane@bücher.example` is delivered to `jane@xn--bcher-kva.example`, the subject in
    RFC 2047 words; nothing is dead-lettered."""
    api = Api(smtp_app.test_client())
    service_sid = api.create_service(FriendlyName="Müller & Söhne")
    response = api.start(service_sid, "jane@bücher.example", "email", Locale="de")
    assert response.status_code == 201, response.json
    (mail,) = smtp_server.received
    assert mail.rcpt_tos == ["jane@xn--bcher-kva.example"]
    assert mail.raw.isascii()
    headers = mail.raw.split(b"\r\n\r\n")[0]
    assert b"=?utf-8?" in headers
    assert "Müller & Söhne" in str(mail.message["Subject"])
    assert smtp_app.extensions[CONTAINER_KEY].outbox.dead_letters(10) == []


def test_a_service_name_stored_before_the_rule_refuses_the_start_not_the_delivery(
    api: Api, redis_client: redis.Redis, sender: RecordingSender
) -> None:
    """A FriendlyName with a line break written by an older version: the start is a 60200
    naming FriendlyName and writes nothing, rather than a 201 and a dead letter."""
    service_sid = api.create_service()
    (service_key,) = [
        key
        for key in redis_client.scan_iter(f"*{service_sid}*")
        if redis_client.type(key) == b"hash"
    ]
    redis_client.hset(service_key, "friendly_name", json.dumps("Acme\r\nBank"))
    before = redis_state(redis_client)
    response = api.start(service_sid, "+14155552671")
    assert (response.status_code, response.json["code"]) == (400, 60200)  # type: ignore[index]
    assert "FriendlyName" in response.json["message"]  # type: ignore[index]
    assert redis_state(redis_client) == before
    assert sender.sent == []
    custom = api.start(service_sid, "+14155552671", CustomFriendlyName="Acme")
    assert custom.status_code == 201
