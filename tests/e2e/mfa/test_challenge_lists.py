"""Listing an entity's challenges (issue 11, item 3): the `challenges` envelope, the FactorSid
and Status filters, Order asc (the default) and desc, and what a challenge records (Details,
HiddenDetails, Metadata, responded_reason) — through the official SDK."""

from __future__ import annotations

from twilio.rest import Client

from tests.e2e.mfa.conftest import NOW, at, create_service, enrolled, secret_for
from tests.support.fakes import FixedClock
from tests.support.totp import Totp, wrong


def test_challenges_filter_by_factor_and_status_and_order_by_creation(
    client: Client, server_clock: FixedClock
) -> None:
    service_sid = create_service(client)
    one = enrolled(client, server_clock, service_sid, Totp(secret_for("list-one")))
    two = enrolled(
        client, server_clock, service_sid, Totp(secret_for("list-two")), friendly_name="B"
    )
    created = []
    for offset, (factor, answer) in enumerate(
        [(one, "right"), (two, "wrong"), (one, None), (two, "right")], start=1
    ):
        at(server_clock, NOW + 60 * offset)
        code = factor.totp.at(NOW + 60 * offset)
        payload = {"right": code, "wrong": wrong(code), None: None}[answer]
        created.append(
            factor.entity.challenges.create(
                factor_sid=factor.sid, **({"auth_payload": payload} if payload else {})
            )
        )
    assert [c.status for c in created] == ["approved", "pending", "pending", "approved"]
    challenges = one.entity.challenges

    assert [c.sid for c in challenges.list()] == [c.sid for c in created]
    assert [c.sid for c in challenges.list(order="desc")] == [c.sid for c in created][::-1]
    assert [c.sid for c in challenges.list(factor_sid=one.sid)] == [created[0].sid, created[2].sid]
    assert [c.sid for c in challenges.list(status="approved")] == [created[0].sid, created[3].sid]
    assert [c.sid for c in challenges.list(factor_sid=two.sid, status="pending")] == [
        created[1].sid
    ]
    assert [c.sid for c in challenges.list(page_size=1, limit=4)] == [c.sid for c in created]


def test_a_challenge_keeps_its_details_hidden_details_and_metadata(
    client: Client, server_clock: FixedClock
) -> None:
    factor = enrolled(client, server_clock, create_service(client), Totp(secret_for("details")))
    at(server_clock, NOW + 300)
    challenge = factor.entity.challenges.create(
        factor_sid=factor.sid,
        details_message="Log in to Acme?",
        details_fields=[{"label": "Action", "value": "Log in"}],
        hidden_details={"ip": "172.168.1.234"},
    )
    answered = factor.entity.challenges(challenge.sid).update(
        auth_payload=factor.totp.at(NOW + 300), metadata={"os": "Android"}
    )
    fetched = factor.entity.challenges(challenge.sid).fetch()

    assert (answered.status, fetched.status) == ("approved", "approved")
    assert fetched.details["message"] == "Log in to Acme?"
    assert fetched.details["fields"] == [{"label": "Action", "value": "Log in"}]
    assert fetched.hidden_details == {"ip": "172.168.1.234"}
    assert fetched.metadata == {"os": "Android"}
    assert fetched.responded_reason == "none"
    assert fetched.factor_type == "totp"
    assert fetched.links["notifications"].endswith(f"/Challenges/{challenge.sid}/Notifications")
