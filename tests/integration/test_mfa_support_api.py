"""What a `support` API key may do with MFA ("I lost my phone"), and no more: read entities
and factors (never a secret), delete a factor with a `Reason` (required for support,
recorded in the audit log), never enrol a factor nor create or answer a challenge."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pyotp
import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import Api
from tests.integration.test_api_keys import basic, create_key
from tests.support.fakes import FixedClock
from verify_service.app import CONTAINER_KEY
from verify_service.domain.staff import MAX_REASON_LENGTH

IDENTITY = "ff483d1f-f591-898a-9942-916050d2ca3f"


class Caller:
    """An API key as its holder uses it."""

    def __init__(self, client: FlaskClient, key: dict[str, Any]) -> None:
        self.client = client
        self.sid = key["sid"]
        self.headers = basic(key["sid"], key["secret"])

    def get(self, path: str) -> TestResponse:
        return self.client.get(path, headers=self.headers)

    def post(self, path: str, **params: Any) -> TestResponse:
        return self.client.post(path, data=params, headers=self.headers)

    def delete(self, path: str, reason: str | None = None) -> TestResponse:
        query = f"?Reason={quote(reason)}" if reason is not None else ""
        return self.client.delete(path + query, headers=self.headers)


@pytest.fixture
def support(api: Api, app: Flask) -> Caller:
    return Caller(app.test_client(), create_key(api, role="support", name="helpdesk"))


@pytest.fixture
def backend(api: Api, app: Flask) -> Caller:
    return Caller(app.test_client(), create_key(api, role="backend", name="checkout"))


@pytest.fixture
def service(api: Api) -> str:
    return api.create_service(FriendlyName="Acme Bank")


@pytest.fixture
def factor(api: Api, service: str, clock: FixedClock) -> dict[str, Any]:
    """A verified TOTP factor, enrolled by the application (account credentials)."""
    created = api.post(
        f"/v2/Services/{service}/Entities/{IDENTITY}/Factors",
        FactorType="totp",
        FriendlyName="Jane's phone",
    )
    assert created.status_code == 201, created.json
    body: dict[str, Any] = created.json  # type: ignore[assignment]
    code = pyotp.TOTP(body["binding"]["secret"]).at(clock.now_ms() // 1000)
    verified = api.post(
        f"/v2/Services/{service}/Entities/{IDENTITY}/Factors/{body['sid']}", AuthPayload=code
    )
    assert verified.json["status"] == "verified", verified.json  # type: ignore[index]
    return body


def factor_path(service: str, factor: dict[str, Any]) -> str:
    return f"/v2/Services/{service}/Entities/{IDENTITY}/Factors/{factor['sid']}"


def audit_entries(app: Flask) -> list[dict[str, Any]]:
    records, _more = app.extensions[CONTAINER_KEY].audit.newest(200)
    return [dataclasses.asdict(record.entry) for record in records]


def deletes_of(app: Flask, factor_sid: str) -> list[dict[str, Any]]:
    return [
        entry
        for entry in audit_entries(app)
        if entry["target"].endswith(factor_sid) and "delete" in entry["action"]
    ]


# -- reading ---------------------------------------------------------------------------------------


def test_support_lists_and_fetches_entities_and_factors_without_any_secret(
    support: Caller, service: str, factor: dict[str, Any]
) -> None:
    base = f"/v2/Services/{service}/Entities"
    answers = [
        support.get(base),
        support.get(f"{base}/{IDENTITY}"),
        support.get(f"{base}/{IDENTITY}/Factors"),
        support.get(factor_path(service, factor)),
        support.get(f"{base}/{IDENTITY}/Challenges"),
    ]
    for answer in answers:
        assert answer.status_code == 200, answer.json
        text = json.dumps(answer.json)
        assert factor["binding"]["secret"] not in text
        assert "binding" not in text
        assert "otpauth" not in text
    listed = answers[2].json["factors"]  # type: ignore[index]
    assert [item["sid"] for item in listed] == [factor["sid"]]
    assert listed[0]["status"] == "verified"


# -- never enrol, never challenge ------------------------------------------------------------------


def test_support_cannot_create_an_entity_a_factor_or_a_challenge(
    support: Caller, api: Api, service: str, factor: dict[str, Any]
) -> None:
    """403/20003 for every enrolment and challenge route; nothing is created."""
    base = f"/v2/Services/{service}/Entities"
    refused = [
        support.post(base, Identity="b0b0b0b0-new-identity"),
        support.post(f"{base}/{IDENTITY}/Factors", FactorType="totp", FriendlyName="attacker"),
        support.post(factor_path(service, factor), FriendlyName="renamed"),
        support.post(factor_path(service, factor), AuthPayload="123456"),
        support.post(f"{base}/{IDENTITY}/Challenges", FactorSid=factor["sid"]),
        support.post(
            f"{base}/{IDENTITY}/Challenges", FactorSid=factor["sid"], AuthPayload="123456"
        ),
        support.delete(f"{base}/{IDENTITY}", reason="lost phone"),
    ]
    for answer in refused:
        assert answer.status_code == 403, (answer.request.path, answer.json)
        assert answer.json["code"] == 20003  # type: ignore[index]
    factors = api.get(f"{base}/{IDENTITY}/Factors").json["factors"]  # type: ignore[index]
    assert [(item["sid"], item["friendly_name"]) for item in factors] == [
        (factor["sid"], "Jane's phone")
    ]
    assert api.get(f"{base}/{IDENTITY}/Challenges").json["challenges"] == []  # type: ignore[index]
    assert api.get(f"{base}/b0b0b0b0-new-identity").status_code == 404


# -- deleting with a reason ------------------------------------------------------------------------


def test_support_must_give_a_reason_to_delete_a_factor(
    app: Flask, support: Caller, api: Api, service: str, factor: dict[str, Any]
) -> None:
    """Without `Reason`: 400, Twilio-shaped, naming the parameter; the factor stays."""
    refused = support.delete(factor_path(service, factor))
    assert refused.status_code == 400
    body: dict[str, Any] = refused.json  # type: ignore[assignment]
    assert body["code"] == 60306
    assert body["status"] == 400
    assert "Reason" in body["message"]
    assert body["more_info"] == "https://www.twilio.com/docs/errors/60306"
    assert api.get(factor_path(service, factor)).status_code == 200


def test_support_deletes_a_factor_with_a_reason_and_the_audit_log_keeps_it(
    app: Flask, support: Caller, api: Api, service: str, factor: dict[str, Any]
) -> None:
    answer = support.delete(factor_path(service, factor), reason="lost phone, new one bought")
    assert answer.status_code == 204, answer.json
    assert api.get(factor_path(service, factor)).status_code == 404
    deletes = deletes_of(app, factor["sid"])
    assert len(deletes) == 1, deletes
    entry = deletes[0]
    assert entry["actor"] == support.sid
    assert entry["role"] == "support"
    assert entry["target"] == f"{service}/{factor['entity_sid']}/{factor['sid']}"
    assert entry["outcome"] == "ok"
    assert entry["reason"] == "lost phone, new one bought"
    assert IDENTITY not in json.dumps(audit_entries(app))
    assert factor["binding"]["secret"] not in json.dumps(audit_entries(app))


@pytest.mark.parametrize(
    ("reason", "why"),
    [
        ("", "required"),
        ("   ", "required"),
        ("x" * 201, "200"),
        ("lost\nphone", "control"),
        ("lost\x1b[2Jphone", "control"),
        ("lost \u202ephone", "invisible"),
        ("the code was 482913", "digits"),
    ],
)
def test_a_malformed_reason_is_refused_and_nothing_is_deleted(
    support: Caller,
    backend: Caller,
    api: Api,
    service: str,
    factor: dict[str, Any],
    reason: str,
    why: str,
) -> None:
    """The same rule for every caller: a reason given must be recordable."""
    for caller in (support, backend):
        refused = caller.delete(factor_path(service, factor), reason=reason)
        assert refused.status_code == 400, refused.json
        assert refused.json["code"] == 60306  # type: ignore[index]
        assert "Reason" in refused.json["message"]  # type: ignore[index]
        assert why in refused.json["message"]  # type: ignore[index]
    assert api.get(factor_path(service, factor)).status_code == 200


def test_two_reasons_are_refused(support: Caller, service: str, factor: dict[str, Any]) -> None:
    path = factor_path(service, factor) + "?Reason=lost+phone&Reason=new+phone"
    refused = support.client.delete(path, headers=support.headers)
    assert refused.status_code == 400
    assert "Reason" in refused.json["message"]  # type: ignore[index]


def test_backend_and_admin_may_delete_without_a_reason(
    app: Flask, backend: Caller, api: Api, service: str, factor: dict[str, Any], clock: FixedClock
) -> None:
    assert backend.delete(factor_path(service, factor)).status_code == 204
    (entry,) = deletes_of(app, factor["sid"])
    assert (entry["role"], entry["reason"]) == ("backend", None)
    second = api.post(
        f"/v2/Services/{service}/Entities/{IDENTITY}/Factors",
        FactorType="totp",
        FriendlyName="Tablet",
    ).json
    answer = api.client.delete(factor_path(service, second), headers=api.headers)  # type: ignore[arg-type]
    assert answer.status_code == 204
    (entry,) = deletes_of(app, second["sid"])  # type: ignore[index]
    assert (entry["role"], entry["reason"]) == ("admin", None)


def test_a_refused_delete_of_a_missing_factor_is_404_and_audited(
    app: Flask, support: Caller, service: str, factor: dict[str, Any]
) -> None:
    assert support.delete(factor_path(service, factor), reason="lost phone").status_code == 204
    again = support.delete(factor_path(service, factor), reason="lost phone")
    assert again.status_code == 404
    assert again.json["code"] == 20404  # type: ignore[index]


def test_openapi_documents_the_reason_as_an_extension() -> None:
    """openapi.yaml holds the `Reason` query parameter of DeleteFactor, marked x-extension."""
    document = yaml.safe_load((Path(__file__).parents[2] / "openapi.yaml").read_text("utf-8"))
    path = "/v2/Services/{ServiceSid}/Entities/{Identity}/Factors/{Sid}"
    (reason,) = document["paths"][path]["delete"]["parameters"]
    assert (reason["name"], reason["in"], reason["x-extension"]) == ("Reason", "query", True)
    assert reason["description"].startswith("verify-service extension")
    assert reason["schema"]["maxLength"] == MAX_REASON_LENGTH
