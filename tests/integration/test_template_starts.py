"""Message templates through the HTTP API (docs/messages.md, "Templates"): which template
writes a start's message (`Templates` > `TemplateSid` > the service's `DefaultTemplateSid`
> the built-in wording), how substitutions fill it, what is refused (Redis unchanged), and
that a start with a template costs no extra round trip."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask

from tests.conftest import Api, deliver_queued
from tests.integration.test_rate_limiter import CountingClient
from tests.support.fakes import FixedClock, RecordingSender
from verify_service.adapters.template_files import file_template_sid
from verify_service.app import CONTAINER_KEY, create_app
from verify_service.domain.templates.builtin import BUILTIN_TEMPLATE_SID
from verify_service.settings import ConfigError, Settings

TO = "+14155552671"
PARTS = {
    "sms": "{{app}}: {{code}} is your {{friendly_name}} code. Valid {{ttl}} min.",
    "whatsapp": "*{{code}}* - {{friendly_name}}",
    "email_subject": "Your {{friendly_name}} code",
    "email_text": "Code: {{code}}",
    "email_html": "<p>{{app}}: <b>{{code}}</b></p>",
}


def create_template(api: Api, **params: Any) -> dict[str, Any]:
    params.setdefault("FriendlyName", "Shop")
    params.setdefault(
        "Translations", json.dumps({"en": PARTS, "pt": dict(PARTS, sms="{{code}} é o código")})
    )
    params.setdefault("Variables", json.dumps({"app": 20}))
    response = api.post("/v2/Templates", **params)
    assert response.status_code == 201, response.json
    body: dict[str, Any] = response.json  # type: ignore[assignment]
    return body


def snapshot(client: redis.Redis) -> dict[bytes, bytes | None]:
    """Every key of the app under test (prefix `it`: the end-to-end server shares this Redis
    and writes its own keys meanwhile) but the audit log's (refused admin calls are recorded
    there by design)."""
    return {
        key: client.dump(key)
        for key in sorted(client.scan_iter(match="it:*"))
        if b":{audit}:" not in key and b"audit" not in key.split(b":")[1]
    }


def refusal(response: Any) -> tuple[int, int, str]:
    return response.status_code, response.json["code"], response.json["message"]


def test_template_sid_chooses_the_wording_and_substitutions_fill_it(
    api: Api, sender: RecordingSender
) -> None:
    """`TemplateSid` + `TemplateCustomSubstitutions`: the value is text, never template
    source (a `{{code}}` in it is printed as written)."""
    template = create_template(api)
    service = api.create_service(FriendlyName="Acme")
    response = api.start(
        service,
        TemplateSid=template["sid"],
        TemplateCustomSubstitutions=json.dumps({"app": "{{code}}"}),
    )
    assert response.status_code == 201, response.json
    (sent,) = sender.sent
    assert re.fullmatch(r"\{\{code\}\}: [0-9]{6} is your Acme code\. Valid 10 min\.", sent.body)


def test_email_html_escapes_every_value(api: Api, sender: RecordingSender) -> None:
    template = create_template(api)
    service = api.create_service(FriendlyName="Acme")
    response = api.start(
        service,
        to="jane@example.com",
        channel="email",
        TemplateSid=template["sid"],
        TemplateCustomSubstitutions=json.dumps({"app": "<script>x</script>"}),
    )
    assert response.status_code == 201, response.json
    message = sender.sent[-1].message
    assert message.html is not None
    assert "&lt;script&gt;x&lt;/script&gt;" in message.html
    assert "<script>" not in message.html
    assert message.subject == "Your Acme code"


def test_an_html_fragment_is_sent_in_the_built_in_emails_frame(
    api: Api, sender: RecordingSender
) -> None:
    """A template's `email_html` fragment gets the frame that makes the built-in e-mail
    render well (language, direction, charset, viewport, card): in Arabic right to left."""
    arabic = dict(PARTS, email_html="<p dir=auto>{{app}}: <b>{{code}}</b></p>")
    template = create_template(api, Translations=json.dumps({"en": PARTS, "ar": arabic}))
    service = api.create_service(FriendlyName="Acme")
    response = api.start(
        service,
        to="jane@example.com",
        channel="email",
        Locale="ar",
        TemplateSid=template["sid"],
        TemplateCustomSubstitutions=json.dumps({"app": "Shop"}),
    )
    assert response.status_code == 201, response.json
    message = sender.sent[-1].message
    assert message.html is not None
    assert message.html.startswith('<!DOCTYPE html>\n<html lang="ar" dir="rtl">')
    assert '<meta charset="utf-8">' in message.html
    assert re.search(r"<p dir=auto>Shop: <b>[0-9]{6}</b></p>", message.html)
    assert message.html.count("<b>") == 1


def test_a_whole_html_document_is_sent_as_written(api: Api, sender: RecordingSender) -> None:
    whole = dict(PARTS, email_html="<!doctype html><html><body><b>{{code}}</b></body></html>")
    template = create_template(api, Translations=json.dumps({"en": whole}))
    service = api.create_service(FriendlyName="Acme")
    response = api.start(
        service, to="jane@example.com", channel="email", TemplateSid=template["sid"]
    )
    assert response.status_code == 201, response.json
    html = sender.sent[-1].message.html
    assert html is not None
    assert re.fullmatch(r"<!doctype html><html><body><b>[0-9]{6}</b></body></html>", html)


def test_templates_parameter_takes_the_first_entry_serving_the_channel(
    api: Api, sender: RecordingSender
) -> None:
    """SDK 9.13's `Templates`: the first entry has no call wording, the second does."""
    sms_only = create_template(api)
    with_call = create_template(
        api, Translations=json.dumps({"en": dict(PARTS, call="Say {{code}}")})
    )
    service = api.create_service()
    entries = [
        {"sid": sms_only["sid"], "substitutions": {"app": "A"}},
        {"sid": with_call["sid"], "substitutions": {"app": "B"}},
    ]
    response = api.start(service, channel="call", Templates=json.dumps(entries))
    assert response.status_code == 201, response.json
    assert sender.sent[-1].body.startswith("Say ")
    sms = api.start(service, to="+14155552672", Templates=json.dumps(entries))
    assert sms.status_code == 201
    assert sender.sent[-1].body.startswith("A: ")


