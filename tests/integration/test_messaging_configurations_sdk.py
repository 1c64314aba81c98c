"""Per-country routing (issue 13) through the official twilio SDK: a service's
MessagingConfigurations name operator-defined routes (VERIFY_ROUTES_FILE), a start picks the
route of its destination's country (exact > `all` > the global list), and the worker fails
over inside that route, as observed at stand-in gateways on loopback. Whatsapp.MsgServiceSid
and Whatsapp.From choose the WhatsApp route and sender. Bad input leaves Redis unchanged."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from flask import Flask
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from tests.conftest import ACCOUNT_SID, deliver_queued
from tests.integration.test_rate_limiter import CountingClient
from tests.integration.test_template_starts import snapshot
from tests.support.fakes import FixedClock, RecordingSender
from tests.support.flask_sdk import BASE_URL, FlaskHttpClient, sdk_client
from tests.support.standin_http import Failure, StandinHttp
from verify_service.adapters.delivery.providers.registry import (
    build_providers,
    parse_provider_list,
)
from verify_service.adapters.delivery.providers.routes import (
    RouteProviders,
    close_route_providers,
    derived_route_sid,
    parse_routes,
    providers_by_route,
)
from verify_service.app import CONTAINER_KEY, build_container, create_app
from verify_service.application.metrics.ports import NoMetrics
from verify_service.domain.delivery.delivery import (
    DeliveryReceipt,
    DeliveryRequest,
    RenderedMessage,
)
from verify_service.domain.models import Channel
from verify_service.settings import Settings

IN_MOBILE = "+919876543210"
US_MOBILE = "+14155552671"
GB_MOBILE = "+447400123456"
GW_SID = "AC" + "beef" * 8
GW_TOKEN = "routing-standin-token-0123456789"
IN_ROUTE = "MG" + "1" * 32
WA_SENDER = "+14155550112"
WA_ROUTE_FROM = "+14155550111"
GLOBAL_WA_SENDER = "+14155550199"  # allowed for the global WhatsApp list only


@pytest.fixture
def gateways() -> Iterator[list[StandinHttp]]:
    with (
        StandinHttp(twilio_credentials=(GW_SID, GW_TOKEN)) as first,
        StandinHttp(twilio_credentials=(GW_SID, GW_TOKEN)) as second,
        StandinHttp(twilio_credentials=(GW_SID, GW_TOKEN)) as third,
    ):
        yield [first, second, third]


def twilio_dsn(gateway: StandinHttp, sender: str) -> str:
    return f"twilio+http://{GW_SID}:{GW_TOKEN}@{gateway.netloc}?from={sender}&timeout=2"


def routes_document(gateways: list[StandinHttp]) -> dict[str, Any]:
    """`india`: SMS through gateway 0, then 1 (failover inside the route); `world`: SMS
    through gateway 2; `wa`: WhatsApp through gateway 2, two senders allowed."""
    first, second, third = gateways
    return {
        "whatsapp_senders": [GLOBAL_WA_SENDER],
        "routes": {
            "india": {
                "sid": IN_ROUTE,
                "sms": " || ".join(
                    (twilio_dsn(first, "+15005550001"), twilio_dsn(second, "+15005550002"))
                ),
            },
            "world": {"sms": twilio_dsn(third, "+15005550003")},
            "wa": {
                "whatsapp": twilio_dsn(third, WA_ROUTE_FROM),
                "whatsapp_senders": [WA_SENDER],
            },
        },
    }


@dataclasses.dataclass
class Routed:
    app: Flask
    sdk: Client
    sender: RecordingSender  # the global list of every channel
    gateways: list[StandinHttp]
    redis: redis.Redis

    @property
    def container(self) -> Any:
        return self.app.extensions[CONTAINER_KEY]


@pytest.fixture
def routed(
    settings: Settings,
    redis_client: redis.Redis,
    clock: FixedClock,
    sender: RecordingSender,
    gateways: list[StandinHttp],
) -> Iterator[Routed]:
    yield from _routed(settings, redis_client, clock, sender, gateways)


def _routed(
    settings: Settings,
    redis_client: redis.Redis,
    clock: FixedClock,
    sender: RecordingSender,
    gateways: list[StandinHttp],
    client: redis.Redis | None = None,
) -> Iterator[Routed]:
    settings = dataclasses.replace(settings, routes=parse_routes(routes_document(gateways)))
    route_providers: RouteProviders = providers_by_route(settings.routes, None)
    container = build_container(
        settings,
        clock=clock,
        providers=sender.as_providers(),
        redis_client=client or redis_client,
    )
    container = dataclasses.replace(container, route_providers=route_providers)
    app = create_app(settings, container=container)
    try:
        yield Routed(app, sdk_client(app.test_client()), sender, gateways, redis_client)
    finally:
        close_route_providers(route_providers)


def start(routed: Routed, service_sid: str, to: str, channel: str = "sms") -> Any:
    verification = routed.sdk.verify.v2.services(service_sid).verifications.create(
        to=to, channel=channel
    )
    deliver_queued(routed.app)
    return verification


def sent_to(gateway: StandinHttp) -> list[str]:
    return [request.form["To"] for request in gateway.requests]


def test_messaging_configurations_are_created_listed_fetched_updated_and_deleted(
    routed: Routed,
) -> None:
    """Twilio's five operations, with Twilio's fields; Country is upper-cased, `all` kept."""
    service = routed.sdk.verify.v2.services.create(friendly_name="Acme")
    configurations = routed.sdk.verify.v2.services(service.sid).messaging_configurations
    created = configurations.create(country="in", messaging_service_sid=IN_ROUTE)
    assert (created.country, created.messaging_service_sid) == ("IN", IN_ROUTE)
    assert (created.account_sid, created.service_sid) == (ACCOUNT_SID, service.sid)
    assert created.url == f"{BASE_URL}/v2/Services/{service.sid}/MessagingConfigurations/IN"
    assert created.date_created is not None
    assert created.date_updated is not None
    world = derived_route_sid("world")
    configurations.create(country="all", messaging_service_sid=world)
    listed = configurations.list()
    assert [(c.country, c.messaging_service_sid) for c in listed] == [
        ("IN", IN_ROUTE),
        ("all", world),
    ]
    assert [c.country for c in configurations.list(page_size=1, limit=1)] == ["IN"]
    assert configurations("IN").fetch().messaging_service_sid == IN_ROUTE
    updated = configurations("IN").update(messaging_service_sid=world)
    assert (updated.country, updated.messaging_service_sid) == ("IN", world)
    assert configurations("in").fetch().messaging_service_sid == world
    assert configurations("IN").delete() is True
    assert [c.country for c in configurations.list()] == ["all"]
    links = routed.sdk.verify.v2.services(service.sid).fetch().links
    assert links["messaging_configurations"] == (
        f"{BASE_URL}/v2/Services/{service.sid}/MessagingConfigurations"
    )


def test_a_country_route_fails_over_inside_the_route_and_others_take_all_or_the_global_list(
    routed: Routed,
) -> None:
    """MessagingServiceSid/Country: IN goes through route `india` (its first gateway refuses,
    the second in the same route delivers); with an `all` configuration the US goes through
    route `world`; without one, through the global list. The attempt names the sender."""
    first, second, third = routed.gateways
    first.fail_next(Failure.twilio_rejection(), times=1)
    service = routed.sdk.verify.v2.services.create(friendly_name="Acme")
    configurations = routed.sdk.verify.v2.services(service.sid).messaging_configurations
    configurations.create(country="IN", messaging_service_sid=IN_ROUTE)

    india = start(routed, service.sid, IN_MOBILE)
    assert sent_to(first) == [IN_MOBILE]  # refused
    assert sent_to(second) == [IN_MOBILE]
    assert second.requests[0].form["From"] == "+15005550002"
    start(routed, service.sid, US_MOBILE)
    assert [m.to for m in routed.sender.sent] == [US_MOBILE]  # no `all`: the global list
    configurations.create(country="all", messaging_service_sid=derived_route_sid("world"))
    start(routed, service.sid, GB_MOBILE)
    assert sent_to(third) == [GB_MOBILE]
    assert [m.to for m in routed.sender.sent] == [US_MOBILE]
    attempts = routed.app.test_client().get(
        f"/v2/Services/{service.sid}/Verifications/{india.sid}/DeliveryAttempts",
        auth=(ACCOUNT_SID, routed.sdk.password),
    )
    assert attempts.status_code == 200, attempts.get_json()
    assert f"twilio+http://{second.netloc}" in json.dumps(attempts.get_json())


def test_a_route_without_a_list_for_the_channel_sends_through_the_global_list(
    routed: Routed,
) -> None:
    """A call to India: route `india` has SMS only, so the global call list serves."""
    service = routed.sdk.verify.v2.services.create(friendly_name="Acme")
    routed.sdk.verify.v2.services(service.sid).messaging_configurations.create(
        country="IN", messaging_service_sid=IN_ROUTE
    )
    start(routed, service.sid, IN_MOBILE, channel="call")
    assert [(m.to, m.channel.value) for m in routed.sender.sent] == [(IN_MOBILE, "call")]
    assert all(not gateway.requests for gateway in routed.gateways)


def test_whatsapp_msg_service_sid_and_from_pick_the_route_and_the_sender(routed: Routed) -> None:
    """Whatsapp.MsgServiceSid sends WhatsApp through route `wa` over any country route;
    Whatsapp.From names the sender at the gateway (`From=whatsapp:+…`)."""
    third = routed.gateways[2]
    wa = derived_route_sid("wa")
    service = routed.sdk.verify.v2.services.create(
        friendly_name="Acme", whatsapp_msg_service_sid=wa, whatsapp_from=WA_SENDER
    )
    assert service.whatsapp == {"msg_service_sid": wa, "from": WA_SENDER}
    routed.sdk.verify.v2.services(service.sid).messaging_configurations.create(
        country="IN", messaging_service_sid=IN_ROUTE
    )
    start(routed, service.sid, IN_MOBILE, channel="whatsapp")
    (request,) = third.requests
    assert request.form["From"] == f"whatsapp:{WA_SENDER}"
    assert request.form["To"] == f"whatsapp:{IN_MOBILE}"
    # Without Whatsapp.From, the route's provider's own from= is the sender.
    routed.sdk.verify.v2.services(service.sid).update(whatsapp_from="")
    start(routed, service.sid, US_MOBILE, channel="whatsapp")
    assert third.requests[1].form["From"] == f"whatsapp:{WA_ROUTE_FROM}"
    assert routed.sender.sent == []


def test_a_whatsapp_sender_goes_only_through_the_list_it_is_allowed_for(routed: Routed) -> None:
    """Whatsapp.From was checked against the global list (no Whatsapp.MsgServiceSid), but a
    country configuration sends WhatsApp to India through route `wa` (another account): the
    route's gateway must not be asked to send as the global sender; its own from= is used.
    The same sender still goes out through the global list, where it is allowed."""
    third = routed.gateways[2]
    service = routed.sdk.verify.v2.services.create(
        friendly_name="Acme", whatsapp_from=GLOBAL_WA_SENDER
    )
    routed.sdk.verify.v2.services(service.sid).messaging_configurations.create(
        country="IN", messaging_service_sid=derived_route_sid("wa")
    )
    start(routed, service.sid, IN_MOBILE, channel="whatsapp")
    (request,) = third.requests
    assert request.form["From"] == f"whatsapp:{WA_ROUTE_FROM}"
    assert GLOBAL_WA_SENDER not in json.dumps(dict(request.form))


def test_a_queued_whatsapp_sender_is_sealed_under_its_first_key(routed: Routed) -> None:
    """DeliveryJob.whatsapp_sender is sealed as `wa_from`, the key jobs queued by earlier
    versions carry, so those still read with their sender after an upgrade."""
    service = routed.sdk.verify.v2.services.create(
        friendly_name="Acme", whatsapp_from=GLOBAL_WA_SENDER
    )
    routed.sdk.verify.v2.services(service.sid).verifications.create(
        to=IN_MOBILE, channel="whatsapp"
    )
    outbox = routed.container.outbox
    sealed = [
        json.loads(outbox._sealer.open(fields[b"job"], fields[b"att"]))
        for shard in outbox._shards
        for _, fields in routed.redis.xrange(shard.stream)
    ]
    assert [plain["wa_from"] for plain in sealed] == [GLOBAL_WA_SENDER]
    assert all("whatsapp_sender" not in plain for plain in sealed)


def test_a_dropped_whatsapp_sender_is_counted_every_time_and_logged_once_a_minute(
    routed: Routed, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    """The operator sees a Whatsapp.From the sending list does not allow: a warning naming
    the service and the route (no destination, no code), at most once a minute per service
    and route, and `verify_whatsapp_sender_dropped_total{list="route"}` for every message."""
    service = routed.sdk.verify.v2.services.create(
        friendly_name="Acme", whatsapp_from=GLOBAL_WA_SENDER
    )
    wa = derived_route_sid("wa")
    routed.sdk.verify.v2.services(service.sid).messaging_configurations.create(
        country="IN", messaging_service_sid=wa
    )
    metrics = DroppedSenders()
    worker = dataclasses.replace(routed.container, metrics=metrics).delivery_worker("tests")
    mobiles = [IN_MOBILE, "+919876543211", "+919876543212"]
    codes = []
    with caplog.at_level(logging.WARNING):
        for number, to in enumerate(mobiles):
            if number == 2:
                clock.advance(61)
            routed.sdk.verify.v2.services(service.sid).verifications.create(
                to=to, channel="whatsapp"
            )
            assert worker.run_once(block_ms=0) == 1
            codes += re.findall(r"[0-9]{4,10}", routed.gateways[2].requests[-1].form["Body"])
    assert sent_to(routed.gateways[2]) == [f"whatsapp:{to}" for to in mobiles]
    assert codes
    assert metrics.lists == ["route", "route", "route"]
    warnings = [r.getMessage() for r in caplog.records if "Whatsapp.From" in r.getMessage()]
    assert len(warnings) == 2  # the first message, and the third a minute later
    for warning in warnings:
        assert service.sid in warning
        assert wa in warning
        assert GLOBAL_WA_SENDER not in warning
        assert all(to not in warning and to[-7:] not in warning for to in mobiles)
        assert all(code not in warning for code in codes)


class DroppedSenders(NoMetrics):
    """Metrics that keep the list of each WhatsApp message sent without its Whatsapp.From."""

    def __init__(self) -> None:
        self.lists: list[str] = []

    def whatsapp_sender_dropped(self, sending_list: str) -> None:
        self.lists.append(sending_list)


class SenderRecorder:
    """A global WhatsApp provider that keeps the sender each request names."""

    name = "sender-recorder"

    def __init__(self) -> None:
        self.senders: list[str | None] = []

    def deliver(self, request: DeliveryRequest) -> DeliveryReceipt:
        self.senders.append(request.whatsapp_sender)
        return DeliveryReceipt(self.name, None)


def test_a_removed_routes_sender_is_not_named_by_the_global_list(routed: Routed) -> None:
    """A WhatsApp job sealed with route `wa` and its sender: the worker's routes file no
    longer has `wa`, so the global list sends it, without the route-only sender."""
    service = routed.sdk.verify.v2.services.create(
        friendly_name="Acme", whatsapp_msg_service_sid=derived_route_sid("wa")
    )
    routed.sdk.verify.v2.services(service.sid).update(whatsapp_from=WA_SENDER)
    routed.sdk.verify.v2.services(service.sid).verifications.create(
        to=IN_MOBILE, channel="whatsapp"
    )
    recorder = SenderRecorder()
    worker = dataclasses.replace(
        routed.container,
        providers={Channel.WHATSAPP: [recorder]},
        route_providers={IN_ROUTE: {}},
    )
    assert worker.delivery_worker("tests").run_once(block_ms=0) == 1
    assert recorder.senders == [None]
    assert all(not gateway.requests for gateway in routed.gateways)


def test_an_empty_whatsapp_msg_service_sid_clears_the_whatsapp_route(routed: Routed) -> None:
    """Whatsapp.MsgServiceSid="" clears it (as Whatsapp.From=""): WhatsApp goes through the
    global list again. Clearing the route while Whatsapp.From names a sender only that route
    allows is refused naming Whatsapp.MsgServiceSid, and changes nothing."""
    wa = derived_route_sid("wa")
    services = routed.sdk.verify.v2.services
    service = services.create(friendly_name="Acme", whatsapp_msg_service_sid=wa)
    services(service.sid).update(whatsapp_from=WA_SENDER)
    before = snapshot(routed.redis)
    with pytest.raises(TwilioRestException) as refused:
        services(service.sid).update(whatsapp_msg_service_sid="")
    assert (refused.value.status, refused.value.code) == (400, 60200)
    assert "Whatsapp.MsgServiceSid" in refused.value.msg
    assert snapshot(routed.redis) == before
    cleared = services(service.sid).update(whatsapp_msg_service_sid="", whatsapp_from="")
    assert cleared.whatsapp == {"msg_service_sid": None, "from": None}
    assert services(service.sid).fetch().whatsapp == {"msg_service_sid": None, "from": None}
    start(routed, service.sid, US_MOBILE, channel="whatsapp")
    assert [(m.to, m.channel.value) for m in routed.sender.sent] == [(US_MOBILE, "whatsapp")]
    assert all(not gateway.requests for gateway in routed.gateways)


def test_a_route_providers_receipt_is_accepted_with_its_own_token_only(
    settings: Settings,
    redis_client: redis.Redis,
    clock: FixedClock,
    sender: RecordingSender,
    gateways: list[StandinHttp],
) -> None:
    """A route's twilio provider gets a StatusCallback; its receipt, signed with the route
    provider's token, marks the attempt delivered; one signed with another token is refused
    and changes nothing."""
    public = "https://verify.example.test"
    settings = dataclasses.replace(settings, public_url=public)
    for routed in _routed(settings, redis_client, clock, sender, gateways):
        service = routed.sdk.verify.v2.services.create(friendly_name="Acme")
        routed.sdk.verify.v2.services(service.sid).messaging_configurations.create(
            country="IN", messaging_service_sid=IN_ROUTE
        )
        start(routed, service.sid, IN_MOBILE)
        request, reply = routed.gateways[0].requests[-1], routed.gateways[0].replies[-1]
        callback = request.form["StatusCallback"]
        assert callback.startswith(f"{public}/v2/DeliveryReceipts/Twilio/VL")
        params = {"AccountSid": GW_SID, "MessageSid": reply["sid"], "MessageStatus": "delivered"}
        path = callback.removeprefix(public)
        client = routed.app.test_client()
        forged = RequestValidator("another-token-0123456789").compute_signature(callback, params)
        before = snapshot(routed.redis)
        refused = client.post(path, data=params, headers={"X-Twilio-Signature": forged})
        assert refused.status_code >= 400
        assert snapshot(routed.redis) == before
        signed = RequestValidator(GW_TOKEN).compute_signature(callback, params)
        accepted = client.post(path, data=params, headers={"X-Twilio-Signature": signed})
        assert accepted.status_code < 300, accepted.get_data(as_text=True)
        attempt_sid = callback.rsplit("/", 1)[1]
        record = client.get(
            f"/v2/DeliveryAttempts/{attempt_sid}", auth=(ACCOUNT_SID, routed.sdk.password)
        )
        assert record.get_json()["status"] == "delivered"


def test_an_empty_whatsapp_msg_service_sid_clears_it(routed: Routed) -> None:
    """Back to the global WhatsApp list: an empty value clears, as for `Whatsapp.From`."""
    wa = derived_route_sid("wa")
    service = routed.sdk.verify.v2.services.create(
        friendly_name="Acme", whatsapp_msg_service_sid=wa
    )
    cleared = routed.sdk.verify.v2.services(service.sid).update(whatsapp_msg_service_sid="")
    assert cleared.whatsapp == {"msg_service_sid": None, "from": None}
    start(routed, service.sid, US_MOBILE, channel="whatsapp")
    assert [(m.to, m.channel.value) for m in routed.sender.sent] == [(US_MOBILE, "whatsapp")]
    assert not routed.gateways[2].requests


def test_a_job_queued_before_routes_delivers_through_the_global_list(routed: Routed) -> None:
    """A sealed job without the route and sender fields (queued by the previous version)
    is delivered through the global list of its channel."""
    service = routed.sdk.verify.v2.services.create(friendly_name="Acme")
    routed.sdk.verify.v2.services(service.sid).messaging_configurations.create(
        country="IN", messaging_service_sid=IN_ROUTE
    )
    routed.sdk.verify.v2.services(service.sid).verifications.create(to=IN_MOBILE, channel="sms")
    _strip_route_fields(routed)
    deliver_queued(routed.app)
    assert [m.to for m in routed.sender.sent] == [IN_MOBILE]
    assert all(not gateway.requests for gateway in routed.gateways)


def _strip_route_fields(routed: Routed) -> None:
    """Rewrite every queued job in the previous version's format (no `rt`, no `from`)."""
    outbox = routed.container.outbox
    rewritten = 0
    for shard in outbox._shards:
        for entry_id, fields in routed.redis.xrange(shard.stream):
            context = fields[b"att"]
            plain = json.loads(outbox._sealer.open(fields[b"job"], context))
            assert plain.pop("rt") == IN_ROUTE
            old = dict(fields)
            old[b"job"] = outbox._sealer.seal(json.dumps(plain), context)
            routed.redis.xdel(shard.stream, entry_id)
            routed.redis.xadd(shard.stream, old)
            rewritten += 1
    assert rewritten == 1


