"""`/console` and every path under it belong to the console: a browser that types the address
without the slash, or a wrong one, gets the console's HTML, never the API's Basic challenge
(which makes a browser pop up a password box) or its JSON."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import Api
from tests.integration.test_console import PASSWORD, Console
from verify_service.app import CONTAINER_KEY, build_staff_users


@pytest.fixture
def browser(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def console(app: Flask) -> Console:
    build_staff_users(app.extensions[CONTAINER_KEY]).add("sam", PASSWORD, "support")
    return Console(app.test_client())


def assert_console_html(response: TestResponse) -> None:
    assert "WWW-Authenticate" not in response.headers
    assert response.mimetype == "text/html"
    assert "support console" in response.get_data(as_text=True)
    assert response.headers["X-Frame-Options"] == "DENY"


def test_console_without_the_slash_redirects_to_the_console(browser: FlaskClient) -> None:
    """`/console` is a permanent redirect (308) to `/console/`, with no Basic challenge."""
    response = browser.get("/console")
    assert response.status_code == 308
    assert response.headers["Location"].endswith("/console/")
    assert "WWW-Authenticate" not in response.headers


def test_console_without_the_slash_ends_on_the_sign_in_page(browser: FlaskClient) -> None:
    """Followed, `/console` leads to the sign-in form."""
    response = browser.get("/console", follow_redirects=True)
    assert response.status_code == 200
    assert response.request.path == "/console/login"
    assert 'name="password"' in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/console/nope", "/console/search/extra", "/console//x"])
def test_an_unknown_console_path_is_the_console_s_404_page(browser: FlaskClient, path: str) -> None:
    """A console path without a route is an HTML 404 of the console, not JSON, not 401."""
    response = browser.get(path)
    assert response.status_code == 404
    assert_console_html(response)
    assert "There is no such console page." in response.get_data(as_text=True)


def test_a_wrong_method_on_a_console_page_is_the_console_s_405_page(
    browser: FlaskClient,
) -> None:
    """GET on a POST-only console route is an HTML 405 naming the allowed methods."""
    response = browser.get("/console/logout")
    assert response.status_code == 405
    assert_console_html(response)
    assert "POST" in response.headers["Allow"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/console"),
        ("GET", "/console/"),
        ("GET", "/console/search"),
        ("GET", "/console/audit"),
        ("GET", "/console/nope"),
        ("POST", "/console/search"),
        ("POST", "/console/cancel"),
        ("POST", "/console/login"),
        ("GET", "/console/logout"),
    ],
)
def test_no_console_answer_ever_sends_a_basic_challenge(
    browser: FlaskClient, method: str, path: str
) -> None:
    """Signed out, every console path answers without `WWW-Authenticate`."""
    response = browser.open(path, method=method)
    assert "WWW-Authenticate" not in response.headers
    assert response.status_code in {303, 308, 401, 403, 404, 405}


def test_an_unknown_console_path_signed_in_is_still_the_console_s_page(
    console: Console,
) -> None:
    """Signed in, an unknown console path is the same HTML 404 of the console."""
    assert console.login().status_code == 303
    response = console.client.get("/console/nope")
    assert response.status_code == 404
    assert_console_html(response)


def test_api_paths_keep_the_basic_challenge_and_json(browser: FlaskClient, api: Api) -> None:
    """The API is unchanged: 401 with the Basic challenge, and JSON 404s for its paths."""
    refused = browser.get("/v2/Services")
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Basic")
    missing = browser.get("/v2/Nope", headers=api.headers)
    assert missing.status_code == 404
    assert missing.get_json()["code"] == 20404
    lookalike = browser.get("/consoles", headers=api.headers)
    assert lookalike.status_code == 404
    assert lookalike.mimetype == "application/json"


def test_console_pages_never_send_the_browser_to_the_api_for_an_icon(
    browser: FlaskClient,
) -> None:
    """Without an icon of its own a page makes the browser fetch `/favicon.ico`, an API path
    that answers 401 with a Basic challenge: every console page names an inline icon."""
    page = browser.get("/console/login").get_data(as_text=True)
    assert '<link rel="icon" href="data:,">' in page
    assert browser.get("/favicon.ico").status_code == 401  # the API's, never requested