def test_service_default_template_writes_its_channels_and_builtin_the_others(
    api: Api, sender: RecordingSender
) -> None:
    template = create_template(api)
    service = api.create_service(DefaultTemplateSid=template["sid"])
    assert api.start(service).status_code == 201
    assert sender.sent[-1].body.startswith(": ")  # `app` not given: empty
    assert api.start(service, to="+14155552673", channel="call").status_code == 201
    assert sender.sent[-1].body.startswith("Your Acme verification code is: ")


def test_locale_falls_back_to_the_language_then_the_default_locale(
    api: Api, sender: RecordingSender
) -> None:
    template = create_template(api)
    service = api.create_service()
    assert api.start(service, TemplateSid=template["sid"], Locale="pt-BR").status_code == 201
    assert sender.sent[-1].body.endswith("é o código")
    assert sender.sent[-1].locale == "pt"
    assert api.start(service, TemplateSid=template["sid"], Locale="de").status_code == 201
    assert sender.sent[-1].locale == "en"


def test_default_template_sid_must_name_a_template(api: Api, redis_client: redis.Redis) -> None:
    before = snapshot(redis_client)
    response = api.post("/v2/Services", FriendlyName="Acme", DefaultTemplateSid="HJ" + "0" * 32)
    assert refusal(response)[:2] == (400, 60200)
    assert "DefaultTemplateSid" in response.json["message"]  # type: ignore[index]
    assert snapshot(redis_client) == before
    ok = api.post("/v2/Services", FriendlyName="Acme", DefaultTemplateSid=BUILTIN_TEMPLATE_SID)
    assert ok.status_code == 201


