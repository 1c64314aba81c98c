"""HTTP for the API-based providers: one `requests.Session` per thread, failures classified.

Timeouts and connection errors are transient. A read timeout may come after the provider
accepted the message, so the retry can duplicate it: delivery is at-least-once.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

import requests

from verify_service.domain.delivery.delivery import (
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
)

# A provider's error code goes into exceptions and logs, so only a short token is kept.
_ERROR_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_TRANSIENT_STATUSES = (408, 429)


def failure_for_status(provider: str, status: int, error_code: str | None) -> DeliveryError:
    """408, 429 and 5xx are worth a retry; any other non-2xx answer is not."""
    reason = f"{provider} answered HTTP {status}"
    if error_code is not None:
        reason += f" (error {error_code})"
    if status in _TRANSIENT_STATUSES or status >= 500:
        return TransientDeliveryError(reason, error_code)
    return PermanentDeliveryError(reason, error_code)


def error_code_of(value: object) -> str | None:
    """A provider's error code as text, or None when absent or not a plain token."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value)
    return text if _ERROR_CODE.fullmatch(text) else None


def json_object(response: requests.Response) -> dict[str, Any]:
    """The reply's JSON object, or {} when it is not one."""
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


class HttpTransport:
    """POSTs for one provider. Safe to share between threads; `close()` when done."""

    def __init__(self, provider: str, timeout_seconds: float) -> None:
        self._provider = provider
        self._timeout = (timeout_seconds, timeout_seconds)  # connect, read
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()

    def post(
        self,
        url: str,
        *,
        form: Mapping[str, str] | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> requests.Response:
        """Send and return any answer; raise `TransientDeliveryError` when none came."""
        try:
            return self._session().post(
                url,
                data=form if form is not None else body,
                headers=dict(headers or {}),
                auth=auth,
                timeout=self._timeout,
                allow_redirects=False,  # a redirect would resend credentials elsewhere
            )
        # `from None`: the library's messages carry URLs; ours say only what went wrong.
        except requests.Timeout:
            raise TransientDeliveryError(
                f"{self._provider} did not answer within {self._timeout[1]:g} s"
            ) from None
        except requests.ConnectionError:
            raise TransientDeliveryError(f"{self._provider} could not be reached") from None
        except requests.RequestException as exc:
            raise TransientDeliveryError(
                f"{self._provider} request failed ({type(exc).__name__})"
            ) from None

    def close(self) -> None:
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()  # honours HTTPS_PROXY / REQUESTS_CA_BUNDLE
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session