def test_a_job_naming_a_route_the_operator_removed_goes_through_the_global_list(
    routed: Routed, caplog: pytest.LogCaptureFixture
) -> None:
    """The route of a queued job is gone from VERIFY_ROUTES_FILE when the worker takes it:
    the global list delivers, and a warning names the route."""
    service = routed.sdk.verify.v2.services.create(friendly_name="Acme")
    routed.sdk.verify.v2.services(service.sid).messaging_configurations.create(
        country="IN", messaging_service_sid=IN_ROUTE
    )
    routed.sdk.verify.v2.services(service.sid).verifications.create(to=IN_MOBILE, channel="sms")
    metrics = UnknownRoutes()
    worker = dataclasses.replace(
        routed.container, route_providers={"MG" + "f" * 32: {}}, metrics=metrics
    )
    with caplog.at_level(logging.WARNING):
        assert worker.delivery_worker("tests").run_once(block_ms=0) == 1
    assert [m.to for m in routed.sender.sent] == [IN_MOBILE]
    assert any(IN_ROUTE in record.getMessage() for record in caplog.records)
    assert metrics.channels == ["sms"]  # verify_delivery_unknown_route_total{channel="sms"}


class UnknownRoutes(NoMetrics):
    """Metrics that keep the channels of messages naming a route no longer configured."""

    def __init__(self) -> None:
        self.channels: list[str] = []

    def unknown_route(self, channel: str) -> None:
        self.channels.append(channel)