@pytest.mark.parametrize(
    ("substitutions", "named"),
    [
        ({"other": "x"}, "TemplateCustomSubstitutions.other"),
        ({"app": "x" * 21}, "TemplateCustomSubstitutions.app"),
        ({"app": "see evil.com"}, "TemplateCustomSubstitutions.app"),
        ({"app": "a\u202eb"}, "TemplateCustomSubstitutions.app"),
    ],
)
def test_substitutions_outside_the_declared_variables_are_refused(
    api: Api, redis_client: redis.Redis, sender: RecordingSender, substitutions: Any, named: str
) -> None:
    template = create_template(api)
    service = api.create_service()
    before = snapshot(redis_client)
    response = api.start(
        service,
        TemplateSid=template["sid"],
        TemplateCustomSubstitutions=json.dumps(substitutions),
    )
    assert refusal(response)[:2] == (400, 60200)
    assert named in response.json["message"]  # type: ignore[index]
    assert snapshot(redis_client) == before
    assert sender.sent == []


def test_a_template_without_the_channel_is_60227(api: Api, redis_client: redis.Redis) -> None:
    template = create_template(api)
    service = api.create_service()
    before = snapshot(redis_client)
    response = api.start(service, channel="call", TemplateSid=template["sid"])
    assert refusal(response) == (400, 60227, "The selected channel for template is not supported")
    assert snapshot(redis_client) == before


def test_an_unknown_template_sid_is_60200(api: Api) -> None:
    service = api.create_service()
    response = api.start(service, TemplateSid="HJ" + "1" * 32)
    assert refusal(response)[:2] == (400, 60200)
    assert "TemplateSid" in response.json["message"]  # type: ignore[index]


@pytest.mark.parametrize(
    "sms",
    [
        "{{ ''.__class__ }} {{code}}",
        "{% for x in app %}{% endfor %}{{code}}",
        "{{ cycler.__init__ }}{{code}}",
        "{{ 'a' * 100000 }}{{code}}",
        "{{code}}{{code}}",
        "no code",
        "{{code}} bit.ly/x",
        "{{code}} " + "x" * 300,
    ],
)
def test_a_template_that_cannot_be_sent_is_refused_at_save(
    api: Api, redis_client: redis.Redis, sms: str
) -> None:
    before = snapshot(redis_client)
    response = api.post(
        "/v2/Templates",
        FriendlyName="Bad",
        Translations=json.dumps({"en": {"sms": sms}}),
    )
    assert refusal(response)[:2] == (400, 60200)
    assert "Translations.en.Sms" in response.json["message"]  # type: ignore[index]
    assert snapshot(redis_client) == before


def test_update_and_delete_change_what_starts_use(api: Api, sender: RecordingSender) -> None:
    template = create_template(api)
    sid = template["sid"]
    updated = api.post(
        f"/v2/Templates/{sid}", Translations=json.dumps({"en": {"sms": "New {{code}}"}})
    )
    assert updated.status_code == 200, updated.json
    assert updated.json["channels"] == ["sms"]  # type: ignore[index]
    service = api.create_service()
    assert api.start(service, TemplateSid=sid).status_code == 201
    assert sender.sent[-1].body.startswith("New ")
    assert api.client.delete(f"/v2/Templates/{sid}", headers=api.headers).status_code == 204
    assert api.get(f"/v2/Templates/{sid}").status_code == 404


def test_builtin_template_is_listed_first_and_read_only(api: Api) -> None:
    listed = api.get("/v2/Templates").json
    first = listed["templates"][0]  # type: ignore[index]
    assert first["sid"] == BUILTIN_TEMPLATE_SID
    assert first["source"] == "builtin"
    assert first["translations"]["en"]["text"] == (
        "Your {{friendly_name}} verification code is: {{code}}"
    )
    response = api.post(f"/v2/Templates/{BUILTIN_TEMPLATE_SID}", FriendlyName="Mine")
    assert refusal(response)[:2] == (400, 60200)
    deleted = api.client.delete(f"/v2/Templates/{BUILTIN_TEMPLATE_SID}", headers=api.headers)
    assert deleted.status_code == 400


