"""Runs the Flask app under gunicorn (never the Flask development server)."""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn import glogging
from gunicorn.app.base import BaseApplication
from gunicorn.http.errors import ParseException

from verify_service.adapters.logs.formatting import formatter_for
from verify_service.http import access_log
from verify_service.http.request_body import CheckedBody
from verify_service.http.request_ids import ENVIRON_KEY, TWILIO_ENVIRON_KEY

# The longest request line (`GET /path?query HTTP/1.1`) gunicorn accepts; a longer one is
# answered `414` by gunicorn itself, before the API sees it (openapi.yaml, "Conventions").
MAX_REQUEST_LINE_BYTES = 4094


class GunicornServer(BaseApplication):  # type: ignore[misc]
    """gunicorn with options given in code, and an app factory called in each worker
    (or once in the master when `preload_app` is set)."""

    def __init__(self, factory: Callable[[], Flask], options: dict[str, Any]) -> None:
        self._factory = factory
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        # Stated here, not left to gunicorn's default: openapi.yaml documents it.
        self.cfg.set("limit_request_line", MAX_REQUEST_LINE_BYTES)
        for key, value in self._options.items():
            if key in self.cfg.settings and value is not None:
                self.cfg.set(key, value)

    def load(self) -> Flask:
        app = self._factory()
        # A body gunicorn cannot read whole is a 400, not a 500 (http/request_body.py).
        app.wsgi_app = CheckedBody(app.wsgi_app, (ParseException,))  # type: ignore[method-assign]
        return app


class CannotListen(Exception):
    """The address to serve on is taken (or not this host's)."""


def ensure_can_listen(host: str, port: int) -> None:
    """Bind the address once and let it go, so a port already in use stops the start before
    anything is printed or built (gunicorn would find out only after the banner)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn does
        try:
            sock.bind((host, port))
        except OSError as exc:
            where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            raise CannotListen(f"cannot listen on {where}: {exc.strerror}") from None


# Each atom of gunicorn's log format that carries the request's own path, masked by the
# route's template when it matched one (http/access_log.py).
_ROUTED_ATOMS: dict[str, Callable[[str, str | None], str]] = {
    "r": access_log.loggable_request_line,
    "{raw_uri}e": access_log.loggable_target,
    "{request_uri}e": access_log.loggable_target,
    "U": access_log.loggable_path,
    "{path_info}e": access_log.loggable_path,
}
# Each other atom that carries a URL or a client's words, and how it is masked.
_URL_ATOMS: dict[str, Callable[[str], str]] = {
    "{script_name}e": access_log.loggable_path,
    "q": access_log.loggable_query,
    "{query_string}e": access_log.loggable_query,
    "f": access_log.loggable_url,
    "{referer}i": access_log.loggable_url,
    # The Basic user name: an account or key sid, or whatever a client typed (an e-mail).
    "u": access_log.loggable_user,
    "{http_referer}e": access_log.loggable_url,
    # The User-Agent: product tokens only (a client may put a number or an address there).
    "a": access_log.loggable_user_agent,
    "{user-agent}i": access_log.loggable_user_agent,
}
# Other WSGI environ atoms kept; the rest may repeat the URL (`werkzeug.request`) and are dropped.
_PLAIN_ENVIRON_ATOMS = frozenset(
    {
        "{request_method}e",
        "{server_protocol}e",
        "{remote_addr}e",
        "{remote_port}e",
        f"{{{ENVIRON_KEY}}}e",
        f"{{{TWILIO_ENVIRON_KEY}}}e",
    }
)
# VERIFY_LOG_FORMAT, set by `serve` before gunicorn starts (its logger is built in the master).
LOG_FORMAT = ["text"]


_INVALID_REQUEST = "Invalid request from ip="
_ERROR_HANDLING_REQUEST = "Error handling request"


class RequestDetailFilter(logging.Filter):
    """Keeps a client's request out of gunicorn's own log (`gunicorn.error`, on standard
    error), whose messages repeat what gunicorn could not parse: `Invalid request from ip=…:
    Invalid HTTP request line: 'GET /v2/Attempts?To=josé@… HTTP/1.1'`.

    - a refused request is logged as `Invalid request from ip=<address>: <error class>`,
      never the request line, a header name or value, or the URI;
    - `Error handling request <method> <uri>` shows the URI masked as the access log does;
    - an exception given as an argument (`Ignored premature client disconnection. %s`, whose
      text repeats the bytes received) is shown by its class name.

    Every other message is left as it is."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.msg if isinstance(record.msg, str) else ""
        if message.startswith(_INVALID_REQUEST):
            # gunicorn formats the message itself, inside the `except` that caught the error.
            address = message[len(_INVALID_REQUEST) :].partition(": ")[0]
            error = sys.exc_info()[1]
            kind = type(error).__name__ if error is not None else "unparsable request"
            record.msg, record.args = f"{_INVALID_REQUEST}%s: %s", (address, kind)
        elif message.startswith(_ERROR_HANDLING_REQUEST) and isinstance(record.args, tuple):
            if record.args:  # the URI is the last argument; `(no URI read)` has none
                uri = access_log.loggable_target(str(record.args[-1]))
                record.args = (*record.args[:-1], uri)
        elif isinstance(record.args, tuple):
            record.args = tuple(
                type(arg).__name__ if isinstance(arg, BaseException) else arg for arg in record.args
            )
        return True


