"""The id of the request being handled, for every log line written while it is (the WSGI
middleware in http/request_ids.py sets it; the formatters read it)."""

from __future__ import annotations

from contextvars import ContextVar

CURRENT_REQUEST_ID: ContextVar[str | None] = ContextVar("verify_request_id", default=None)


def current_request_id() -> str | None:
    return CURRENT_REQUEST_ID.get()