def test_a_start_with_a_template_costs_no_extra_round_trip(
    settings: Settings, redis_client: redis.Redis, clock: FixedClock, sender: RecordingSender
) -> None:
    """Once this process has read the templates (the first start after a change), a start
    naming one or using its service's default is two round trips, as any start."""
    counting = CountingClient(connection_pool=redis_client.connection_pool)
    app: Flask = create_app(
        settings, clock=clock, providers=sender.as_providers(), redis_client=counting
    )
    api = Api(app.test_client())
    template = create_template(api)
    service = api.create_service(DefaultTemplateSid=template["sid"])
    assert api.start(service, to="+14155552690").status_code == 201  # warms every cache
    deliver_queued(app)
    for number, params in (
        ("+14155552691", {"TemplateSid": template["sid"]}),
        ("+14155552692", {}),
    ):
        CountingClient.round_trips = 0
        response = api.post(
            f"/v2/Services/{service}/Verifications", To=number, Channel="sms", **params
        )
        assert response.status_code == 201, response.json
        assert CountingClient.round_trips == 2
        deliver_queued(app)


def test_a_bad_template_file_stops_the_service_naming_file_and_field(
    settings: Settings, redis_client: redis.Redis, tmp_path: Path
) -> None:
    bad = tmp_path / "shop.toml"
    bad.write_text('friendly_name = "Shop"\n[translations.en]\nsms = "no code"\n', "utf-8")
    with pytest.raises(ConfigError) as stopped:
        create_app(dataclasses.replace(settings, templates_dir=str(tmp_path)))
    assert f"{bad}: [translations.en] sms" in str(stopped.value)


def test_file_templates_are_listed_usable_and_read_only(
    settings: Settings, redis_client: redis.Redis, tmp_path: Path, sender: RecordingSender
) -> None:
    (tmp_path / "shop.toml").write_text(
        'friendly_name = "Shop"\n[translations.en]\nsms = "Shop {{code}}"\n', "utf-8"
    )
    app = create_app(
        dataclasses.replace(settings, templates_dir=str(tmp_path)),
        providers=sender.as_providers(),
    )
    api = Api(app.test_client())
    sid = file_template_sid(tmp_path / "shop.toml")
    listed = api.get("/v2/Templates").json["templates"]  # type: ignore[index]
    assert [t["source"] for t in listed] == ["builtin", "file"]
    service = api.create_service(DefaultTemplateSid=sid)
    assert api.start(service).status_code == 201
    assert sender.sent[-1].body.startswith("Shop ")
    refused = api.client.delete(f"/v2/Templates/{sid}", headers=api.headers)
    assert refused.status_code == 400
    assert "read-only" in refused.json["message"]  # type: ignore[index]


def test_a_refresh_reads_every_template_only_when_one_changed(
    settings: Settings, redis_client: redis.Redis, clock: FixedClock, sender: RecordingSender
) -> None:
    """The background refresh compares the store's version first: one small read while
    nothing changed; a change made through another process is then seen."""
    counting = CountingClient(connection_pool=redis_client.connection_pool)
    app = create_app(settings, clock=clock, providers=sender.as_providers(), redis_client=counting)
    api = Api(app.test_client())
    template = create_template(api)
    directory = app.extensions[CONTAINER_KEY].verifications.templates._directory
    directory.run_in_background = lambda work: work()
    assert directory.find(template["sid"]) is not None  # warms the cache
    clock.advance(2)
    CountingClient.round_trips = 0
    directory.find(template["sid"])  # answers from the cache, refreshes in "background"
    assert CountingClient.round_trips == 1  # the version only
    other = Api(create_app(settings, clock=clock, providers=sender.as_providers()).test_client())
    changed = other.post(f"/v2/Templates/{template['sid']}", FriendlyName="Renamed")
    assert changed.status_code == 200
    clock.advance(2)
    directory.find(template["sid"])  # the older template, and a refresh that reads them all
    found = directory.find(template["sid"])
    assert found is not None
    assert found.friendly_name == "Renamed"