def _key_client(routed: Routed, role: str) -> Client:
    created = routed.app.test_client().post(
        "/v2/Keys",
        data={"FriendlyName": f"{role} key", "Role": role},
        auth=(ACCOUNT_SID, routed.sdk.password),
    )
    body = created.get_json()
    client = Client(
        body["sid"],
        body["secret"],
        account_sid=ACCOUNT_SID,
        http_client=FlaskHttpClient(routed.app.test_client()),
    )
    client.verify.base_url = BASE_URL
    return client


@pytest.mark.parametrize(
    ("call", "status", "code", "names"),
    [
        ("unknown route", 400, 60200, "MessagingServiceSid"),
        ("malformed route", 400, 60200, "MessagingServiceSid"),
        ("bad country", 400, 60200, "Country"),
        ("sharp s country", 400, 60200, "Country"),  # "ß".upper() == "SS", South Sudan
        ("dotless i country", 400, 60200, "Country"),  # dotless i + n, upper-cased: "IN"
        ("padded country", 400, 60200, "Country"),
        ("duplicate country", 400, 60213, "already exists"),
        ("unknown service", 404, 20404, "was not found"),
        ("update unknown country", 404, 20404, "was not found"),
        ("update to unknown route", 400, 60200, "MessagingServiceSid"),
        ("delete unknown country", 404, 20404, "was not found"),
        ("whatsapp route unknown", 400, 60200, "Whatsapp.MsgServiceSid"),
        ("whatsapp route without whatsapp", 400, 60200, "Whatsapp.MsgServiceSid"),
        ("whatsapp sender not allowed", 400, 60200, "Whatsapp.From"),
        ("whatsapp sender of another route", 400, 60200, "Whatsapp.From"),
    ],
)
def test_bad_input_is_refused_naming_the_parameter_and_changes_nothing(
    routed: Routed, call: str, status: int, code: int, names: str
) -> None:
    """Every refusal is Twilio-shaped and leaves Redis byte-for-byte as it was."""
    service = routed.sdk.verify.v2.services.create(friendly_name="Acme")
    services = routed.sdk.verify.v2.services
    configurations = services(service.sid).messaging_configurations
    configurations.create(country="IN", messaging_service_sid=IN_ROUTE)
    calls = {
        "unknown route": lambda: configurations.create(
            country="US", messaging_service_sid="MG" + "e" * 32
        ),
        "malformed route": lambda: configurations.create(
            country="US", messaging_service_sid="PN" + "e" * 32
        ),
        "bad country": lambda: configurations.create(country="XX", messaging_service_sid=IN_ROUTE),
        "sharp s country": lambda: configurations.create(
            country="\u00df", messaging_service_sid=IN_ROUTE
        ),
        "dotless i country": lambda: configurations.create(
            country="\u0131n", messaging_service_sid=IN_ROUTE
        ),
        "padded country": lambda: configurations.create(
            country=" us", messaging_service_sid=IN_ROUTE
        ),
        "duplicate country": lambda: configurations.create(
            country="in", messaging_service_sid=IN_ROUTE
        ),
        "unknown service": lambda: services("VA" + "0" * 32).messaging_configurations.create(
            country="US", messaging_service_sid=IN_ROUTE
        ),
        "update unknown country": lambda: configurations("US").update(
            messaging_service_sid=IN_ROUTE
        ),
        "update to unknown route": lambda: configurations("IN").update(
            messaging_service_sid="MG" + "e" * 32
        ),
        "delete unknown country": lambda: configurations("US").delete(),
        "whatsapp route unknown": lambda: services(service.sid).update(
            whatsapp_msg_service_sid="MG" + "e" * 32
        ),
        "whatsapp route without whatsapp": lambda: services(service.sid).update(
            whatsapp_msg_service_sid=IN_ROUTE
        ),
        "whatsapp sender not allowed": lambda: services(service.sid).update(
            whatsapp_from="+14155550999"
        ),
        "whatsapp sender of another route": lambda: services(service.sid).update(
            whatsapp_msg_service_sid=derived_route_sid("wa"), whatsapp_from="+15005550001"
        ),
    }
    before = snapshot(routed.redis)
    with pytest.raises(TwilioRestException) as refused:
        calls[call]()
    assert (refused.value.status, refused.value.code) == (status, code)
    assert names in refused.value.msg
    assert snapshot(routed.redis) == before


