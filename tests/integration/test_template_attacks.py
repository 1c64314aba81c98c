"""Templates under attack (review of issue 13): what an API client can make a template's
message become through the values a start gives it (docs/messages.md, "Templates")."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis

from tests.conftest import Api
from tests.integration.test_template_starts import refusal, snapshot
from tests.support.fakes import FixedClock, RecordingSender
from verify_service.adapters.redis_store.templates.template_store import decode_template
from verify_service.app import create_app
from verify_service.domain.messages.sms_encoding import sms_size, sms_wire_text
from verify_service.settings import Settings

# Fits the budget (2 GSM-7 parts) with every variable at its longest ASCII value.
BUDGETED_SMS = "{{code}} is your code. {{shop|upper}} {{note}}"


def budgeted_template(api: Api) -> str:
    response = api.post(
        "/v2/Templates",
        FriendlyName="Budget",
        Translations=json.dumps({"en": {"sms": BUDGETED_SMS}}),
        Variables=json.dumps({"shop": 100, "note": 100}),
    )
    assert response.status_code == 201, response.json
    sid: str = response.json["sid"]  # type: ignore[index]
    return sid


@pytest.mark.parametrize(
    "substitutions",
    [
        {"shop": "ß" * 100, "note": "W" * 100},  # `upper` doubles it: 3 GSM-7 parts
        {"shop": "W" * 100, "note": "ą" * 100},  # one UCS-2 character: 4 UCS-2 parts
        {"shop": "ﬃ" * 100, "note": "W"},  # `upper` triples it, in UCS-2
    ],
)
def test_substitutions_cannot_push_an_sms_past_the_templates_budget(
    api: Api, redis_client: redis.Redis, sender: RecordingSender, substitutions: Any
) -> None:
    """The save check fills every variable with its longest GSM-7 value; a value outside
    GSM-7, or one a filter lengthens (`'ß'.upper()` is `SS`), takes more parts. The start
    is refused (the budget is the operator's promise of issue 3), nothing written or sent."""
    sid = budgeted_template(api)
    service = api.create_service()
    before = snapshot(redis_client)
    response = api.start(
        service, TemplateSid=sid, TemplateCustomSubstitutions=json.dumps(substitutions)
    )
    assert refusal(response)[:2] == (400, 60200)
    assert "TemplateCustomSubstitutions" in response.json["message"]  # type: ignore[index]
    assert snapshot(redis_client) == before
    assert sender.sent == []


def test_a_value_outside_gsm7_that_fits_the_budget_is_sent(
    api: Api, sender: RecordingSender
) -> None:
    sid = budgeted_template(api)
    service = api.create_service()
    response = api.start(
        service,
        TemplateSid=sid,
        TemplateCustomSubstitutions=json.dumps({"shop": "Łódź", "note": "ok"}),
    )
    assert response.status_code == 201, response.json
    (sent,) = sender.sent
    assert "ŁÓDŹ" in sent.body
    assert sms_size(sms_wire_text(sent.body)).segments <= 2


def test_a_deeply_nested_template_is_a_60200_not_a_500(api: Api, redis_client: redis.Redis) -> None:
    before = snapshot(redis_client)
    response = api.post(
        "/v2/Templates",
        FriendlyName="Deep",
        Translations=json.dumps({"en": {"sms": "{{ " + "(" * 300 + "code" + ")" * 300 + " }}"}}),
    )
    assert refusal(response)[:2] == (400, 60200)
    assert "Translations.en.Sms" in response.json["message"]  # type: ignore[index]
    assert snapshot(redis_client) == before


NESTED = "[" * 5000 + "]" * 5000  # 10 kB: under the body limit, past json's recursion


@pytest.mark.parametrize(
    ("parameter", "channel"),
    [
        ("TemplateCustomSubstitutions", "sms"),
        ("Templates", "sms"),
        ("ChannelConfiguration", "email"),
        ("Tags", "sms"),
        ("RateLimits", "sms"),
    ],
)
def test_json_nested_past_the_parsers_recursion_is_a_60200_on_a_start(
    api: Api, redis_client: redis.Redis, sender: RecordingSender, parameter: str, channel: str
) -> None:
    service = api.create_service()
    to = "jane@example.com" if channel == "email" else "+14155552671"
    before = snapshot(redis_client)
    response = api.start(service, to=to, channel=channel, **{parameter: NESTED})
    assert refusal(response)[:2] == (400, 60200)
    assert parameter in response.json["message"]  # type: ignore[index]
    assert snapshot(redis_client) == before
    assert sender.sent == []


@pytest.mark.parametrize("parameter", ["Translations", "Variables"])
def test_json_nested_past_the_parsers_recursion_is_a_60200_on_a_template(
    api: Api, redis_client: redis.Redis, parameter: str
) -> None:
    params = {
        "FriendlyName": "Deep",
        "Translations": json.dumps({"en": {"sms": "{{code}}"}}),
        parameter: NESTED,
    }
    before = snapshot(redis_client)
    response = api.post("/v2/Templates", **params)
    assert refusal(response)[:2] == (400, 60200)
    assert parameter in response.json["message"]  # type: ignore[index]
    assert snapshot(redis_client) == before


def test_substitutions_for_a_channel_the_default_template_does_not_serve_are_refused(
    api: Api, redis_client: redis.Redis, sender: RecordingSender
) -> None:
    """The service's default template has no call wording, so the built-in wording writes a
    call: substitutions given with it would be accepted and ignored (the house rule: every
    parameter takes effect or is refused)."""
    sid = budgeted_template(api)
    service = api.create_service(DefaultTemplateSid=sid)
    before = snapshot(redis_client)
    response = api.start(
        service, channel="call", TemplateCustomSubstitutions=json.dumps({"shop": "A"})
    )
    assert refusal(response)[:2] == (400, 60200)
    assert "TemplateCustomSubstitutions" in response.json["message"]  # type: ignore[index]
    assert snapshot(redis_client) == before
    assert sender.sent == []
    assert api.start(service, channel="call").status_code == 201


def test_a_start_checks_only_the_template_it_uses(
    settings: Settings, redis_client: redis.Redis, clock: FixedClock, sender: RecordingSender
) -> None:
    """Reading a template checks it again (build_template: a parse of every part, an SMS
    budget render per locale: ~0.3 s for 42 locales). A process's first start used to
    check every stored template (500 at most: minutes, past any worker timeout, in every
    fresh worker); now it checks the one it uses, once per process and version."""
    api = Api(create_app(settings, clock=clock, providers=sender.as_providers()).test_client())
    used, *_others = [budgeted_template(api) for _ in range(3)]
    service = api.create_service()
    decode_template.cache_clear()
    fresh = Api(create_app(settings, clock=clock, providers=sender.as_providers()).test_client())
    response = fresh.start(service, TemplateSid=used)
    assert response.status_code == 201, response.json
    assert decode_template.cache_info().misses == 1


@pytest.mark.parametrize(
    ("channel", "to", "substitutions"),
    [
        ("sms", "+14155552671", {"first": "evil", "last": ".com"}),
        ("sms", "+14155552671", {"first": "bit.", "last": "ly/x"}),
        ("email", "jane@example.com", {"first": "evil", "last": ".com"}),
    ],
)
def test_values_cannot_join_into_a_link_when_the_template_allows_none(
    api: Api,
    redis_client: redis.Redis,
    sender: RecordingSender,
    channel: str,
    to: str,
    substitutions: dict[str, str],
) -> None:
    """Each value is checked for links alone; two values side by side (or a value beside
    literal text) read `evil.com` together. Without AllowLinks the message is refused."""
    created = api.post(
        "/v2/Templates",
        FriendlyName="Names",
        Translations=json.dumps(
            {
                "en": {
                    "sms": "{{code}} for {{first}}{{last}}",
                    "email_subject": "Hello {{first}}{{last}}",
                    "email_text": "{{code}}",
                    "email_html": "<p>{{code}}</p>",
                }
            }
        ),
        Variables=json.dumps({"first": 20, "last": 20}),
    )
    assert created.status_code == 201, created.json
    service = api.create_service()
    before = snapshot(redis_client)
    response = api.start(
        service,
        to=to,
        channel=channel,
        TemplateSid=created.json["sid"],  # type: ignore[index]
        TemplateCustomSubstitutions=json.dumps(substitutions),
    )
    assert refusal(response)[:2] == (400, 60200)
    assert "TemplateCustomSubstitutions" in response.json["message"]  # type: ignore[index]
    assert snapshot(redis_client) == before
    assert sender.sent == []
    fine = api.start(
        service,
        to=to,
        channel=channel,
        TemplateSid=created.json["sid"],  # type: ignore[index]
        TemplateCustomSubstitutions=json.dumps({"first": "Jane", "last": " Doe"}),
    )
    assert fine.status_code == 201, fine.json


def test_values_cannot_join_into_an_encoded_word_in_the_subject(
    api: Api, redis_client: redis.Redis, sender: RecordingSender
) -> None:
    """`=` + `?utf-8?q?…?=`: each value is free of `=?`, the subject is not; mail libraries
    would decode it (the SMTP provider refuses it at send: an accepted start whose e-mail
    never leaves). Refused at the start instead."""
    created = api.post(
        "/v2/Templates",
        FriendlyName="Subject",
        Translations=json.dumps(
            {"en": {"email_subject": "Hi {{first}}{{last}}", "email_text": "{{code}}"}}
        ),
        Variables=json.dumps({"first": 40, "last": 40}),
    )
    assert created.status_code == 201, created.json
    service = api.create_service()
    before = snapshot(redis_client)
    response = api.start(
        service,
        to="jane@example.com",
        channel="email",
        TemplateSid=created.json["sid"],  # type: ignore[index]
        TemplateCustomSubstitutions=json.dumps({"first": "=", "last": "?utf-8?q?Bcc=3A?="}),
    )
    assert refusal(response)[:2] == (400, 60200)
    assert "TemplateCustomSubstitutions" in response.json["message"]  # type: ignore[index]
    assert snapshot(redis_client) == before


def test_listing_templates_checks_none_of_them_again(
    settings: Settings, redis_client: redis.Redis, clock: FixedClock, sender: RecordingSender
) -> None:
    """The list shows what was checked at save; checking 500 templates of 42 locales again
    in one request took minutes on a fresh process (any backend key could ask)."""
    api = Api(create_app(settings, clock=clock, providers=sender.as_providers()).test_client())
    created = [budgeted_template(api) for _ in range(3)]
    decode_template.cache_clear()
    fresh = Api(create_app(settings, clock=clock, providers=sender.as_providers()).test_client())
    listed = fresh.get("/v2/Templates?PageSize=50")
    assert listed.status_code == 200, listed.json
    assert decode_template.cache_info().misses == 0
    shown = {t["sid"]: t for t in listed.json["templates"]}  # type: ignore[index]
    for sid in created:
        fetched = fresh.get(f"/v2/Templates/{sid}").json
        assert shown[sid] == fetched