def test_a_deleted_default_template_falls_back_to_the_builtin_wording(
    api: Api, sender: RecordingSender, caplog: pytest.LogCaptureFixture
) -> None:
    """Deleting is not refused; the service's starts use the built-in wording, logged."""
    template = create_template(api)
    service = api.create_service(DefaultTemplateSid=template["sid"])
    deleted = api.client.delete(f"/v2/Templates/{template['sid']}", headers=api.headers)
    assert deleted.status_code == 204
    assert api.start(service).status_code == 201
    assert sender.sent[-1].body.startswith("Your Acme verification code is: ")
    assert f"default template {template['sid']} of service {service} not found" in caplog.text


def test_a_resend_uses_the_template_its_own_request_names(
    api: Api, sender: RecordingSender
) -> None:
    """Nothing about the template is stored with the verification."""
    template = create_template(api)
    service = api.create_service()
    assert api.start(service, TemplateSid=template["sid"]).status_code == 201
    assert sender.sent[-1].body.startswith(": ")
    assert api.start(service).status_code == 201  # the resend names none: built-in
    assert sender.sent[-1].body.startswith("Your Acme verification code is: ")
    assert sender.sent[-1].verification_sid == sender.sent[-2].verification_sid


def test_every_parameter_of_the_extension_is_stored_and_takes_effect(
    api: Api, redis_client: redis.Redis, sender: RecordingSender
) -> None:
    """`FriendlyName`, `Translations`, `Variables`, `DefaultLocale` and `AllowLinks` on
    create and update: what a fetch returns and what a start sends (docs/parameters.md)."""
    linked = dict(PARTS, sms="{{code}} is your code, see example.com")
    template = create_template(
        api,
        FriendlyName="Linked",
        Translations=json.dumps({"en": PARTS, "pt": linked}),
        DefaultLocale="pt",
        AllowLinks="true",
    )
    sid = template["sid"]
    fetched = api.get(f"/v2/Templates/{sid}").json
    assert fetched is not None
    assert fetched["friendly_name"] == "Linked"
    assert (fetched["default_locale"], fetched["allow_links"]) == ("pt", True)
    assert fetched["variables"] == {"app": 20}
    service = api.create_service()
    assert api.start(service, TemplateSid=sid, Locale="de").status_code == 201
    assert (sender.sent[-1].locale, sender.sent[-1].body.endswith("example.com")) == ("pt", True)

    before = snapshot(redis_client)
    refused = api.post(f"/v2/Templates/{sid}", AllowLinks="false")
    assert refusal(refused)[:2] == (400, 60200)
    assert snapshot(redis_client) == before
    updated = api.post(
        f"/v2/Templates/{sid}",
        FriendlyName="Plain",
        Translations=json.dumps({"en": PARTS, "fr": dict(PARTS, sms="{{app}} {{code}} fr")}),
        Variables=json.dumps({"app": 5}),
        DefaultLocale="fr",
        AllowLinks="false",
    )
    assert updated.status_code == 200, updated.json
    assert api.get(f"/v2/Templates/{sid}").json == updated.json
    assert updated.json is not None
    assert updated.json["friendly_name"] == "Plain"
    assert (updated.json["default_locale"], updated.json["allow_links"]) == ("fr", False)
    assert updated.json["variables"] == {"app": 5}
    too_long = api.start(service, TemplateSid=sid, TemplateCustomSubstitutions='{"app": "abcdef"}')
    assert refusal(too_long)[:2] == (400, 60200)
    assert api.start(service, TemplateSid=sid, Locale="de").status_code == 201
    assert sender.sent[-1].body.endswith(" fr")


