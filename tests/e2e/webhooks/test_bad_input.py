"""Bad input to the Webhooks routes: each bad value is a Twilio-shaped 400 (60200) whose
message names the parameter, and nothing is stored — every key under the server's prefix
(the audit log aside: refused admin calls are recorded there by design) is byte for byte what
it was before the request."""

from __future__ import annotations

from typing import Any

import pytest
import redis
import requests
from twilio.rest import Client

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.e2e.webhooks.conftest import PUBLIC_URL, create_service, snapshot
from tests.support.clocked_server import ClockedServer

ERROR_KEYS = {"code", "message", "more_info", "status"}
VALID = {
    "FriendlyName": "Owl Bank",
    "EventTypes": ["factor.created"],
    "WebhookUrl": PUBLIC_URL,
}
ALL_TYPES = [
    "factor.created",
    "factor.verified",
    "factor.deleted",
    "challenge.approved",
    "challenge.denied",
    "verification.started",
    "verification.approved",
    "verification.canceled",
    "verification.expired",
    "verification.max_attempts_reached",
    "delivery.sent",
    "delivery.delivered",
    "delivery.failed",
    "fraud_guard.tripped",
    "*",
]
MISSING = object()

# (operation, why, parameters changed from VALID (MISSING: left out), the parameter named)
FORM_CASES: list[tuple[str, str, dict[str, Any], str]] = [
    ("create", "no FriendlyName", {"FriendlyName": MISSING}, "FriendlyName"),
    ("create", "empty FriendlyName", {"FriendlyName": ""}, "FriendlyName"),
    ("create", "blank FriendlyName", {"FriendlyName": "   "}, "FriendlyName"),
    ("create", "FriendlyName too long", {"FriendlyName": "x" * 65}, "FriendlyName"),
    ("create", "control character", {"FriendlyName": "Owl\x07Bank"}, "FriendlyName"),
    ("create", "no EventTypes", {"EventTypes": MISSING}, "EventTypes"),
    ("create", "unknown event type", {"EventTypes": ["factor.exploded"]}, "EventTypes"),
    ("create", "wrong case", {"EventTypes": ["Factor.Created"]}, "EventTypes"),
    ("create", "a comma list", {"EventTypes": ["factor.created,factor.deleted"]}, "EventTypes"),
    ("create", "repeated type", {"EventTypes": ["factor.created"] * 2}, "EventTypes"),
    ("create", "too many types", {"EventTypes": [*ALL_TYPES, "factor.created"]}, "EventTypes"),
    ("create", "empty event type", {"EventTypes": [""]}, "EventTypes"),
    ("create", "no WebhookUrl", {"WebhookUrl": MISSING}, "WebhookUrl"),
    ("create", "empty WebhookUrl", {"WebhookUrl": ""}, "WebhookUrl"),
    ("create", "not a URL", {"WebhookUrl": "owl bank"}, "WebhookUrl"),
    ("create", "URL too long", {"WebhookUrl": PUBLIC_URL + "?" + "a" * 2100}, "WebhookUrl"),
    ("create", "unknown Status", {"Status": "paused"}, "Status"),
    ("create", "Status in capitals", {"Status": "Enabled"}, "Status"),
    ("create", "unknown Version", {"Version": "v3"}, "Version"),
    (
        "create",
        "IncludeDestination not a boolean",
        {"IncludeDestination": "yes"},
        "IncludeDestination",
    ),
    ("update", "empty FriendlyName", {"FriendlyName": ""}, "FriendlyName"),
    ("update", "unknown event type", {"EventTypes": ["nope"]}, "EventTypes"),
    ("update", "unknown Status", {"Status": "off"}, "Status"),
    ("update", "unknown Version", {"Version": "2"}, "Version"),
    ("update", "empty WebhookUrl", {"WebhookUrl": ""}, "WebhookUrl"),
    ("update", "http to a public host", {"WebhookUrl": "http://93.184.216.34/"}, "WebhookUrl"),
    ("list", "PageSize 0", {"PageSize": "0"}, "PageSize"),
    ("list", "PageSize 1001", {"PageSize": "1001"}, "PageSize"),
    ("list", "Page -1", {"Page": "-1"}, "Page"),
    ("list", "Page not a number", {"Page": "one"}, "Page"),
]
JSON_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("EventTypes a string", {"EventTypes": "factor.created"}, "EventTypes"),
    ("EventTypes numbers", {"EventTypes": [1, 2]}, "EventTypes"),
    ("EventTypes null", {"EventTypes": None}, "EventTypes"),
    ("IncludeDestination a string", {"IncludeDestination": "maybe"}, "IncludeDestination"),
    ("FriendlyName a number", {"FriendlyName": 7}, "FriendlyName"),
    ("WebhookUrl an object", {"WebhookUrl": {"url": PUBLIC_URL}}, "WebhookUrl"),
]


@pytest.fixture
def world(client: Client) -> tuple[str, str]:
    """A service with one webhook (what an update aims at)."""
    service_sid = create_service(client)
    webhook = client.verify.v2.services(service_sid).webhooks.create(
        friendly_name="Owl Bank", event_types=["*"], webhook_url=PUBLIC_URL
    )
    return service_sid, str(webhook.sid)


def _twilio_error(response: requests.Response) -> tuple[int, int] | dict[str, Any]:
    body = response.json()
    shaped = (
        set(body) == ERROR_KEYS
        and body["status"] == response.status_code
        and body["more_info"] == f"https://www.twilio.com/docs/errors/{body['code']}"
    )
    return (
        (response.status_code, body["code"]) if shaped else {"http": response.status_code, **body}
    )


@pytest.mark.parametrize(
    ("operation", "changes", "named"),
    [pytest.param(op, ch, nm, id=f"{op}: {why}") for op, why, ch, nm in FORM_CASES],
)
def test_a_bad_parameter_is_a_400_naming_it_and_nothing_is_stored(
    plain_server: ClockedServer,
    redis_client: redis.Redis,
    world: tuple[str, str],
    operation: str,
    changes: dict[str, Any],
    named: str,
) -> None:
    service_sid, webhook_sid = world
    base = f"{plain_server.url}/v2/Services/{service_sid}/Webhooks"
    auth = (ACCOUNT_SID, AUTH_TOKEN)
    before = snapshot(redis_client)
    if operation == "list":
        response = requests.get(base, params=changes, auth=auth, timeout=30)
    else:
        params = {**VALID, **changes} if operation == "create" else changes
        form = {k: v for k, v in params.items() if v is not MISSING}
        url = base if operation == "create" else f"{base}/{webhook_sid}"
        response = requests.post(url, data=form, auth=auth, timeout=30)
    assert _twilio_error(response) == (400, 60200)
    assert named in response.json()["message"]
    assert snapshot(redis_client) == before


@pytest.mark.parametrize(
    ("changes", "named"), [pytest.param(ch, nm, id=why) for why, ch, nm in JSON_CASES]
)
def test_a_bad_json_value_is_a_400_naming_it_and_nothing_is_stored(
    plain_server: ClockedServer,
    redis_client: redis.Redis,
    world: tuple[str, str],
    changes: dict[str, Any],
    named: str,
) -> None:
    service_sid, _ = world
    before = snapshot(redis_client)
    response = requests.post(
        f"{plain_server.url}/v2/Services/{service_sid}/Webhooks",
        json={**VALID, **changes},
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=30,
    )
    assert _twilio_error(response) == (400, 60200)
    assert named in response.json()["message"]
    assert snapshot(redis_client) == before
