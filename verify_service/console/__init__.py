"""The support console (`/console`): server-rendered pages for support staff.

It authenticates by its own session cookie (not HTTP Basic): the app's `before_request`
lets `/console` through to `guard.py`. Views are thin: parse the form, call a use case of
`application/support_console.py` or `application/staff_users.py`, render a template.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from flask import Flask

from verify_service.application.staff_users import StaffUsers
from verify_service.application.support_console import SupportConsole

BLUEPRINT_NAME = "console"
COMPONENTS_KEY = "verify_service.console"


class Sealer(Protocol):
    """Authenticated encryption of a search (service, destination) into the page's forms,
    so no page carries a full number (`DestinationCipher`)."""

    def seal(self, destination: str, context: bytes) -> bytes: ...

    def open(self, sealed: bytes, context: bytes) -> str | None: ...


@dataclass(frozen=True, slots=True)
class ConsoleComponents:
    staff: StaffUsers
    support: SupportConsole
    sealer: Sealer
    # False only for tests on http://127.0.0.1: the console then answers loopback only.
    secure_cookie: bool = True


def init_app(app: Flask, components: ConsoleComponents) -> None:
    from verify_service.console.views import blueprint  # noqa: PLC0415 - registers routes

    app.extensions[COMPONENTS_KEY] = components
    app.register_blueprint(blueprint)
