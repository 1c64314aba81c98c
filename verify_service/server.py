"""Runs the Flask app under gunicorn (never the Flask development server)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn import glogging
from gunicorn.app.base import BaseApplication


class GunicornServer(BaseApplication):  # type: ignore[misc]
    """gunicorn with options given in code, and an app factory called in each worker
    (or once in the master when `preload_app` is set)."""

    def __init__(self, factory: Callable[[], Flask], options: dict[str, Any]) -> None:
        self._factory = factory
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            if key in self.cfg.settings and value is not None:
                self.cfg.set(key, value)

    def load(self) -> Flask:
        return self._factory()


# A phone number in a path (`/v2/SafeList/Numbers/%2B14155552671`): its digits but the
# country code's first and the last two are masked, as everywhere else in the logs.
_NUMBER_IN_PATH = re.compile(r"(%2B|\+)([0-9]{2})([0-9]{3,})([0-9]{2})", re.IGNORECASE)


def mask_numbers(text: str) -> str:
    return _NUMBER_IN_PATH.sub(lambda m: m[1] + m[2] + "•" * len(m[3]) + m[4], text)


class MaskingLogger(glogging.Logger):  # type: ignore[misc]
    """gunicorn's logger with phone numbers masked in the access log's request line."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        for name in ("r", "U", "q", "{raw_uri}e"):
            if isinstance(atoms.get(name), str):
                atoms[name] = mask_numbers(atoms[name])
        return atoms
