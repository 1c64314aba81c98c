"""`verify-service dead-letters list|requeue`: what an operator sees of the messages no
provider accepted, and how they go out again. The CLI runs in-process (click's CliRunner)
against the test Redis; the letters are made by a real worker and a failing webhook gateway."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator

import pytest
import redis
from click.testing import CliRunner, Result
from flask import Flask

from tests.conftest import Api
from tests.support.fakes import FixedClock
from tests.support.standin_http import Failure, StandinHttp
from verify_service.adapters.delivery.providers.registry import (
    ManagedProvider,
    build_providers,
    parse_provider_list,
)
from verify_service.app import CONTAINER_KEY, Container, create_app
from verify_service.application.delivery.delivery_worker import RetryPolicy
from verify_service.cli import main
from verify_service.domain.models import Channel
from verify_service.settings import Settings

WEBHOOK_SECRET = "whsec-deadletters-0123456789"
REFUSAL = Failure(400, {"error_code": "INVALID_NUMBER"})
ONE_TRY = RetryPolicy(
    tries_per_provider=1, base_delay_ms=1_000, max_delay_ms=30_000, visibility_timeout_ms=60_000
)
_CODE = re.compile(r"verification code is: (\d+)")


@pytest.fixture
def gateway() -> Iterator[StandinHttp]:
    with StandinHttp() as server:
        yield server


@pytest.fixture
def provider(gateway: StandinHttp) -> Iterator[ManagedProvider]:
    dsn = f"webhook+http://{gateway.netloc}/otp?secret={WEBHOOK_SECRET}&timeout=0.5"
    (built,) = build_providers(Channel.SMS, parse_provider_list(Channel.SMS, dsn))
    yield built
    built.close()


@pytest.fixture
def app(
    settings: Settings, redis_client: redis.Redis, clock: FixedClock, provider: ManagedProvider
) -> Flask:
    return create_app(settings, clock=clock, providers={Channel.SMS: [provider]})


@pytest.fixture
def container(app: Flask) -> Container:
    found: Container = app.extensions[CONTAINER_KEY]
    return found


@pytest.fixture
def service_sid(api: Api) -> str:
    return api.create_service()


def dead_letter(
    api: Api, service_sid: str, container: Container, gateway: StandinHttp, to: str
) -> tuple[str, str]:
    """Start a verification whose only provider refuses it; returns (attempt sid, code)."""
    response = api.post(f"/v2/Services/{service_sid}/Verifications", To=to, Channel="sms")
    assert response.status_code == 201, response.json
    attempt_sid: str = response.json["send_code_attempts"][0]["attempt_sid"]  # type: ignore[index]
    gateway.fail_next(REFUSAL)
    assert container.delivery_worker("t", policy=ONE_TRY).run_once(block_ms=0) == 1
    match = _CODE.search(gateway.requests[-1].json["body"])
    assert match is not None
    return attempt_sid, match.group(1)


def invoke(cli: CliRunner, *args: str) -> Result:
    return cli.invoke(main, list(args), catch_exceptions=False)


def test_list_prints_one_json_line_per_letter_newest_first_without_code_or_destination(
    api: Api,
    service_sid: str,
    container: Container,
    gateway: StandinHttp,
    provider: ManagedProvider,
    clock: FixedClock,
    cli: CliRunner,
) -> None:
    """attempt_sid, channel, failed_at and reason: what support needs, nothing secret."""
    first_sid, first_code = dead_letter(api, service_sid, container, gateway, "+14155552671")
    clock.advance(5)
    second_sid, second_code = dead_letter(api, service_sid, container, gateway, "+447911123456")

    result = invoke(cli, "dead-letters", "list")

    assert result.exit_code == 0, result.output
    newest, oldest = (json.loads(line) for line in result.stdout.splitlines())
    assert newest == {
        "attempt_sid": second_sid,
        "channel": "sms",
        "failed_at": "2026-09-21T14:13:25Z",
        "reason": f"{provider.name} answered HTTP 400 (error INVALID_NUMBER)",  # named once
    }
    assert oldest["attempt_sid"] == first_sid
    assert oldest["failed_at"] == "2026-09-21T14:13:20Z"
    for secret in (first_code, second_code, "4155552671", "7911123456", WEBHOOK_SECRET):
        assert secret not in result.output


def test_list_honours_its_limit_and_prints_nothing_when_there_are_no_letters(
    api: Api,
    service_sid: str,
    container: Container,
    gateway: StandinHttp,
    clock: FixedClock,
    cli: CliRunner,
) -> None:
    """--limit keeps the newest (of every outbox shard); an empty list is empty output and
    success."""
    assert invoke(cli, "dead-letters", "list").stdout == ""
    dead_letter(api, service_sid, container, gateway, "+14155552671")
    clock.advance(1)  # letters of different shards are ordered by their failure time
    newest, _code = dead_letter(api, service_sid, container, gateway, "+447911123456")

    result = invoke(cli, "dead-letters", "list", "--limit", "1")

    assert result.exit_code == 0, result.output
    (line,) = result.stdout.splitlines()
    assert json.loads(line)["attempt_sid"] == newest


def test_a_requeued_letter_is_delivered_by_the_worker_from_the_first_provider(
    api: Api,
    service_sid: str,
    container: Container,
    gateway: StandinHttp,
    provider: ManagedProvider,
    cli: CliRunner,
) -> None:
    """requeue puts it back on the outbox (gone from the list); the provider now accepts it
    and the attempt is recorded as sent."""
    attempt_sid, code = dead_letter(api, service_sid, container, gateway, "+14155552671")

    result = invoke(cli, "dead-letters", "requeue", attempt_sid)

    assert result.exit_code == 0, result.output
    assert result.stdout == "requeued 1\n"
    assert invoke(cli, "dead-letters", "list").stdout == ""
    assert container.outbox.attempt_status(attempt_sid)["status"] == "queued"

    assert container.delivery_worker("t", policy=ONE_TRY).run_once(block_ms=0) == 1

    _refused, delivered = gateway.requests
    assert delivered.json["attempt_sid"] == attempt_sid
    assert delivered.json["to"] == "+14155552671"
    assert _CODE.search(delivered.json["body"]).group(1) == code  # type: ignore[union-attr]
    status = container.outbox.attempt_status(attempt_sid)
    assert status["status"] == "sent"
    assert status["provider"] == provider.name
    assert status["pmid"] == gateway.replies[1]["id"]


def test_a_requeued_letter_whose_verification_has_ended_is_dropped_not_sent(
    api: Api,
    service_sid: str,
    container: Container,
    gateway: StandinHttp,
    cli: CliRunner,
) -> None:
    """Canceled while it lay in the dead-letter list: requeued, the worker drops it."""
    attempt_sid, _code = dead_letter(api, service_sid, container, gateway, "+14155552671")
    verification_sid = container.outbox.attempt_status(attempt_sid)["ve"]
    assert api.update(service_sid, verification_sid, "canceled").status_code == 200

    assert invoke(cli, "dead-letters", "requeue", attempt_sid).exit_code == 0
    assert container.delivery_worker("t", policy=ONE_TRY).run_once(block_ms=0) == 1

    assert len(gateway.requests) == 1  # only the refused one
    assert container.outbox.attempt_status(attempt_sid)["err"] == "verification_ended"
    assert container.outbox.dead_letters(10) == []


def test_requeueing_an_unknown_attempt_fails_and_names_it(
    api: Api,
    service_sid: str,
    container: Container,
    gateway: StandinHttp,
    cli: CliRunner,
) -> None:
    """A non-zero exit and a message naming the sid; the letters that exist stay listed."""
    attempt_sid, _code = dead_letter(api, service_sid, container, gateway, "+14155552671")
    unknown = "VL" + "0" * 32

    result = invoke(cli, "dead-letters", "requeue", unknown)

    assert result.exit_code == 1
    assert f"Error: no dead letter for {unknown}" in result.output
    (line,) = invoke(cli, "dead-letters", "list").stdout.splitlines()
    assert json.loads(line)["attempt_sid"] == attempt_sid


def test_dead_letters_need_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    """On the embedded store (no VERIFY_REDIS_URL) there is no outbox to inspect."""
    for name in list(os.environ):
        if name.startswith("VERIFY_"):
            monkeypatch.delenv(name)

    result = CliRunner().invoke(main, ["dead-letters", "list"])

    assert result.exit_code == 1
    assert "set VERIFY_REDIS_URL" in result.output
