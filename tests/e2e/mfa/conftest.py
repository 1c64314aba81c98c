"""MFA specifications (issue 11): fixtures and the few helpers every spec shares.

Specs about time run against `ClockedServer` (the real app over real HTTP, its clock port
held by the test; tests/support/clocked_server.py); races and the Node SDK run against the
gunicorn server of tests/e2e/conftest.py. Codes always come from tests/support/totp.py
(oathtool, or RFC 6238 written out there), never from the server's pyotp."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, SECRET_KEY
from tests.e2e.conftest import twilio_client
from tests.support.clocked_server import ClockedServer
from tests.support.fakes import FixedClock
from tests.support.processes import RedisServer
from tests.support.totp import Totp, base32
from verify_service.settings import Settings

# 2026-12-03T10:00:00Z: a multiple of 20, 30 and 60 s, so every time step starts here.
NOW = 1_796_292_000
PREFIX = "mfaspec"  # the clocked server's key prefix: "nothing stored" scans only its keys
IDENTITY = "ff483d1f-f591-8989-a994-2916050d2ca3"
OTHER_IDENTITY = "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"


@pytest.fixture(scope="session")
def session_clock() -> FixedClock:
    return FixedClock(NOW * 1000)


@pytest.fixture(scope="session")
def clocked_server(redis_server: RedisServer, session_clock: FixedClock) -> Iterator[ClockedServer]:
    settings = Settings(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        secret_key=SECRET_KEY.encode(),
        redis_url=redis_server.url,
        key_prefix=PREFIX,
    )
    server = ClockedServer(settings, session_clock).start()
    yield server
    server.stop()


@pytest.fixture
def server_clock(session_clock: FixedClock) -> FixedClock:
    """The clocked server's clock, back at NOW for every test."""
    session_clock.now = NOW * 1000
    return session_clock


@pytest.fixture
def client(
    clocked_server: ClockedServer, redis_client: redis.Redis, server_clock: FixedClock
) -> Client:
    """The official SDK on the clocked server, Redis flushed, the clock at NOW."""
    return twilio_client(clocked_server.url)


def at(clock: FixedClock, seconds: int) -> None:
    """Move the server's clock to Unix time `seconds`."""
    clock.now = seconds * 1000


def secret_for(label: str, totp: Totp | None = None, steps: range | None = None) -> str:
    """A fixed 160-bit Base32 secret named by `label`; with `totp` and `steps`, the first one
    whose codes of those steps all differ (3-digit codes collide often enough to matter)."""
    for attempt in range(1000):
        seed = hashlib.sha256(f"{label}/{attempt}".encode()).digest()[:20]
        secret = base32(seed)
        if totp is None or steps is None:
            return secret
        candidate = Totp(secret, totp.time_step, totp.digits, totp.alg)
        if candidate.distinct(list(steps)):
            return secret
    raise AssertionError(f"no secret with distinct codes for {label}")


@dataclass(frozen=True)
class Factor:
    """An enrolled TOTP factor: where it lives and how to compute its codes."""

    client: Client
    service_sid: str
    identity: str
    sid: str
    totp: Totp

    @property
    def entity(self) -> Any:
        return self.client.verify.v2.services(self.service_sid).entities(self.identity)

    def verify(self, code: str) -> str:
        """POST the code to the factor (AuthPayload): the status it answers, which a fetch
        then reads too. A wrong code is no error (Twilio: the factor stays `unverified`)."""
        answered = str(self.entity.factors(self.sid).update(auth_payload=code).status)
        assert str(self.entity.factors(self.sid).fetch().status) == answered
        return answered

    def challenge(self, code: str) -> str:
        """A challenge created with the code (AuthPayload): its status — `approved`, `pending`
        for a wrong code (no error, as Twilio), `denied` for a replayed one."""
        created = self.entity.challenges.create(factor_sid=self.sid, auth_payload=code)
        return str(created.status)


def create_service(client: Client, **totp: Any) -> str:
    return str(client.verify.v2.services.create(friendly_name="Acme", **totp).sid)


def create_entity(client: Client, service_sid: str, identity: str = IDENTITY) -> None:
    client.verify.v2.services(service_sid).entities.create(identity=identity)


def create_factor(
    client: Client,
    service_sid: str,
    totp: Totp,
    identity: str = IDENTITY,
    skew: int | None = None,
    friendly_name: str = "Ann's phone",
) -> Factor:
    """A TOTP factor with the test's secret and config (unverified), the entity created
    first if it does not exist yet."""
    entity = client.verify.v2.services(service_sid).entities(identity)
    try:
        entity.fetch()
    except TwilioRestException:
        create_entity(client, service_sid, identity)
    created = entity.new_factors.create(
        friendly_name=friendly_name,
        factor_type="totp",
        binding_secret=totp.secret,
        config_time_step=totp.time_step,
        config_code_length=totp.digits,
        config_alg=totp.alg,
        **({} if skew is None else {"config_skew": skew}),
    )
    return Factor(client, service_sid, identity, str(created.sid), totp)


def enrolled(
    client: Client, clock: FixedClock, service_sid: str, totp: Totp, **options: Any
) -> Factor:
    """A verified factor: created, then verified with the code of the clock's current step."""
    factor = create_factor(client, service_sid, totp, **options)
    assert factor.verify(totp.at(clock.now // 1000)) == "verified"
    return factor


def raw(base_url: str, method: str, path: str, **params: Any) -> requests.Response:
    """One request below the SDK (form body for POST, query for GET), account credentials."""
    return requests.request(
        method,
        f"{base_url}/v2{path}",
        data=params if method == "POST" else None,
        params=params if method != "POST" else None,
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=30,
    )
