"""The official twilio SDK driving an in-process app (Flask's test client) instead of a
server: the app's clock is then the test's `FixedClock`, so time steps, skew windows and
expiry are set by the test, never waited for. What goes over the wire is what the SDK
sends (its own form keys, repeated keys for lists), and what it parses is the app's answer."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask.testing import FlaskClient
from twilio.http import HttpClient
from twilio.http.response import Response
from twilio.rest import Client

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN

BASE_URL = "https://verify.example.test"


class FlaskHttpClient(HttpClient):
    def __init__(self, client: FlaskClient) -> None:
        super().__init__(logger=None, is_async=False)  # type: ignore[arg-type]
        self._client = client
        self.last_status: int | None = None

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        del timeout, allow_redirects
        parts = urlsplit(url)
        sent: Any = self._client.open(
            parts.path,
            method=method,
            query_string=params or parts.query or None,
            data=data,
            headers={k: v for k, v in (headers or {}).items() if k != "Content-Type"},
            auth=auth,
        )
        self.last_status = sent.status_code
        return Response(sent.status_code, sent.get_data(as_text=True), dict(sent.headers))


def sdk_client(client: FlaskClient) -> Client:
    twilio = Client(
        ACCOUNT_SID, AUTH_TOKEN, account_sid=ACCOUNT_SID, http_client=FlaskHttpClient(client)
    )
    twilio.verify.base_url = BASE_URL
    return twilio