_REQUEST_DETAIL_FILTER = RequestDetailFilter()


class MaskingLogger(glogging.Logger):  # type: ignore[misc]
    """gunicorn's logger, whose access log shows a request's route and sids but no personal
    value in any spelling: path segments other than sids and words, and every query value,
    are `*` (http/access_log.py); and whose error log never repeats a request gunicorn
    refused (RequestDetailFilter)."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        self.error_log.addFilter(_REQUEST_DETAIL_FILTER)  # once: the same filter is kept once
        # gunicorn's own lines in the service's one format (adapters/logs/formatting.py).
        for handler in (*self.error_log.handlers, *self.access_log.handlers):
            handler.setFormatter(formatter_for(LOG_FORMAT[0]))

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        """The access line, with the request's id (from the WSGI environ: the request's own
        context is gone by now); in the JSON format, as fields."""
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        request_id = environ.get(ENVIRON_KEY)
        if LOG_FORMAT[0] != "json":
            self.access_log.info(
                self.cfg.access_log_format,
                self.atoms_wrapper_class(atoms),
                extra={"event": "access", "request_id": request_id},
            )
            return
        query = atoms.get("q") or ""
        target = f"{atoms.get('U', '')}?{query}" if query else atoms.get("U", "")
        self.access_log.info(
            "%s %s %s",
            atoms.get("m"),
            target,
            atoms.get("s"),
            extra={
                "event": "access",
                "request_id": request_id,
                "twilio_request_id": environ.get(TWILIO_ENVIRON_KEY),
                "method": atoms.get("m"),
                "path": target,
                "protocol": atoms.get("H"),
                "status": int(atoms.get("s") or 0),
                "bytes": int(atoms.get("B") or 0),
                "duration_ms": round(request_time.total_seconds() * 1000, 3),
                "remote_addr": atoms.get("h"),
                "user": atoms.get("u"),
            },
        )

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        rule = getattr(environ.get("werkzeug.request"), "url_rule", None)
        template = rule.rule if rule is not None and isinstance(rule.rule, str) else None
        for name in list(atoms):
            if name in _ROUTED_ATOMS:
                if isinstance(atoms[name], str):
                    atoms[name] = _ROUTED_ATOMS[name](atoms[name], template)
            elif name in _URL_ATOMS:
                if isinstance(atoms[name], str):
                    atoms[name] = _URL_ATOMS[name](atoms[name])
            elif name.endswith("}e") and name not in _PLAIN_ENVIRON_ATOMS:
                del atoms[name]  # a missing atom is logged as `-`
        return atoms