def test_a_refused_whatsapp_sender_says_where_senders_are_allowed(routed: Routed) -> None:
    """An operator reading the refusal learns which settings allow a sender."""
    service = routed.sdk.verify.v2.services.create(friendly_name="Acme")
    with pytest.raises(TwilioRestException) as refused:
        routed.sdk.verify.v2.services(service.sid).update(whatsapp_from="+14155550999")
    assert refused.value.msg.endswith(
        "Invalid parameter: Whatsapp.From (not a sender the operator allows for this WhatsApp"
        " route: VERIFY_ROUTES_FILE's whatsapp_senders (the route's, or the file's for the"
        " global list) or a WhatsApp provider's from=)"
    )


@pytest.mark.parametrize("role", ["backend", "support"])
def test_only_admins_change_messaging_configurations(routed: Routed, role: str) -> None:
    """A backend or support key is 403/20003 on a write and changes nothing; it reads them
    as it reads the service (backend), and the admin's changes are audited."""
    service = routed.sdk.verify.v2.services.create(friendly_name="Acme")
    routed.sdk.verify.v2.services(service.sid).messaging_configurations.create(
        country="IN", messaging_service_sid=IN_ROUTE
    )
    other = _key_client(routed, role).verify.v2.services(service.sid).messaging_configurations
    before = snapshot(routed.redis)
    writes = [
        lambda: other.create(country="US", messaging_service_sid=IN_ROUTE),
        lambda: other("IN").update(messaging_service_sid=derived_route_sid("world")),
        lambda: other("IN").delete(),
    ]
    for write in writes:
        with pytest.raises(TwilioException) as denied:
            write()
        assert isinstance(denied.value, TwilioRestException)
        assert (denied.value.status, denied.value.code) == (403, 20003)
    assert snapshot(routed.redis) == before
    if role == "backend":
        assert [c.country for c in other.list()] == ["IN"]
    entries = routed.app.test_client().get(
        "/v2/Audit/Entries", auth=(ACCOUNT_SID, routed.sdk.password)
    )
    actions = json.dumps(entries.get_json())
    assert "messaging_configurations.create" in actions


