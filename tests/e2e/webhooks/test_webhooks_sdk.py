"""The Webhooks resource through the official twilio SDK: create, list (paging), fetch,
update, delete, 404s, the per-service cap, the extension IncludeDestination, who may manage
webhooks, and a service's delete taking its webhooks with it."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import redis
import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.e2e.conftest import twilio_client
from tests.e2e.webhooks.conftest import PREFIX, PUBLIC_URL, create_service, raw
from tests.support.clocked_server import ClockedServer
from verify_service.domain.webhooks.rules import MAX_WEBHOOKS_PER_SERVICE

UNKNOWN_YW = "YW" + "0" * 32
UNKNOWN_VA = "VA" + "0" * 32


def _create(client: Client, service_sid: str, **overrides: Any) -> Any:
    params: dict[str, Any] = {
        "friendly_name": "Owl Bank",
        "event_types": ["factor.created", "verification.approved"],
        "webhook_url": PUBLIC_URL,
    }
    return client.verify.v2.services(service_sid).webhooks.create(**{**params, **overrides})


def test_create_answers_twilios_shape_with_the_defaults(
    client: Client, plain_server: ClockedServer
) -> None:
    """A created webhook has Twilio's fields: YW sid, enabled, v2, POST, absolute url."""
    service_sid = create_service(client)
    webhook = _create(client, service_sid)
    assert re.fullmatch(r"YW[0-9a-f]{32}", webhook.sid)
    assert (webhook.account_sid, webhook.service_sid) == (ACCOUNT_SID, service_sid)
    assert webhook.friendly_name == "Owl Bank"
    assert webhook.event_types == ["factor.created", "verification.approved"]
    assert (webhook.status, webhook.version, webhook.webhook_method) == ("enabled", "v2", "POST")
    assert webhook.webhook_url == PUBLIC_URL
    assert webhook.date_created is not None
    assert webhook.date_created == webhook.date_updated
    assert webhook.url == f"{plain_server.url}/v2/Services/{service_sid}/Webhooks/{webhook.sid}"
    body = raw(plain_server.url, "GET", f"/Services/{service_sid}/Webhooks/{webhook.sid}").json()
    assert body["include_destination"] is False  # the extension, off by default


def test_fetch_update_and_delete_through_the_sdk(client: Client) -> None:
    """Fetch reads what create stored; update changes only what it names; delete is final."""
    service_sid = create_service(client)
    created = _create(client, service_sid, status="disabled", resource_version="v2")
    handle = client.verify.v2.services(service_sid).webhooks(created.sid)
    fetched = handle.fetch()
    assert (fetched.sid, fetched.status, fetched.version) == (created.sid, "disabled", "v2")
    updated = handle.update(status="enabled", event_types=["*"])
    assert (updated.status, updated.event_types, updated.version) == ("enabled", ["*"], "v2")
    assert updated.friendly_name == "Owl Bank"
    assert updated.webhook_url == PUBLIC_URL
    assert handle.fetch().event_types == ["*"]
    renamed = handle.update(friendly_name="Owl Bank 2", webhook_url="https://1.1.1.1/h")
    assert (renamed.friendly_name, renamed.webhook_url) == ("Owl Bank 2", "https://1.1.1.1/h")
    assert handle.delete() is True
    with pytest.raises(TwilioRestException) as gone:
        handle.fetch()
    assert (gone.value.status, gone.value.code) == (404, 20404)


def test_list_pages_in_creation_order(client: Client) -> None:
    """The SDK's list and stream follow next_page_url through every page, oldest first."""
    service_sid = create_service(client)
    sids = [_create(client, service_sid, friendly_name=f"hook {i}").sid for i in range(5)]
    webhooks = client.verify.v2.services(service_sid).webhooks
    assert [w.sid for w in webhooks.list(page_size=2)] == sids
    assert [w.sid for w in webhooks.list(limit=3, page_size=2)] == sids[:3]
    page = webhooks.page(page_size=2, page_number=2)
    assert [w.sid for w in page] == sids[4:]
    assert page.next_page() is None


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/Services/{VA}/Webhooks/" + UNKNOWN_YW),
        ("POST", "/Services/{VA}/Webhooks/" + UNKNOWN_YW),
        ("DELETE", "/Services/{VA}/Webhooks/" + UNKNOWN_YW),
        ("GET", "/Services/{VA}/Webhooks/not-a-sid"),
        ("GET", f"/Services/{UNKNOWN_VA}/Webhooks"),
        ("POST", f"/Services/{UNKNOWN_VA}/Webhooks"),
        ("GET", "/Services/{OTHER}/Webhooks/{YW}"),  # another service's webhook
        ("DELETE", "/Services/{OTHER}/Webhooks/{YW}"),
    ],
)
def test_an_unknown_webhook_or_service_is_404(
    client: Client, plain_server: ClockedServer, method: str, path: str
) -> None:
    """Twilio's 404/20404, whatever the method; a webhook is found under its own service only."""
    service_sid = create_service(client)
    webhook = _create(client, service_sid)
    other = create_service(client)
    params = (
        {"FriendlyName": "x", "EventTypes": "*", "WebhookUrl": PUBLIC_URL}
        if method == "POST"
        else {}
    )
    target = path.format(VA=service_sid, OTHER=other, YW=webhook.sid)
    response = raw(plain_server.url, method, target, **params)
    assert (response.status_code, response.json()["code"]) == (404, 20404)
    assert client.verify.v2.services(service_sid).webhooks(webhook.sid).fetch().sid == webhook.sid


