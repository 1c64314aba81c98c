"""WebOTP: a service may bind its SMS codes to a web origin (`@example.com #123456`)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api
from tests.support.fakes import RecordingSender


def test_sms_end_with_the_domain_bound_line(api: Api, sender: RecordingSender) -> None:
    """With WebOtpDomain set, the SMS's last line is `@domain #code`; the code still checks."""
    service = api.create_service(WebOtpDomain="Login.Example.com")
    started: Any = api.start(service, "+14155552671").json
    code = sender.last_code(started["sid"])
    assert sender.sent[-1].body.splitlines()[-1] == f"@login.example.com #{code}"
    checked: Any = api.check(service, code, To="+14155552671").json
    assert checked["status"] == "approved"


def test_the_domain_is_echoed_and_can_be_turned_off(api: Api) -> None:
    """The service shows `webotp_domain`; an empty value turns the line off."""
    service = api.create_service(WebOtpDomain="example.com")
    assert api.get(f"/v2/Services/{service}").json["webotp_domain"] == "example.com"  # type: ignore[index]
    updated: Any = api.post(f"/v2/Services/{service}", WebOtpDomain="").json
    assert updated["webotp_domain"] is None


def test_without_a_domain_there_is_no_webotp_line(api: Api, sender: RecordingSender) -> None:
    """The default: no `@host #code` line."""
    service = api.create_service()
    api.start(service, "+14155552671")
    assert "#" not in sender.sent[-1].body


@pytest.mark.parametrize(
    "domain",
    [
        "https://example.com",
        "example",
        "exa mple.com",
        "example.com:443",
        "-x.com",
        "a-very-long-subdomain.example.com",  # 33 characters: past the SMS budget
    ],
)
def test_a_domain_that_is_not_a_bare_host_name_is_60200(api: Api, domain: str) -> None:
    """Schemes, ports, spaces and single labels are refused, naming WebOtpDomain."""
    response = api.post("/v2/Services", FriendlyName="Acme", WebOtpDomain=domain)
    assert (response.status_code, response.json["code"]) == (400, 60200)  # type: ignore[index]
    assert "WebOtpDomain" in response.json["message"]  # type: ignore[index]
