"""The opt-in access log (`serve --access-log`) shows routes and sids, never a personal value
in any spelling (http/access_log.py)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from gunicorn.config import Config

from verify_service.http.access_log import (
    loggable_path,
    loggable_query,
    loggable_request_line,
    loggable_url,
    loggable_user,
)
from verify_service.server import MaskingLogger

SERVICE = "VA0123456789abcdef0123456789abcdef"
# A number and an e-mail address in the spellings a client or an attacker may send.
SPELLINGS = [
    "%2B14155552671",
    "+14155552671",
    "14155552671",
    "%2B1%20415%20555%202671",
    "+1%20415%20555%202671",
    "+1-415-555-2671",
    "%2B1-415-555-2671",
    "(415)%20555-2671",
    "%28415%29555.2671",
    "415.555.2671",
    "%2b1%2d415%2d555%2d2671",
    "%EF%BC%8B14155552671",  # a full-width plus
    "%252B14155552671",  # encoded twice
    "tel:+14155552671",
    "victim@example.com",
    "victim%40example.com",
    "Victim%40Example.COM",
    "victim+tag@example.com",
    "%76ictim%40example.com",
    "mailto:victim@example.com",
]
PERSONAL_FRAGMENTS = ("555", "2671", "ictim", "example.com", "%40", "@")


def shows_nothing_personal(text: str) -> bool:
    return not any(fragment in text.lower() for fragment in PERSONAL_FRAGMENTS)


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_a_personal_value_in_a_path_is_masked_in_any_spelling(spelling: str) -> None:
    """A number or an e-mail address as a path segment is logged as `*`."""
    assert loggable_path(f"/v2/SafeList/Numbers/{spelling}") == "/v2/SafeList/Numbers/*"


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_a_personal_value_in_a_query_is_masked_in_any_spelling(spelling: str) -> None:
    """Every query value is `*`, whatever it holds; parameter names stay."""
    query = f"ChannelData.To={spelling}&PageSize=50&Status=pending"
    assert loggable_query(query) == "ChannelData.To=*&PageSize=*&Status=*"


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_a_personal_value_as_a_parameter_name_is_masked(spelling: str) -> None:
    """An attacker cannot smuggle a number into the log as a parameter's name."""
    assert shows_nothing_personal(loggable_query(f"{spelling}=1&{spelling}"))


def test_sids_and_route_words_are_kept() -> None:
    """What an operator needs to follow a request, its route and sids, is left alone."""
    path = f"/v2/Services/{SERVICE}/Verifications/VE0123456789abcdef0123456789abcdef"
    assert loggable_path(path) == path
    assert loggable_path("/console/static/console.css") == "/console/static/console.css"
    assert loggable_path(f"/v2/Services/{SERVICE}/FraudGuard/Blocks/%2B44791") == (
        f"/v2/Services/{SERVICE}/FraudGuard/Blocks/*"
    )


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_the_request_line_shows_route_and_parameter_names_only(spelling: str) -> None:
    """`METHOD target PROTOCOL`: the target masked, method and protocol kept."""
    line = f"GET /v2/SafeList/Numbers/{spelling}?To={spelling}&{spelling} HTTP/1.1"
    masked = loggable_request_line(line)
    assert masked.startswith("GET /v2/SafeList/Numbers/*?To=*&")
    assert masked.endswith(" HTTP/1.1")
    assert shows_nothing_personal(masked)


def test_a_referer_keeps_its_host_but_not_its_query_or_credentials() -> None:
    """The console's search page URL in a `Referer` does not carry the searched number."""
    assert loggable_url("https://user:pw@verify.example.test/console/search?to=%2B14155552671") == (
        "https://verify.example.test/console/search?to=*"
    )
    assert loggable_url("-") == "-"
    assert loggable_url("victim@example.com") == "*"


def test_the_gunicorn_logger_masks_every_atom_that_carries_the_url() -> None:
    """The request line, path, query, referer and raw environ values are all masked; other
    environ values that may repeat the URL are dropped."""
    logger = MaskingLogger(Config())
    target = "/v2/SafeList/Numbers/%2B1%20415%20555%202671?To=victim%40example.com"
    request = SimpleNamespace(
        headers=[("REFERER", f"https://verify.example.test{target}")],
        uri=target,
        path=target.partition("?")[0],
        query=target.partition("?")[2],
        method="GET",
        version=(1, 1),
    )
    response = SimpleNamespace(status="200 OK", sent=10, headers=[], response_length=10)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": target,
        "PATH_INFO": "/v2/SafeList/Numbers/+1 415 555 2671",
        "QUERY_STRING": "To=victim%40example.com",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_REFERER": f"https://verify.example.test{target}",
        "werkzeug.request": f"<Request 'http://127.0.0.1{target}' [GET]>",
    }
    atoms = logger.atoms(response, request, environ, SimpleNamespace(seconds=0, microseconds=1))
    assert atoms["r"] == "GET /v2/SafeList/Numbers/*?To=* HTTP/1.1"
    assert atoms["U"] == "/v2/SafeList/Numbers/*"
    assert atoms["q"] == "To=*"
    assert "werkzeug.request" not in " ".join(atoms)
    assert [value for value in atoms.values() if not shows_nothing_personal(str(value))] == []


@pytest.mark.parametrize(
    ("user", "logged"),
    [
        ("victim@example.com", "*"),
        ("+14155552671", "*"),
        ("AC" + "0123456789abcdef" * 2, "AC" + "0123456789abcdef" * 2),
        ("SK" + "f" * 32, "SK" + "f" * 32),
        ("-", "-"),
    ],
)
def test_the_basic_user_name_is_kept_only_when_it_is_a_sid(user: str, logged: str) -> None:
    """A client that types its e-mail or number as the user name does not put it in the log."""
    assert loggable_user(user) == logged
