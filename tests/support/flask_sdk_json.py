"""`tests/support/flask_sdk.py`'s in-process SDK transport, for the Passkeys calls too: those
send `application/json` bodies (the SDK hands them to `requests` as `json=`), so the body is
posted as JSON with its Content-Type, as the SDK would over the network."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask.testing import FlaskClient
from twilio.http.response import Response
from twilio.rest import Client

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.support.flask_sdk import BASE_URL, FlaskHttpClient


class FlaskJsonHttpClient(FlaskHttpClient):
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
        if (headers or {}).get("Content-Type") != "application/json":
            return super().request(
                method, url, params, data, headers, auth, timeout, allow_redirects
            )
        parts = urlsplit(url)
        sent: Any = self._client.open(
            parts.path, method=method, json=data, headers=headers, auth=auth
        )
        self.last_status = sent.status_code
        return Response(sent.status_code, sent.get_data(as_text=True), dict(sent.headers))


def sdk_client(client: FlaskClient) -> Client:
    """The official SDK on the in-process app (its clock is the test's FixedClock)."""
    twilio = Client(
        ACCOUNT_SID, AUTH_TOKEN, account_sid=ACCOUNT_SID, http_client=FlaskJsonHttpClient(client)
    )
    twilio.verify.base_url = BASE_URL
    return twilio
