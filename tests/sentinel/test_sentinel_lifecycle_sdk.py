"""A verification's life through the official twilio SDK, against `serve` on a
`redis+sentinel://` URL: the master is found through the sentinels, and the start-up checks
and `/readyz` read it like a standalone Redis."""

from __future__ import annotations

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.support.outbox import Outbox
from tests.support.processes import ApiServer, run_cli
from tests.support.redis_sentinel_group import SentinelGroup

pytestmark = [pytest.mark.e2e, pytest.mark.sentinel]

TO = "+14155552671"


def wrong(code: str) -> str:
    return "".join(str((int(digit) + 1) % 10) for digit in code)


def test_start_check_and_approve_through_sentinel(
    sentinel_twilio: Client, sentinel_service_sid: str, sentinel_outbox: Outbox
) -> None:
    """Start → fetch (pending) → wrong code (pending) → right code (approved), on the master
    the sentinels name; the verification is gone afterwards (20404), as on Twilio."""
    service = sentinel_twilio.verify.v2.services(sentinel_service_sid)
    started = service.verifications.create(to=TO, channel="sms")
    assert started.status == "pending"
    code = sentinel_outbox.last_code(started.sid)
    assert service.verifications(started.sid).fetch().status == "pending"

    assert service.verification_checks.create(to=TO, code=wrong(code)).status == "pending"
    assert service.verification_checks.create(to=TO, code=code).status == "approved"
    with pytest.raises(TwilioRestException) as caught:
        service.verifications(started.sid).fetch()
    assert (caught.value.status, caught.value.code) == (404, 20404)


def test_sixth_check_is_refused_with_60202_through_sentinel(
    sentinel_twilio: Client, sentinel_service_sid: str, sentinel_outbox: Outbox
) -> None:
    """Five wrong checks count on the master; the sixth is 429/60202."""
    service = sentinel_twilio.verify.v2.services(sentinel_service_sid)
    started = service.verifications.create(to=TO, channel="sms")
    code = sentinel_outbox.last_code(started.sid)
    for _ in range(5):
        service.verification_checks.create(to=TO, code=wrong(code))
    with pytest.raises(TwilioRestException) as caught:
        service.verification_checks.create(to=TO, code=code)
    assert (caught.value.status, caught.value.code) == (429, 60202)


def test_readyz_is_ready_on_the_sentinel_master(
    sentinel_api_server: ApiServer, sentinel_group: SentinelGroup
) -> None:
    """`/readyz` reads the master's eviction policy (noeviction) through the sentinels."""
    response = requests.get(f"{sentinel_api_server.url}/readyz", timeout=10)
    assert response.status_code == 200, response.text


def test_start_up_check_names_the_master_when_it_evicts(sentinel_group: SentinelGroup) -> None:
    """`worker`'s preflight refuses a Sentinel master whose policy evicts, naming the master
    and its sentinels (never the password)."""
    client = sentinel_group.master().client()
    client.config_set("maxmemory-policy", "allkeys-lru")
    try:
        env = {
            "VERIFY_REDIS_URL": sentinel_group.url,
            "VERIFY_ACCOUNT_SID": "AC" + "0123456789abcdef" * 2,
            "VERIFY_AUTH_TOKEN": "test-auth-token-0123456789",
            "VERIFY_SECRET_KEY": "test-secret-key-that-is-at-least-32-bytes-long",
        }
        result = run_cli(["worker"], env, timeout_seconds=30)
    finally:
        client.config_set("maxmemory-policy", "noeviction")
        client.close()
    assert result.returncode != 0
    assert "allkeys-lru" in result.stderr
    assert "master verify" in result.stderr
    assert "sentinel-group-password" not in result.stderr