def test_the_templates_list_pages_by_page_and_page_size(api: Api) -> None:
    """The built-in template first, then the others oldest first, `PageSize` at a time."""
    first, second = create_template(api, FriendlyName="One"), create_template(api)
    page = api.get("/v2/Templates?PageSize=2&Page=1").json
    assert page is not None
    assert [t["sid"] for t in page["templates"]] == [second["sid"]]
    assert (page["meta"]["page"], page["meta"]["page_size"]) == (1, 2)
    page = api.get("/v2/Templates?PageSize=2&Page=0").json
    assert page is not None
    assert [t["sid"] for t in page["templates"]] == [BUILTIN_TEMPLATE_SID, first["sid"]]
    assert "Page=1" in page["meta"]["next_page_url"]
    for bad in ("PageSize=0", "PageSize=1001", "Page=-1"):
        response = api.get(f"/v2/Templates?{bad}")
        assert refusal(response)[:2] == (400, 60200), bad
        assert bad.split("=")[0] in response.json["message"]  # type: ignore[index]


def test_substitutions_without_a_template_say_how_to_choose_one(
    api: Api, redis_client: redis.Redis
) -> None:
    service = api.create_service()
    before = snapshot(redis_client)
    response = api.start(service, TemplateCustomSubstitutions=json.dumps({"app": "Shop"}))
    assert refusal(response) == (
        400,
        60200,
        "Invalid parameter: TemplateCustomSubstitutions (no template chosen: give TemplateSid,"
        " or set the service's DefaultTemplateSid)",
    )
    assert snapshot(redis_client) == before


def test_an_upper_case_template_sid_names_the_template(api: Api, sender: RecordingSender) -> None:
    """Sids are hex digits whatever their case (review finding 8): `HJABC…` names the
    template `HJabc…` in DefaultTemplateSid, TemplateSid, Templates and
    ChannelConfiguration.template_id, not "no such template"."""
    template = create_template(api)
    sid = template["sid"]
    shouted = "HJ" + sid[2:].upper()
    assert shouted != sid
    service = api.create_service(DefaultTemplateSid=shouted)
    assert api.get(f"/v2/Services/{service}").json["default_template_sid"] == sid  # type: ignore[index]
    assert api.start(service).status_code == 201
    assert sender.sent[-1].body.startswith(": ")
    other = api.create_service()
    assert api.start(other, TemplateSid=shouted).status_code == 201
    assert sender.sent[-1].body.startswith(": ")
    entries = json.dumps([{"sid": shouted}])
    assert api.start(other, to="+14155552672", Templates=entries).status_code == 201
    assert sender.sent[-1].body.startswith(": ")
    config = json.dumps({"template_id": shouted})
    email = api.start(other, to="a@example.com", channel="email", ChannelConfiguration=config)
    assert email.status_code == 201, email.json
    assert sender.sent[-1].message.subject == "Your Acme code"


def test_every_templates_entry_must_name_a_template(api: Api, redis_client: redis.Redis) -> None:
    """Review finding 13: an entry after the one chosen is looked up too (60200 naming
    Templates), not accepted because an earlier entry serves the channel."""
    template = create_template(api)
    service = api.create_service()
    before = snapshot(redis_client)
    missing = "HJ" + "2" * 32
    entries = [{"sid": template["sid"]}, {"sid": missing}]
    response = api.start(service, Templates=json.dumps(entries))
    assert refusal(response) == (
        400,
        60200,
        f"Invalid parameter: Templates (no such template {missing})",
    )
    assert snapshot(redis_client) == before


