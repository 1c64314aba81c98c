"""`verify-service fraud-guard list|lift`: an operator sees which prefixes Fraud Guard
blocked, with the figures and masked numbers behind it, and lifts a block. The CLI runs
in-process against the test Redis, beside an app whose clock is near the wall clock (the CLI
reads the system clock)."""

from __future__ import annotations

import json
import time

import pytest
import redis
from click.testing import CliRunner
from flask import Flask

from tests.conftest import Api
from tests.support.fakes import FixedClock, RecordingSender
from verify_service.app import create_app
from verify_service.cli import main
from verify_service.settings import Settings


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(now=time.time_ns() // 1_000_000 - 3_600_000)


@pytest.fixture
def app(
    settings: Settings, redis_client: redis.Redis, clock: FixedClock, sender: RecordingSender
) -> Flask:
    return create_app(settings, clock=clock, providers=sender.as_providers())


def pump_until_tripped(api: Api, clock: FixedClock, service: str) -> None:
    for n in range(1, 60):
        if api.start(service, f"+447400{n:06d}").status_code == 403:
            return
        clock.advance(20)
    raise AssertionError("Fraud Guard never tripped")


def test_list_shows_the_block_with_masked_numbers_and_lift_ends_it(
    api: Api, clock: FixedClock, cli: CliRunner
) -> None:
    service = api.create_service(FraudGuardMinSends=10)
    pump_until_tripped(api, clock, service)

    listed = cli.invoke(main, ["fraud-guard", "list", service], catch_exceptions=False)
    assert listed.exit_code == 0, listed.output
    [line] = listed.output.splitlines()
    block = json.loads(line)
    assert block["prefix"] == "+44740"
    assert block["mode"] == "block"
    assert block["approvals"] == 0
    assert block["sends"] >= 10
    assert block["destinations"]
    assert "+447400" not in line  # numbers are masked

    lifted = cli.invoke(main, ["fraud-guard", "lift", service, "+44740"], catch_exceptions=False)
    assert lifted.exit_code == 0, lifted.output
    assert api.start(service, "+447400999990").status_code == 201
    empty = cli.invoke(main, ["fraud-guard", "list", service], catch_exceptions=False)
    assert empty.stdout == ""


def test_unknown_services_and_blocks_are_reported_not_crashed(api: Api, cli: CliRunner) -> None:
    service = api.create_service()
    missing = cli.invoke(main, ["fraud-guard", "lift", service, "+44740"])
    assert missing.exit_code == 1
    assert "no such service or block" in missing.output
    unknown = cli.invoke(main, ["fraud-guard", "list", "VA" + "0" * 32])
    assert unknown.exit_code == 1
    malformed = cli.invoke(main, ["fraud-guard", "lift", service, "44740; DROP"])
    assert malformed.exit_code == 1
    assert "Prefix" in malformed.output
