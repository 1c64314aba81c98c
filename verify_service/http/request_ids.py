"""Request ids: every answer carries `X-Request-Id` (the client's own when it sent an
acceptable one, else one made here) and `Twilio-Request-Id` (`RQ` + 32 hex digits, as Twilio
answers), and every log line written while the request is handled names the request id
(adapters/logs). A WSGI middleware, so that 404s, 405s and errors Flask answers itself carry
them too, and gunicorn's access line finds the id in the WSGI environ (`ENVIRON_KEY`).

A client's `X-Request-Id` is accepted when it is 1 to 128 characters of letters, digits and
`._:-`, and either has a usual id's shape (a UUID, a ULID, 32 hex digits, Twilio's `RQ…`),
or has a letter, no four digits in a row (counting across `._:-`: `tel:1-415-555-0123` is a
phone number, `user-14155550123` too, `4711` may be a code) and does not end like a host name
(`.org`). Anything else (a header carrying a phone number, an e-mail address, a line break, a
megabyte) is replaced by a new id rather than logged."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable
from typing import Any

from verify_service.adapters.logs.request_context import CURRENT_REQUEST_ID

ENVIRON_KEY = "verify.request_id"
TWILIO_ENVIRON_KEY = "verify.twilio_request_id"
REQUEST_ID_HEADER = "X-Request-Id"
TWILIO_REQUEST_ID_HEADER = "Twilio-Request-Id"
MAX_REQUEST_ID_CHARACTERS = 128
_ACCEPTABLE = re.compile(rf"[A-Za-z0-9._:-]{{1,{MAX_REQUEST_ID_CHARACTERS}}}")
_LETTER = re.compile(r"[A-Za-z]")
# Shapes kept as they are, digits and all: a UUID, a ULID, a W3C trace id, Twilio's RQ id.
_ID_SHAPES = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[0-7][0-9A-HJKMNP-TV-Z]{25}"
    r"|[0-9a-fA-F]{32}"
    r"|RQ[0-9a-fA-F]{32}"
)
_SEPARATORS = re.compile(r"[._:-]")
_DIGIT_RUN = re.compile(r"[0-9]{4}")  # a code, or a piece of a phone number
_HOST_END = re.compile(r"\.[A-Za-z]{2,}$")
_OWN_HEADERS = frozenset({REQUEST_ID_HEADER.lower(), TWILIO_REQUEST_ID_HEADER.lower()})

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def new_twilio_request_id() -> str:
    """`RQ` and 32 lower-case hex digits, the shape of Twilio's request ids."""
    return "RQ" + secrets.token_hex(16)


def acceptable_request_id(value: str | None) -> str | None:
    """The client's id if it may be logged and echoed as it is, else None (module doc):
    an id that could carry a phone number, a code or an address is refused."""
    if value is None or not _ACCEPTABLE.fullmatch(value):
        return None
    if _ID_SHAPES.fullmatch(value):
        return value
    if (
        not _LETTER.search(value)
        or _DIGIT_RUN.search(_SEPARATORS.sub("", value))
        or _HOST_END.search(value)
    ):
        return None
    return value


class RequestIds:
    """Wraps the WSGI app: picks the request's ids, sets them for the log while the app
    runs, and adds both headers to whatever the app answers."""

    def __init__(self, app: WsgiApp) -> None:
        self._app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        twilio_id = new_twilio_request_id()
        request_id = acceptable_request_id(environ.get("HTTP_X_REQUEST_ID")) or twilio_id
        environ[ENVIRON_KEY] = request_id
        environ[TWILIO_ENVIRON_KEY] = twilio_id

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            kept = [(name, value) for name, value in headers if name.lower() not in _OWN_HEADERS]
            kept += [(REQUEST_ID_HEADER, request_id), (TWILIO_REQUEST_ID_HEADER, twilio_id)]
            return start_response(status, kept, exc_info)

        token = CURRENT_REQUEST_ID.set(request_id)
        try:
            return self._app(environ, start)
        finally:
            CURRENT_REQUEST_ID.reset(token)
