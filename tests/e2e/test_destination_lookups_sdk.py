"""The masked-number oracle, tried as an attacker would: a `support` key walks the fillers
of `+1 415 555 ••••` with the official twilio SDK against the real server (gunicorn, real
Redis). Exactly the hourly limit is answered, the rest is 429/20429 with Retry-After, and
every look-up is in the audit log with the number masked; an admin key is not limited."""

from __future__ import annotations

import json
from typing import Any

import requests
from twilio.base.exceptions import TwilioException
from twilio.rest import Client

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.e2e.test_api_keys_sdk import key_client
from tests.support.processes import ApiServer

LIMIT = 60  # the documented default of VERIFY_DESTINATION_LOOKUPS_PER_HOUR
TRIES = 200


def filler(n: int) -> str:
    return f"+1415555{n:04d}"


def look_up(client: Client, to: str) -> tuple[int, int | None, str | None]:
    """(HTTP status, Twilio code, Retry-After) of `verification_attempts.list(To=…)`."""
    try:
        client.verify.v2.verification_attempts.list(channel_data_to=to)
    except TwilioException as exc:
        _message, response = exc.args  # the SDK's page fetch carries the raw response
        retry_after = (response.headers or {}).get("Retry-After")
        return response.status_code, json.loads(response.text)["code"], retry_after
    return 200, None, None


def audit_entries(server_url: str) -> list[dict[str, Any]]:
    response = requests.get(
        f"{server_url}/v2/Audit/Entries",
        params={"PageSize": 1000},
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


def test_200_lookups_by_a_support_key_answer_exactly_the_limit_and_are_all_audited(
    api_server: ApiServer, redis_client: object
) -> None:
    """200 exact-match look-ups through the SDK: 60 answered, 140 refused with 429/20429
    and Retry-After, 200 audit entries, none with the number in full."""
    support, key = key_client(api_server.url, "support")
    outcomes = [look_up(support, filler(n)) for n in range(TRIES)]

    answered = [o for o in outcomes if o[0] == 200]
    refused = [o for o in outcomes if o[0] == 429]
    assert len(answered) == LIMIT
    assert len(refused) == TRIES - LIMIT
    assert outcomes[:LIMIT] == answered  # the first 60, in order, then only refusals
    assert {code for _status, code, _retry in refused} == {20429}
    assert all(retry is not None and 0 < int(retry) <= 3601 for _s, _c, retry in refused)

    lookups = [e for e in audit_entries(api_server.url) if e["action"] == "attempts.list"]
    assert len(lookups) == TRIES
    assert {e["actor"] for e in lookups} == {key["sid"]}
    assert sorted(e["outcome"] for e in lookups) == ["20429"] * (TRIES - LIMIT) + ["ok"] * LIMIT
    assert not [e for e in lookups if "1415555" in e["target"]]


def test_an_admin_key_looks_up_destinations_without_a_limit(
    api_server: ApiServer, redis_client: object
) -> None:
    """Admins see destinations in full anyway: more look-ups than the limit all answer."""
    admin, _key = key_client(api_server.url, "admin")
    outcomes = [look_up(admin, filler(n)) for n in range(LIMIT + 20)]
    assert outcomes == [(200, None, None)] * (LIMIT + 20)
    assert not [e for e in audit_entries(api_server.url) if e["action"] == "attempts.list"]
