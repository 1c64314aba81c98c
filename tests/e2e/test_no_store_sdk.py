"""Answers carry personal data (masked numbers, statuses, sids): no cache may keep them."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.support.processes import ApiServer


class HeaderRecorder(TwilioHttpClient):
    """The SDK's own HTTP client, keeping each answer's headers."""

    def __init__(self) -> None:
        super().__init__()
        self.headers: list[dict[str, str]] = []

    def request(self, *args: Any, **kwargs: Any) -> Response:
        response = super().request(*args, **kwargs)
        self.headers.append({k.lower(): v for k, v in (response.headers or {}).items()})
        return response


def _last_cache_control(client: Client) -> str | None:
    recorder = client.http_client
    assert isinstance(recorder, HeaderRecorder)
    return recorder.headers[-1].get("cache-control")


def test_every_sdk_answer_of_a_verification_is_no_store(
    api_server: ApiServer, redis_client: object
) -> None:
    """Create, start, check, fetch, list, and an error: each answer says `no-store`."""
    twilio = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=HeaderRecorder())
    twilio.verify.base_url = api_server.url
    service = twilio.verify.v2.services.create(friendly_name="Acme")
    assert _last_cache_control(twilio) == "no-store"
    verify = twilio.verify.v2.services(service.sid)
    verification = verify.verifications.create(to="+14155552671", channel="sms")
    assert _last_cache_control(twilio) == "no-store"
    verify.verification_checks.create(to="+14155552671", code="000000")
    assert _last_cache_control(twilio) == "no-store"
    verify.verifications(verification.sid).fetch()
    assert _last_cache_control(twilio) == "no-store"
    twilio.verify.v2.services.list()
    assert _last_cache_control(twilio) == "no-store"
    with pytest.raises(TwilioRestException) as refused:
        verify.verifications("VE" + "0" * 32).fetch()
    assert refused.value.status == 404
    assert _last_cache_control(twilio) == "no-store"


def test_refusals_and_health_checks_are_no_store_too(api_server: ApiServer) -> None:
    """401 without credentials, 404 for an unknown path, and the health checks."""
    base = api_server.url
    for url, auth in (
        (f"{base}/v2/Services", None),
        (f"{base}/v2/NoSuchThing", (ACCOUNT_SID, AUTH_TOKEN)),
        (f"{base}/healthz", None),
        (f"{base}/readyz", None),
    ):
        response = requests.get(url, auth=auth, timeout=10)
        assert response.headers.get("Cache-Control") == "no-store", url
