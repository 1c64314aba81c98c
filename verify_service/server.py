"""Runs the Flask app under gunicorn (never the Flask development server)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn import glogging
from gunicorn.app.base import BaseApplication

from verify_service.http import access_log

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
        return self._factory()


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


# Each atom of gunicorn's log format that carries a request's URL, and how it is masked.
_URL_ATOMS: dict[str, Callable[[str], str]] = {
    "r": access_log.loggable_request_line,
    "{raw_uri}e": access_log.loggable_target,
    "{request_uri}e": access_log.loggable_target,
    "U": access_log.loggable_path,
    "{path_info}e": access_log.loggable_path,
    "{script_name}e": access_log.loggable_path,
    "q": access_log.loggable_query,
    "{query_string}e": access_log.loggable_query,
    "f": access_log.loggable_url,
    "{referer}i": access_log.loggable_url,
    "{http_referer}e": access_log.loggable_url,
}
# Other WSGI environ atoms kept; the rest may repeat the URL (`werkzeug.request`) and are dropped.
_PLAIN_ENVIRON_ATOMS = frozenset(
    {"{request_method}e", "{server_protocol}e", "{remote_addr}e", "{remote_port}e"}
)


class MaskingLogger(glogging.Logger):  # type: ignore[misc]
    """gunicorn's logger, whose access log shows a request's route and sids but no personal
    value in any spelling: path segments other than sids and words, and every query value,
    are `*` (http/access_log.py)."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        for name in list(atoms):
            if name in _URL_ATOMS:
                if isinstance(atoms[name], str):
                    atoms[name] = _URL_ATOMS[name](atoms[name])
            elif name.endswith("}e") and name not in _PLAIN_ENVIRON_ATOMS:
                del atoms[name]  # a missing atom is logged as `-`
        return atoms
