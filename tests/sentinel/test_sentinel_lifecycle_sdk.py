"""A verification's life through the official twilio SDK, against `serve` on a
`redis+sentinel://` URL: the master is found through the sentinels, and the start-up checks
and `/readyz` read it like a standalone Redis."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, SECRET_KEY
from tests.support.outbox import Outbox
from tests.support.processes import ApiServer, run_cli
from tests.support.redis_sentinel_group import PASSWORD, SentinelGroup

pytestmark = [pytest.mark.e2e, pytest.mark.sentinel]

TO = "+14155552671"
CREDENTIALS = {
    "VERIFY_ACCOUNT_SID": ACCOUNT_SID,
    "VERIFY_AUTH_TOKEN": AUTH_TOKEN,
    "VERIFY_SECRET_KEY": SECRET_KEY,
}


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
    client = sentinel_group.settled_master().client()
    client.config_set("maxmemory-policy", "allkeys-lru")
    try:
        env = {**CREDENTIALS, "VERIFY_REDIS_URL": sentinel_group.url}
        result = run_cli(["worker"], env, timeout_seconds=30)
    finally:
        client.config_set("maxmemory-policy", "noeviction")
        client.close()
    assert result.returncode != 0
    assert "allkeys-lru" in result.stderr
    assert "master verify" in result.stderr
    assert PASSWORD not in result.stderr


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda url: url.replace("/verify", "/unknown"), "No master found for 'unknown'"),
        (lambda url: url.replace(PASSWORD, "wrong-password"), "refused the credentials"),
    ],
    ids=["unknown master name", "wrong master password"],
)
def test_start_up_check_says_why_the_sentinel_master_is_not_usable(
    sentinel_group: SentinelGroup, change: Callable[[str], str], expected: str
) -> None:
    """An unknown master name or a wrong password stops `worker` before it starts, naming
    the sentinels, never a password."""
    env = {**CREDENTIALS, "VERIFY_REDIS_URL": change(sentinel_group.url)}
    result = run_cli(["worker"], env, timeout_seconds=30)
    assert result.returncode != 0
    assert expected in result.stderr
    assert "via sentinels 127.0.0.1:" in result.stderr
    assert PASSWORD not in result.stderr
    assert "wrong-password" not in result.stderr
