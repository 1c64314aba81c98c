"""The console's "I lost my phone" pages (`/console/factors`) through Flask's test client on
a real Redis: factors created through the API as an application would, then looked up,
listed and deleted with a reason by support staff, every step audited."""

from __future__ import annotations

import dataclasses
import re
from typing import Any
from zoneinfo import ZoneInfo

import pyotp
import pytest
from flask import Flask
from werkzeug.test import TestResponse

from tests.conftest import Api
from tests.integration.test_console import ADMIN_PASSWORD, PASSWORD, Console, hidden
from tests.support.fakes import FixedClock
from verify_service.app import CONTAINER_KEY, build_staff_users
from verify_service.application.support.staff_users import StaffUsers
from verify_service.console.times import shown_time
from verify_service.domain.mfa.models import Factor, FactorStatus, FactorType
from verify_service.domain.sids import new_sid

IDENTITY = "ff483d1f-f591-898a-9942-916050d2ca3f"
OTHER_IDENTITY = "a1b2c3d4-0000-4000-8000-00000000abcd"
_TOKEN = re.compile(r'name="identity_token" value="([^"]*)"')
_FACTOR_ROWS = re.compile(r'<tr id="factor-(YF[0-9a-f]{32})"')
_LAST_USED = re.compile(r'<td data-label="Last used" class="time">(.*?)</td>', re.DOTALL)
UTC = ZoneInfo("UTC")


@pytest.fixture
def staff(app: Flask) -> StaffUsers:
    users = build_staff_users(app.extensions[CONTAINER_KEY])
    users.add("sam", PASSWORD, "support")
    users.add("ada", ADMIN_PASSWORD, "admin")
    return users


@pytest.fixture
def console(app: Flask, staff: StaffUsers) -> Console:
    return Console(app.test_client())


@pytest.fixture
def signed_in(console: Console) -> Console:
    assert console.login().status_code == 303
    return console


def audit_entries(app: Flask) -> list[dict[str, Any]]:
    records, _more = app.extensions[CONTAINER_KEY].audit.newest(200)
    return [dataclasses.asdict(record.entry) for record in records]


def enrol_totp(api: Api, service: str, identity: str, name: str = "Jane's phone") -> dict[str, Any]:
    """An application's enrolment: the entity, a TOTP factor, verified with a right code.
    Returns the create response (the only one that holds the secret)."""
    entity = api.post(f"/v2/Services/{service}/Entities", Identity=identity)
    assert entity.status_code == 201, entity.json
    created = api.post(
        f"/v2/Services/{service}/Entities/{identity}/Factors",
        FactorType="totp",
        FriendlyName=name,
    )
    assert created.status_code == 201, created.json
    body: dict[str, Any] = created.json  # type: ignore[assignment]
    return body


