"""A request body the server cannot read whole is the client's fault: a 400, never a 500.

gunicorn raises its own parse errors (a bad chunk size, a missing terminator, no more
data) from `wsgi.input`, and hands a body cut short of its `Content-Length` over as if it
were whole (it sets `wsgi.input_terminated`, so werkzeug does not count). This WSGI
middleware wraps `wsgi.input`: such an error, or an end of stream before `Content-Length`
bytes, becomes werkzeug's `ClientDisconnected` (a 400 `BadRequest`), answered by the
app's error handlers as Twilio's 60200 "malformed request body"."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from werkzeug.exceptions import ClientDisconnected

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class _CheckedInput:
    def __init__(
        self, stream: Any, expected: int | None, errors: tuple[type[BaseException], ...]
    ) -> None:
        self._stream = stream
        self._expected = expected
        self._errors = errors
        self._seen = 0

    def _checked(self, read: Callable[[int], bytes], size: int | None) -> bytes:
        wanted = -1 if size is None else size
        try:
            data = read(wanted)
        except self._errors:
            raise ClientDisconnected from None
        self._seen += len(data)
        short = not data or wanted < 0 or len(data) < wanted
        if self._expected is not None and self._seen < self._expected and short:
            raise ClientDisconnected  # the stream ended before Content-Length
        return data

    def read(self, size: int | None = -1) -> bytes:
        if size == 0:
            return b""
        return self._checked(self._stream.read, size)

    def readline(self, size: int | None = -1) -> bytes:
        if size == 0:
            return b""
        return self._checked(self._stream.readline, size)

    def readlines(self, _hint: int | None = None) -> list[bytes]:
        return list(self)

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line


class CheckedBody:
    """Wraps the WSGI app; `errors` are the server's body-parse exceptions."""

    def __init__(self, app: WsgiApp, errors: tuple[type[BaseException], ...]) -> None:
        self._app = app
        self._errors = errors

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        stream = environ.get("wsgi.input")
        if stream is not None:
            length = environ.get("CONTENT_LENGTH") or ""
            expected = int(length) if length.isdigit() else None
            environ["wsgi.input"] = _CheckedInput(stream, expected, self._errors)
        return self._app(environ, start_response)