def test_a_service_has_at_most_its_maximum_of_webhooks(client: Client) -> None:
    """The 21st webhook is a 400 naming the limit; deleting one makes room again."""
    service_sid = create_service(client)
    sids = [_create(client, service_sid).sid for _ in range(MAX_WEBHOOKS_PER_SERVICE)]
    with pytest.raises(TwilioRestException) as refused:
        _create(client, service_sid)
    assert (refused.value.status, refused.value.code) == (400, 60200)
    assert f"at most {MAX_WEBHOOKS_PER_SERVICE} webhooks" in refused.value.msg
    client.verify.v2.services(service_sid).webhooks(sids[0]).delete()
    assert _create(client, service_sid).sid not in sids


def test_include_destination_is_an_extension_set_and_cleared(
    client: Client, plain_server: ClockedServer
) -> None:
    """IncludeDestination=true is stored and echoed; the SDK's own calls keep it."""
    service_sid = create_service(client)
    response = raw(
        plain_server.url,
        "POST",
        f"/Services/{service_sid}/Webhooks",
        FriendlyName="with to",
        EventTypes=["verification.started", "delivery.failed"],
        WebhookUrl=PUBLIC_URL,
        IncludeDestination="true",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["include_destination"] is True
    assert body["event_types"] == ["verification.started", "delivery.failed"]
    client.verify.v2.services(service_sid).webhooks(body["sid"]).update(status="disabled")
    path = f"/Services/{service_sid}/Webhooks/{body['sid']}"
    assert raw(plain_server.url, "GET", path).json()["include_destination"] is True
    cleared = raw(plain_server.url, "POST", path, IncludeDestination="false").json()
    assert cleared["include_destination"] is False


def test_a_json_body_takes_event_types_as_an_array(
    client: Client, plain_server: ClockedServer
) -> None:
    """The same keys in a JSON object: EventTypes an array, IncludeDestination a boolean."""
    service_sid = create_service(client)
    response = requests.post(
        f"{plain_server.url}/v2/Services/{service_sid}/Webhooks",
        json={
            "FriendlyName": "json",
            "EventTypes": ["challenge.approved", "challenge.denied"],
            "WebhookUrl": PUBLIC_URL,
            "IncludeDestination": True,
        },
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=30,
    )
    assert response.status_code == 201, response.json()
    assert response.json()["event_types"] == ["challenge.approved", "challenge.denied"]
    assert response.json()["include_destination"] is True


def _key(server_url: str, role: str) -> Client:
    created = requests.post(
        f"{server_url}/v2/Keys",
        data={"FriendlyName": f"{role} key", "Role": role},
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=30,
    ).json()
    return twilio_client(server_url, created["sid"], created["secret"])


@pytest.mark.parametrize("role", ["backend", "support"])
def test_only_admins_manage_or_read_webhooks(
    client: Client, plain_server: ClockedServer, role: str
) -> None:
    """A backend or support key is 403/20003 on every webhook operation; an admin key works."""
    service_sid = create_service(client)
    webhook = _create(client, service_sid)
    other = _key(plain_server.url, role)
    webhooks = other.verify.v2.services(service_sid).webhooks
    calls = [
        lambda: _create(other, service_sid),
        webhooks.list,
        lambda: webhooks(webhook.sid).fetch(),
        lambda: webhooks(webhook.sid).update(status="disabled"),
        lambda: webhooks(webhook.sid).delete(),
    ]
    for call in calls:
        with pytest.raises(TwilioException) as denied:
            call()
        if isinstance(denied.value, TwilioRestException):
            assert (denied.value.status, denied.value.code) == (403, 20003)
        else:  # a list's page: the SDK raises its plain exception with the response
            answer = denied.value.args[1]
            assert (answer.status_code, json.loads(answer.text)["code"]) == (403, 20003)
    admin = _key(plain_server.url, "admin").verify.v2.services(service_sid).webhooks
    assert [w.sid for w in admin.list()] == [webhook.sid]
    assert client.verify.v2.services(service_sid).webhooks(webhook.sid).fetch().status == "enabled"


def test_each_change_is_in_the_audit_log(client: Client, plain_server: ClockedServer) -> None:
    """Create, update, delete (and a refused create) each leave an audit entry, no URL."""
    service_sid = create_service(client)
    webhook = _create(client, service_sid)
    client.verify.v2.services(service_sid).webhooks(webhook.sid).update(status="disabled")
    client.verify.v2.services(service_sid).webhooks(webhook.sid).delete()
    with pytest.raises(TwilioRestException):
        _create(client, service_sid, webhook_url="https://10.0.0.1/")
    entries = raw(plain_server.url, "GET", "/Audit/Entries").json()["entries"]
    seen = [(e["action"], e["outcome"]) for e in entries if e["action"].startswith("webhooks.")]
    assert seen == [
        ("webhooks.create", "60200"),
        ("webhooks.delete", "ok"),
        ("webhooks.update", "ok"),
        ("webhooks.create", "ok"),
    ]
    assert all("10.0.0.1" not in str(e) and "93.184" not in str(e) for e in entries)


def test_deleting_a_service_deletes_its_webhooks(
    client: Client, plain_server: ClockedServer, redis_client: redis.Redis
) -> None:
    """No webhook key of the service is left; another service's webhooks stay."""
    service_sid = create_service(client)
    kept_service = create_service(client)
    for _ in range(3):
        _create(client, service_sid)
    kept = _create(client, kept_service)
    client.verify.v2.services(service_sid).delete()
    left = [
        key
        for key in redis_client.scan_iter(match=f"{PREFIX}:wh:*{service_sid}*")
        if not key.endswith(b":deleted")
    ]
    assert left == []
    assert client.verify.v2.services(kept_service).webhooks(kept.sid).fetch().sid == kept.sid
    response = raw(plain_server.url, "GET", f"/Services/{service_sid}/Webhooks")
    assert (response.status_code, response.json()["code"]) == (404, 20404)