def test_the_list_pages_by_page_and_page_size(routed: Routed) -> None:
    """`PageSize` at a time, page `Page` from 0 (the SDK's `page_number`), `all` last;
    out-of-range paging is 60200 naming the parameter."""
    service = routed.sdk.verify.v2.services.create(friendly_name="Acme")
    configurations = routed.sdk.verify.v2.services(service.sid).messaging_configurations
    configurations.create(country="IN", messaging_service_sid=IN_ROUTE)
    configurations.create(country="all", messaging_service_sid=IN_ROUTE)
    first = configurations.page(page_size=1)
    assert [c.country for c in first] == ["IN"]
    assert "Page=1" in (first.next_page_url or "")
    second = configurations.page(page_size=1, page_number=1)
    assert [c.country for c in second] == ["all"]
    assert second.next_page_url is None
    for parameter, paging in (("PageSize", {"page_size": 1001}), ("Page", {"page_number": -1})):
        with pytest.raises(TwilioException) as refused:  # a list's page: the plain exception
            configurations.page(**paging)
        body = json.loads(refused.value.args[1].text)
        assert body["code"] == 60200
        assert body["message"].startswith(f"Invalid parameter: {parameter} (")


def test_deleting_a_service_deletes_its_messaging_configurations(routed: Routed) -> None:
    service = routed.sdk.verify.v2.services.create(friendly_name="Acme")
    routed.sdk.verify.v2.services(service.sid).messaging_configurations.create(
        country="IN", messaging_service_sid=IN_ROUTE
    )
    routed.sdk.verify.v2.services(service.sid).delete()
    assert not any(b"mc:" in key for key in routed.redis.scan_iter("*"))
    with pytest.raises(TwilioException) as missing:  # a list's page: the plain exception
        routed.sdk.verify.v2.services(service.sid).messaging_configurations.list()
    assert json.loads(missing.value.args[1].text)["code"] == 20404


