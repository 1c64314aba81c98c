"""The support console (`/console`): server-rendered pages for support staff.

It authenticates by its own session cookie (not HTTP Basic): the app's `before_request`
lets `/console` through to `guard.py`. Views are thin: parse the form, call a use case of
`application/support/support_console.py` or `application/support/staff_users.py`, render a template.
"""

from __future__ import annotations

from flask import Flask

# Imported for its routes (on the same blueprint): the MFA factor pages.
from verify_service.console import factor_views as factor_views
from verify_service.console.components import BLUEPRINT_NAME, COMPONENTS_KEY, ConsoleComponents
from verify_service.console.views import blueprint, error_page, is_console_path

__all__ = ["BLUEPRINT_NAME", "ConsoleComponents", "error_page", "init_app", "is_console_path"]


def init_app(app: Flask, components: ConsoleComponents) -> None:
    app.extensions[COMPONENTS_KEY] = components
    app.register_blueprint(blueprint)
