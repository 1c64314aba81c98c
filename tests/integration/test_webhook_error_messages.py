"""Refusals that say what to do (issue 12's new-user review): a boolean that is not one, a
comma-joined `EventTypes`, a port out of range, the metrics' 401, and the event dead
letters' requeue key. Every body keeps Twilio's shape {code, message, more_info, status}."""

from __future__ import annotations

import dataclasses
import json

import pytest
import redis
from click.testing import CliRunner
from flask import Flask

from tests.conftest import Api
from tests.integration.test_metrics_api import TOKEN
from tests.support.fakes import FixedClock, RecordingSender
from verify_service.app import create_app
from verify_service.cli import main
from verify_service.settings import Settings

PUBLIC_URL = "https://93.184.216.34/hooks"  # an address: no DNS look-up
TWILIO_KEYS = {"code", "message", "more_info", "status"}


@pytest.fixture
def app(
    settings: Settings, redis_client: redis.Redis, clock: FixedClock, sender: RecordingSender
) -> Flask:
    configured = dataclasses.replace(settings, metrics_token=TOKEN)
    return create_app(configured, clock=clock, providers=sender.as_providers())


def create(api: Api, **changes: object) -> tuple[int, dict[str, object]]:
    service = api.create_service()
    params: dict[str, object] = {
        "FriendlyName": "hooks",
        "EventTypes": ["verification.approved"],
        "WebhookUrl": PUBLIC_URL,
        **changes,
    }
    response = api.post(f"/v2/Services/{service}/Webhooks", **params)
    body = response.get_json()
    assert set(body) == TWILIO_KEYS or response.status_code == 201
    return response.status_code, body


def test_include_destination_that_is_not_a_boolean_says_true_or_false(api: Api) -> None:
    status, body = create(api, IncludeDestination="yes")
    assert (status, body["code"]) == (400, 60200)
    assert body["message"] == "Invalid parameter: IncludeDestination (true or false)"


def test_include_destination_in_json_that_is_not_a_boolean_says_true_or_false(api: Api) -> None:
    service = api.create_service()
    response = api.client.post(
        f"/v2/Services/{service}/Webhooks",
        data=json.dumps(
            {
                "FriendlyName": "hooks",
                "EventTypes": ["*"],
                "WebhookUrl": PUBLIC_URL,
                "IncludeDestination": ["true"],
            }
        ),
        content_type="application/json",
        headers=api.headers,
    )
    assert response.status_code == 400
    assert response.get_json()["message"].endswith("IncludeDestination (true or false)")


@pytest.mark.parametrize("value", ["true", "false", "True"])
def test_include_destination_true_or_false_is_taken(api: Api, value: str) -> None:
    status, body = create(api, IncludeDestination=value)
    assert status == 201, body
    assert body["include_destination"] is (value.lower() == "true")


def test_a_comma_joined_event_types_says_to_repeat_the_parameter(api: Api) -> None:
    status, body = create(api, EventTypes="verification.approved,verification.started")
    assert (status, body["code"]) == (400, 60200)
    message = str(body["message"])
    assert message.startswith("Invalid parameter: EventTypes (")
    assert "repeat EventTypes once per type" in message
    assert "unknown event type" not in message


@pytest.mark.parametrize("port", ["99999", "0", "x"])
def test_a_port_out_of_range_says_the_range(api: Api, port: str) -> None:
    status, body = create(api, WebhookUrl=f"https://93.184.216.34:{port}/hooks")
    assert (status, body["code"]) == (400, 60200)
    assert body["message"] == "Invalid parameter: WebhookUrl (must have a port from 1 to 65535)"


def test_the_metrics_401_says_which_header_to_send(api: Api) -> None:
    response = api.client.get("/metrics", headers=api.headers)  # Basic: not the credential
    body = response.get_json()
    assert response.status_code == 401
    assert set(body) == TWILIO_KEYS
    assert body["code"] == 20003
    assert body["message"] == "Authenticate: send Authorization: Bearer <VERIFY_METRICS_TOKEN>"


def test_requeue_of_an_unknown_key_names_the_key_format(cli: CliRunner) -> None:
    result = cli.invoke(main, ["webhooks", "dead-letters", "requeue", "4b0c-uuid-only"])
    assert result.exit_code == 1
    assert "no dead letter for 4b0c-uuid-only" in result.output
    assert "`<event uuid>.<YW sid>`" in result.output


def test_requeue_help_gives_the_key_format(cli: CliRunner) -> None:
    result = cli.invoke(main, ["webhooks", "dead-letters", "requeue", "--help"])
    assert result.exit_code == 0
    assert "<uuid>.<YW sid>" in result.output
    assert "`<event uuid>.<YW sid>`" in result.output