def test_a_routed_start_costs_the_round_trips_of_any_start(
    settings: Settings,
    redis_client: redis.Redis,
    clock: FixedClock,
    sender: RecordingSender,
    gateways: list[StandinHttp],
) -> None:
    """The configurations ride in the service's own hash: a start's one read carries them."""
    counting = CountingClient(connection_pool=redis_client.connection_pool)
    for routed in _routed(settings, redis_client, clock, sender, gateways, client=counting):
        service = routed.sdk.verify.v2.services.create(friendly_name="Acme")
        routed.sdk.verify.v2.services(service.sid).messaging_configurations.create(
            country="IN", messaging_service_sid=IN_ROUTE
        )
        start(routed, service.sid, "+919876543211")  # warm: scripts loaded, service seen
        CountingClient.round_trips = 0
        routed.sdk.verify.v2.services(service.sid).verifications.create(to=IN_MOBILE, channel="sms")
        assert CountingClient.round_trips == 2
        deliver_queued(routed.app)
        assert sent_to(routed.gateways[0])[-1] == IN_MOBILE


def test_channel_fallback_picks_the_route_again_for_the_next_channel(routed: Routed) -> None:
    """Every provider of route `india` refuses the SMS: it is dead-lettered there, and the
    fallback call goes out through the global call list (the route has no call list)."""
    first, second, _third = routed.gateways
    first.fail_next(Failure.twilio_rejection(), times=1)
    second.fail_next(Failure.twilio_rejection(), times=1)
    created = routed.app.test_client().post(
        "/v2/Services",
        data={"FriendlyName": "Acme", "FallbackChannels": "call"},
        auth=(ACCOUNT_SID, routed.sdk.password),
    )
    service_sid = created.get_json()["sid"]
    routed.sdk.verify.v2.services(service_sid).messaging_configurations.create(
        country="IN", messaging_service_sid=IN_ROUTE
    )
    start(routed, service_sid, IN_MOBILE)
    assert (sent_to(first), sent_to(second)) == ([IN_MOBILE], [IN_MOBILE])
    assert [(m.to, m.channel.value) for m in routed.sender.sent] == [(IN_MOBILE, "call")]