def verify_factor(
    api: Api, service: str, identity: str, factor: dict[str, Any], now_ms: int
) -> None:
    code = pyotp.TOTP(factor["binding"]["secret"]).at(now_ms // 1000)
    verified = api.post(
        f"/v2/Services/{service}/Entities/{identity}/Factors/{factor['sid']}", AuthPayload=code
    )
    assert verified.status_code == 200, verified.json
    assert verified.json["status"] == "verified"  # type: ignore[index]


def identity_token(page: TestResponse) -> str:
    found = _TOKEN.search(page.get_data(as_text=True))
    assert found is not None
    return found.group(1)


def factor_rows(page: TestResponse) -> list[str]:
    return _FACTOR_ROWS.findall(page.get_data(as_text=True))


def look_up(console: Console, service: str, identity: str = IDENTITY) -> TestResponse:
    console.page = console.client.post(
        "/console/factors",
        data={"csrf_token": console.csrf(), "service": service, "identity": identity},
    )
    return console.page


def confirm(console: Console, factor_sid: str, token: str | None = None) -> TestResponse:
    assert console.page is not None
    data = {
        "csrf_token": hidden(console.page, "csrf_token"),
        "identity_token": token or identity_token(console.page),
        "factor": factor_sid,
    }
    console.page = console.client.post("/console/factors/confirm", data=data)
    return console.page


def delete(
    console: Console,
    factor_sid: str,
    reason: str = "Lost phone",
    details: str = "",
    token: str | None = None,
    csrf: str | None = None,
) -> TestResponse:
    assert console.page is not None
    data = {
        "csrf_token": csrf if csrf is not None else hidden(console.page, "csrf_token"),
        "identity_token": token or identity_token(console.page),
        "factor": factor_sid,
        "reason": reason,
        "details": details,
    }
    console.page = console.client.post("/console/factors/delete", data=data)
    return console.page


@pytest.fixture
def service(api: Api) -> str:
    return api.create_service(FriendlyName="Acme Bank")


@pytest.fixture
def factor(api: Api, service: str, clock: FixedClock) -> dict[str, Any]:
    created = enrol_totp(api, service, IDENTITY)
    verify_factor(api, service, IDENTITY, created, clock.now_ms())
    return created


def test_support_sees_an_identitys_factors_and_never_a_secret(
    signed_in: Console, api: Api, service: str, factor: dict[str, Any], clock: FixedClock
) -> None:
    """The list shows type, friendly name, status, created and last used for each factor,
    oldest first; no page holds the secret, the otpauth URI or any part of the binding."""
    clock.advance(1)
    unverified = enrol_totp_second(api, service)
    page = look_up(signed_in, service)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert factor_rows(page) == [factor["sid"], unverified["sid"]]
    assert "Jane&#39;s phone" in text
    assert "Tablet" in text
    assert 'class="badge factor-verified">verified<' in text
    assert 'class="badge factor-unverified">unverified<' in text
    assert ">never<" in text  # neither factor has answered a challenge yet
    for created in (factor, unverified):
        secret = created["binding"]["secret"]
        assert secret not in text
        assert secret.lower() not in text
        assert "otpauth" not in text
        assert created["binding"]["uri"] not in text
    assert IDENTITY in text  # shown back: what support typed
    confirm_page = confirm(signed_in, factor["sid"]).get_data(as_text=True)
    assert factor["binding"]["secret"] not in confirm_page
    assert "otpauth" not in confirm_page


def enrol_totp_second(api: Api, service: str) -> dict[str, Any]:
    created = api.post(
        f"/v2/Services/{service}/Entities/{IDENTITY}/Factors",
        FactorType="totp",
        FriendlyName="Tablet",
    )
    assert created.status_code == 201, created.json
    body: dict[str, Any] = created.json  # type: ignore[assignment]
    return body


def test_last_used_is_the_time_of_the_last_approved_challenge(
    signed_in: Console, api: Api, service: str, factor: dict[str, Any], clock: FixedClock
) -> None:
    """A factor's last use is its verification, then each approved sign-in."""
    assert last_used(look_up(signed_in, service)) == [shown_time(clock.now_ms(), UTC)]
    clock.advance(600)  # within the console session's idle timeout
    code = pyotp.TOTP(factor["binding"]["secret"]).at(clock.now_ms() // 1000)
    answered = api.post(
        f"/v2/Services/{service}/Entities/{IDENTITY}/Challenges",
        FactorSid=factor["sid"],
        AuthPayload=code,
    )
    assert answered.json["status"] == "approved", answered.json  # type: ignore[index]
    assert last_used(look_up(signed_in, service)) == [shown_time(clock.now_ms(), UTC)]


def last_used(page: TestResponse) -> list[str]:
    """The text of each row's "Last used" cell."""
    cells = _LAST_USED.findall(page.get_data(as_text=True))
    return [" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in cells]


def test_a_look_up_is_a_post_and_is_audited_by_entity_sid_never_by_identity(
    app: Flask, signed_in: Console, service: str, factor: dict[str, Any]
) -> None:
    """The identity never enters a URL; the audit entry names the entity's sid."""
    page = look_up(signed_in, service)
    assert page.request.method == "POST"
    assert IDENTITY not in page.request.url
    entity_sid = factor["entity_sid"]
    lookups = [e for e in audit_entries(app) if e["action"] == "console.factors"]
    assert len(lookups) == 1
    assert lookups[0]["actor"] == "sam"
    assert lookups[0]["role"] == "support"
    assert lookups[0]["target"] == f"{service}/{entity_sid}"
    assert lookups[0]["outcome"] == "ok"
    assert all(IDENTITY not in str(entry) for entry in audit_entries(app))


def test_an_unknown_identity_has_no_factors_and_a_malformed_one_is_refused(
    app: Flask, signed_in: Console, service: str
) -> None:
    unknown = look_up(signed_in, service, OTHER_IDENTITY)
    assert unknown.status_code == 404
    assert 'id="no-entity"' in unknown.get_data(as_text=True)
    malformed = look_up(signed_in, service, "+14155552671")
    assert malformed.status_code == 400
    assert "8 to 64 letters and digits" in malformed.get_data(as_text=True)
    outcomes = [e["outcome"] for e in audit_entries(app) if e["action"] == "console.factors"]
    assert sorted(outcomes) == ["20404", "60306"]


def test_support_deletes_a_factor_with_a_reason_after_confirming(
    app: Flask, signed_in: Console, api: Api, service: str, factor: dict[str, Any]
) -> None:
    """List → confirm → delete with "Lost phone": the factor is gone (the API answers
    404), and exactly one audit entry says who, role, target, reason and outcome."""
    look_up(signed_in, service)
    page = confirm(signed_in, factor["sid"])
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Delete this factor?" in text
    assert "<option>Lost phone</option>" in text
    assert factor_rows(look_up(signed_in, service)) == [factor["sid"]]  # not deleted yet
    confirm(signed_in, factor["sid"])
    done = delete(signed_in, factor["sid"], "Lost phone", "customer called from a new number")
    assert done.status_code == 200, done.get_data(as_text=True)
    assert f"The factor {factor['sid']} was deleted." in done.get_data(as_text=True)
    assert factor_rows(done) == []
    fetched = api.get(f"/v2/Services/{service}/Entities/{IDENTITY}/Factors/{factor['sid']}")
    assert fetched.status_code == 404
    deletes = [e for e in audit_entries(app) if e["target"].endswith(factor["sid"])]
    deletes = [e for e in deletes if "delete" in e["action"]]
    assert len(deletes) == 1, deletes
    assert deletes[0] == {
        "actor": "sam",
        "role": "support",
        "action": "mfa.factor.delete",
        "target": f"{service}/{factor['entity_sid']}/{factor['sid']}",
        "outcome": "ok",
        "time_ms": deletes[0]["time_ms"],
        "reason": "Lost phone: customer called from a new number",
    }


@pytest.mark.parametrize(
    ("reason", "details"),
    [("", ""), ("Not a preset", ""), ("", "code 123456"), ("", "lost\x1b[2Jphone")],
)
def test_a_delete_without_a_valid_reason_changes_nothing(
    signed_in: Console, api: Api, service: str, factor: dict[str, Any], reason: str, details: str
) -> None:
    look_up(signed_in, service)
    confirm(signed_in, factor["sid"])
    refused = delete(signed_in, factor["sid"], reason, details)
    assert refused.status_code == 400
    assert "Delete this factor?" in refused.get_data(as_text=True)  # the form, again
    assert factor_rows(look_up(signed_in, service)) == [factor["sid"]]


def test_an_admin_may_delete_too(
    app: Flask, console: Console, service: str, factor: dict[str, Any]
) -> None:
    console.login("ada", ADMIN_PASSWORD)
    look_up(console, service)
    confirm(console, factor["sid"])
    assert delete(console, factor["sid"], "New phone").status_code == 200
    entry = next(e for e in audit_entries(app) if e["action"] == "mfa.factor.delete")
    assert (entry["actor"], entry["role"], entry["reason"]) == ("ada", "admin", "New phone")


# -- attacks -------------------------------------------------------------------------------------


def test_a_forged_form_cannot_reach_a_factor_of_another_service_or_identity(
    app: Flask, signed_in: Console, api: Api, service: str, factor: dict[str, Any]
) -> None:
    """The page's token names the service and identity looked up: a factor sid from
    another service (or identity) pasted into the form is not found and stays, and the
    refusal is audited."""
    other_service = api.create_service(FriendlyName="Other")
    theirs = enrol_totp(api, other_service, OTHER_IDENTITY)
    look_up(signed_in, service)
    refused = delete(signed_in, theirs["sid"])
    assert refused.status_code == 404
    assert "not one of this identity" in refused.get_data(as_text=True)
    fetched = api.get(
        f"/v2/Services/{other_service}/Entities/{OTHER_IDENTITY}/Factors/{theirs['sid']}"
    )
    assert fetched.status_code == 200
    assert confirm(signed_in, theirs["sid"]).status_code == 404
    entry = next(e for e in audit_entries(app) if e["action"] == "mfa.factor.delete")
    assert entry["outcome"] == "20404"


def test_a_token_from_another_session_or_a_destination_search_is_refused(
    app: Flask,
    staff: StaffUsers,
    signed_in: Console,
    api: Api,
    service: str,
    factor: dict[str, Any],
) -> None:
    look_up(signed_in, service)
    stolen = identity_token(signed_in.page)  # type: ignore[arg-type]
    other = Console(app.test_client())
    other.login("ada", ADMIN_PASSWORD)
    look_up(other, service, OTHER_IDENTITY)
    refused = delete(other, factor["sid"], token=stolen)
    assert refused.status_code == 400
    assert "earlier session" in refused.get_data(as_text=True)
    # A destination search's token (same session) is not a factor page's.
    api.start(service, "+14155552671")
    signed_in.search(service, "+14155552671")
    search_token = hidden(signed_in.page, "search")  # type: ignore[arg-type]
    look_up(signed_in, service)
    assert delete(signed_in, factor["sid"], token=search_token).status_code == 400
    assert factor_rows(look_up(signed_in, service)) == [factor["sid"]]


def test_a_delete_without_the_csrf_token_is_refused(
    signed_in: Console, service: str, factor: dict[str, Any]
) -> None:
    look_up(signed_in, service)
    refused = delete(signed_in, factor["sid"], csrf="")
    assert refused.status_code == 403
    assert factor_rows(look_up(signed_in, service)) == [factor["sid"]]


def test_the_console_cannot_create_a_factor_or_a_challenge(
    signed_in: Console, service: str
) -> None:
    """No console page creates one: only the API's admin and backend credentials can."""
    csrf = signed_in.csrf()
    for path in (
        "/console/factors/create",
        "/console/factors/new",
        "/console/challenges",
        f"/console/factors/{IDENTITY}",
    ):
        answer = signed_in.client.post(path, data={"csrf_token": csrf, "service": service})
        assert answer.status_code in {404, 405}, path
    rules = [rule.rule for rule in signed_in.client.application.url_map.iter_rules()]
    console_rules = {rule for rule in rules if rule.startswith("/console/factors")}
    assert console_rules == {
        "/console/factors",
        "/console/factors/list",
        "/console/factors/confirm",
        "/console/factors/delete",
    }


def test_a_signed_out_visitor_cannot_list_or_delete(
    console: Console, service: str, factor: dict[str, Any]
) -> None:
    assert console.client.get("/console/factors").status_code == 303
    answer = console.client.post(
        "/console/factors", data={"service": service, "identity": IDENTITY}
    )
    assert answer.status_code == 401


def test_a_passkey_factor_is_listed_without_its_credential(
    app: Flask,
    signed_in: Console,
    api: Api,
    service: str,
    factor: dict[str, Any],
    clock: FixedClock,
) -> None:
    """A passkeys factor (stored as the passkeys capability stores it, with its `pk_*`
    fields) is listed by type, name and status; none of its credential fields is shown."""
    mfa = app.extensions[CONTAINER_KEY].mfa
    entity = mfa.entities.fetch(service, IDENTITY)
    passkey_fields = {
        "credential_id": "cHJpdmF0ZS1jcmVkZW50aWFsLWlk",
        "public_key": "pQECAyYgASFYIPublicKeyMaterialThatStaysHidden",
        "config": '{"relying_party":{"id":"example.com"}}',
    }
    clock.advance(1)
    now_ms = clock.now_ms()
    passkey = Factor(
        sid=new_sid("YF"),
        service_sid=service,
        entity_sid=entity.sid,
        identity=IDENTITY,
        factor_type=FactorType.PASSKEYS,
        friendly_name="YubiKey",
        status=FactorStatus.VERIFIED,
        created_ms=now_ms,
        updated_ms=now_ms,
        passkey=passkey_fields,
    )
    assert mfa.store.create_factor(passkey, entity, 20) is not None
    page = look_up(signed_in, service)
    text = page.get_data(as_text=True)
    assert factor_rows(page) == [factor["sid"], passkey.sid]
    assert 'class="badge type-passkeys">passkeys<' in text
    assert "YubiKey" in text
    for value in passkey_fields.values():
        assert value not in text
    assert "relying_party" not in text


def test_a_friendly_name_is_shown_as_text_never_as_markup(
    signed_in: Console, api: Api, service: str, factor: dict[str, Any]
) -> None:
    """The application chose the name (or let its user choose it): the page escapes it."""
    created = api.post(
        f"/v2/Services/{service}/Entities/{IDENTITY}/Factors",
        FactorType="totp",
        FriendlyName='<img src=x onerror="alert(1)">',
    )
    assert created.status_code == 201, created.json
    text = look_up(signed_in, service).get_data(as_text=True)
    assert "<img" not in text
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in text
