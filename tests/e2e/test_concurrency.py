"""Races through the real server: checks and starts that arrive together stay within the
limits, because every state change is one Lua script (DESIGN.md, "State and atomicity")."""

from __future__ import annotations

from collections import Counter

import pytest
import redis
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.support.core_specs import TO, outcome, run_together, wrong_code
from tests.support.outbox import Outbox
from tests.support.processes import ApiServer

VERIFICATION_KEYS = "vs:v:*"


def verification_keys(client: redis.Redis) -> list[bytes]:
    return list(client.scan_iter(match=VERIFICATION_KEYS))


def test_sixty_concurrent_wrong_checks_evaluate_exactly_five(
    twilio: Client, api_server: ApiServer, redis_client: redis.Redis, outbox: Outbox
) -> None:
    """Of 60 simultaneous wrong checks, five are evaluated (200) and 55 refused with 60202."""
    service = twilio.verify.v2.services.create(friendly_name="Acme")
    verification = twilio.verify.v2.services(service.sid).verifications.create(to=TO, channel="sms")
    wrong = wrong_code(outbox.last_code(verification.sid))
    url = f"{api_server.url}/v2/Services/{service.sid}/VerificationCheck"

    responses = run_together(
        60, lambda session, _: session.post(url, data={"To": TO, "Code": wrong}, timeout=30)
    )

    outcomes = Counter(outcome(r) for r in responses)
    # Each evaluated check saw its own count: four left it pending, the fifth locked it.
    assert outcomes == {
        (200, "pending"): 4,
        (200, "max_attempts_reached"): 1,
        (429, 60202): 55,
    }, outcomes
    assert all(r.json()["valid"] is False for r in responses if r.status_code == 200)
    [key] = verification_keys(redis_client)
    assert redis_client.hget(key, "c") == b"5"


def test_sixteen_concurrent_right_checks_approve_exactly_once(
    twilio: Client, api_server: ApiServer, redis_client: redis.Redis, outbox: Outbox
) -> None:
    """Of 16 simultaneous right codes one is approved; the rest are 20404 or 60202, never 5xx."""
    service = twilio.verify.v2.services.create(friendly_name="Acme")
    verification = twilio.verify.v2.services(service.sid).verifications.create(to=TO, channel="sms")
    code = outbox.last_code(verification.sid)
    url = f"{api_server.url}/v2/Services/{service.sid}/VerificationCheck"

    responses = run_together(
        16, lambda session, _: session.post(url, data={"To": TO, "Code": code}, timeout=30)
    )

    approved = [r.json() for r in responses if r.status_code == 200]
    assert [(body["status"], body["valid"]) for body in approved] == [("approved", True)]
    assert approved[0]["sid"] == verification.sid
    others = Counter(outcome(r) for r in responses if r.status_code != 200)
    assert set(others) <= {(404, 20404), (429, 60202)}, others
    assert sum(others.values()) == 15
    with pytest.raises(TwilioRestException) as gone:
        twilio.verify.v2.services(service.sid).verifications(verification.sid).fetch()
    assert (gone.value.status, gone.value.code) == (404, 20404)
    assert verification_keys(redis_client) == []


def test_twenty_concurrent_starts_for_one_number_share_one_verification_and_five_sends(
    twilio: Client, api_server: ApiServer, redis_client: redis.Redis, outbox: Outbox
) -> None:
    """20 simultaneous starts for one To: one VE sid, exactly five sends, the rest 60203."""
    service = twilio.verify.v2.services.create(friendly_name="Acme")
    url = f"{api_server.url}/v2/Services/{service.sid}/Verifications"

    responses = run_together(
        20, lambda session, _: session.post(url, data={"To": TO, "Channel": "sms"}, timeout=30)
    )

    created = [r.json() for r in responses if r.status_code == 201]
    refused = Counter(outcome(r) for r in responses if r.status_code != 201)
    # A start that loses the race to create re-reads and resends; only a verification that
    # changes twice under one start yields 60212, which cannot happen here.
    assert refused == Counter({(429, 60203): 15}), refused
    assert len(created) == 5
    sids = {body["sid"] for body in created}
    assert len(sids) == 1, sids
    [sid] = sids
    assert sid.startswith("VE")
    assert len(verification_keys(redis_client)) == 1
    fetched = twilio.verify.v2.services(service.sid).verifications(sid).fetch()
    assert fetched.status == "pending"
    assert len(fetched.send_code_attempts) == len(created)
    assert len(outbox.messages_for(sid)) == len(created)


def test_concurrent_starts_for_different_numbers_do_not_interfere(
    twilio: Client, api_server: ApiServer, redis_client: redis.Redis, outbox: Outbox
) -> None:
    """Ten numbers started three times each, all at once: ten verifications of three sends."""
    service = twilio.verify.v2.services.create(friendly_name="Acme")
    url = f"{api_server.url}/v2/Services/{service.sid}/Verifications"
    numbers = [f"+1415555{2600 + n}" for n in range(10)]

    responses = run_together(
        30,
        lambda session, index: session.post(
            url, data={"To": numbers[index % 10], "Channel": "sms"}, timeout=30
        ),
    )

    assert [r.status_code for r in responses] == [201] * 30, [r.text for r in responses]
    sids_by_number: dict[str, set[str]] = {}
    for response in responses:
        body = response.json()
        sids_by_number.setdefault(body["to"], set()).add(body["sid"])
    assert sorted(sids_by_number) == sorted(numbers)
    assert all(len(sids) == 1 for sids in sids_by_number.values()), sids_by_number
    assert len({sid for sids in sids_by_number.values() for sid in sids}) == 10
    assert len(verification_keys(redis_client)) == 10
    for number, (sid,) in sids_by_number.items():
        fetched = twilio.verify.v2.services(service.sid).verifications(sid).fetch()
        assert fetched.to == number
        assert len(fetched.send_code_attempts) == 3
        assert len(outbox.messages_for(sid)) == 3