def test_a_webhook_gateway_gets_the_whatsapp_sender_as_from() -> None:
    """Whatsapp.From reaches a webhook+ gateway too (`from` in its JSON), only when set."""
    dsn = "webhook+http://127.0.0.1:9/send?secret=" + "s" * 32
    (provider,) = build_providers(
        Channel.WHATSAPP, parse_provider_list(Channel.WHATSAPP, dsn), console_outbox=None
    )
    message = RenderedMessage(Channel.WHATSAPP, "en", "Your code is 123456")
    request = DeliveryRequest(IN_MOBILE, message, "VA" + "1" * 32, "VE" + "2" * 32, "VL" + "3" * 32)
    try:
        assert "from" not in json.loads(provider.encode(request))  # type: ignore[attr-defined]
        named = dataclasses.replace(request, whatsapp_sender=WA_SENDER)
        assert json.loads(provider.encode(named))["from"] == WA_SENDER  # type: ignore[attr-defined]
    finally:
        provider.close()


def test_an_upper_case_route_sid_names_the_route(routed: Routed) -> None:
    """Sids are hex digits whatever their case (review finding 8): `MGABC…` names the
    route `MGabc…` in MessagingServiceSid and Whatsapp.MsgServiceSid, not "not a route"."""
    wa = derived_route_sid("wa")
    shouted = "MG" + wa[2:].upper()
    assert shouted != wa
    service = routed.sdk.verify.v2.services.create(
        friendly_name="Acme", whatsapp_msg_service_sid=shouted
    )
    assert service.whatsapp["msg_service_sid"] == wa
    configurations = routed.sdk.verify.v2.services(service.sid).messaging_configurations
    created = configurations.create(country="all", messaging_service_sid=shouted)
    assert created.messaging_service_sid == wa
    start(routed, service.sid, US_MOBILE, channel="whatsapp")
    assert len(routed.gateways[2].requests) == 1