@pytest.mark.parametrize(
    ("params", "named"),
    [
        # Substitutions are named by the parameter they came in.
        (
            {"TemplateSid": "{sid}", "TemplateCustomSubstitutions": '{{"nope": "x"}}'},
            "TemplateCustomSubstitutions.nope (not a variable",
        ),
        ({"Templates": '[{{"sid": "{sid}", "substitutions": {{"nope": "x"}}}}]'}, "Templates.nope"),
        (
            {
                "ChannelConfiguration": '{{"template_id": "{sid}", '
                '"substitutions": {{"nope": "x"}}}}'
            },
            "ChannelConfiguration.substitutions.nope (not a variable",
        ),
        (
            {
                "TemplateSid": "{sid}",
                "ChannelConfiguration": '{{"substitutions": {{"app": "evil.com"}}}}',
            },
            "ChannelConfiguration.substitutions.app (no links",
        ),
        (
            {"ChannelConfiguration": '{{"substitutions": {{"app": "x"}}}}'},
            "ChannelConfiguration.substitutions (no template chosen: give"
            " ChannelConfiguration.template_id",
        ),
        # A sid that names no template is named by the parameter it came in.
        (
            {"ChannelConfiguration": f'{{{{"template_id": "HJ{"3" * 32}"}}}}'},
            "ChannelConfiguration.template_id (no such",
        ),
        # Beside Templates, the template's other parameters are refused alike.
        (
            {
                "Templates": '[{{"sid": "{sid}"}}]',
                "ChannelConfiguration": '{{"template_id": "{sid}"}}',
            },
            "ChannelConfiguration.template_id (not with Templates",
        ),
        (
            {
                "Templates": '[{{"sid": "{sid}"}}]',
                "ChannelConfiguration": '{{"substitutions": {{"app": "x"}}}}',
            },
            "ChannelConfiguration.substitutions (not with Templates",
        ),
        (
            {"Templates": '[{{"sid": "{sid}"}}]', "TemplateSid": "{sid}"},
            "TemplateSid (not with Templates",
        ),
        (
            {"Templates": '[{{"sid": "{sid}"}}]', "TemplateCustomSubstitutions": '{{"app": "x"}}'},
            "TemplateCustomSubstitutions (not with Templates",
        ),
        # A caller's key is echoed only when it is a plain word (review finding 9).
        (
            {"TemplateSid": "{sid}", "TemplateCustomSubstitutions": '{{"<b>": 1}}'},
            "TemplateCustomSubstitutions (a string)",
        ),
    ],
)
def test_errors_name_the_parameter_the_caller_sent(
    api: Api, redis_client: redis.Redis, params: dict[str, str], named: str
) -> None:
    """Review finding 1: a template or substitutions error names `Templates`, `TemplateSid`,
    `TemplateCustomSubstitutions` or `ChannelConfiguration.*`: whichever the start gave."""
    template = create_template(api)
    service = api.create_service()
    before = snapshot(redis_client)
    given = {key: value.format(sid=template["sid"]) for key, value in params.items()}
    response = api.start(service, to="a@example.com", channel="email", **given)
    assert refusal(response)[:2] == (400, 60200)
    assert response.json["message"].startswith(f"Invalid parameter: {named}")  # type: ignore[index]
    assert snapshot(redis_client) == before


def test_a_missing_default_template_is_logged_once(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    """Review finding 11: not a warning on every start of the service."""
    template = create_template(api)
    service = api.create_service(DefaultTemplateSid=template["sid"])
    assert (
        api.client.delete(f"/v2/Templates/{template['sid']}", headers=api.headers).status_code
        == 204
    )
    for to in ("+14155552672", "+14155552673", "+14155552674"):
        assert api.start(service, to=to).status_code == 201
    assert caplog.text.count(f"default template {template['sid']} of service") == 1


def test_without_templates_a_start_naming_one_is_60204_naming_what_it_gave(
    api: Api,
) -> None:
    """Review finding 2: with no template choice configured, substitutions alone are
    refused naming TemplateCustomSubstitutions, not TemplateSid."""
    api.client.application.extensions[CONTAINER_KEY].verifications.templates = None
    service = api.create_service()
    response = api.start(service, TemplateCustomSubstitutions=json.dumps({"app": "x"}))
    assert refusal(response)[:2] == (403, 60204)
    assert "TemplateCustomSubstitutions" in response.json["message"]  # type: ignore[index]
    assert "TemplateSid" not in response.json["message"]  # type: ignore[index]