def channel_data(routed: Routed, verification_sid: str) -> dict[str, Any]:
    """The `channel_data` of the verification's one attempt, through the SDK."""
    [attempt] = routed.sdk.verify.v2.verification_attempts.list(verification_sid=verification_sid)
    data: dict[str, Any] = attempt.channel_data
    return data


def test_an_attempt_names_the_route_that_sent_it_and_none_for_the_global_list(
    routed: Routed,
) -> None:
    """`channel_data.messaging_service_sid` is the route whose list sent the attempt, also
    after a failover inside it (gateway 0 refuses, gateway 1 of route `india` sends); an
    unrouted country's attempt (the global list) and a channel the route has no list for
    name none. `/v2/DeliveryAttempts` says the same."""
    first, _second, _third = routed.gateways
    first.fail_next(Failure.twilio_rejection(), times=1)
    service = routed.sdk.verify.v2.services.create(friendly_name="Acme")
    routed.sdk.verify.v2.services(service.sid).messaging_configurations.create(
        country="IN", messaging_service_sid=IN_ROUTE
    )
    india = start(routed, service.sid, IN_MOBILE)
    us = start(routed, service.sid, US_MOBILE)
    india_call = start(routed, service.sid, "+919876543211", channel="call")

    routed_data = channel_data(routed, india.sid)
    assert routed_data["messaging_service_sid"] == IN_ROUTE
    assert routed_data["message_status"] == "sent"
    assert routed_data["provider"].startswith("twilio+http://")
    assert channel_data(routed, us.sid)["messaging_service_sid"] is None
    assert channel_data(routed, india_call.sid)["messaging_service_sid"] is None
    delivery = routed.app.test_client().get(
        f"/v2/DeliveryAttempts/{routed_data['attempt_sid']}",
        auth=(ACCOUNT_SID, routed.sdk.password),
    )
    assert delivery.get_json()["messaging_service_sid"] == IN_ROUTE


def test_an_attempt_every_provider_of_its_route_refused_still_names_the_route(
    routed: Routed,
) -> None:
    """Both gateways of route `india` refuse: the failed attempt names the route it was
    tried through, and no provider."""
    first, second, _third = routed.gateways
    first.fail_next(Failure.twilio_rejection(), times=1)
    second.fail_next(Failure.twilio_rejection(), times=1)
    service = routed.sdk.verify.v2.services.create(friendly_name="Acme")
    routed.sdk.verify.v2.services(service.sid).messaging_configurations.create(
        country="IN", messaging_service_sid=IN_ROUTE
    )
    india = start(routed, service.sid, IN_MOBILE)
    data = channel_data(routed, india.sid)
    assert (data["message_status"], data["messaging_service_sid"]) == ("failed", IN_ROUTE)
    assert data["provider"] is None
