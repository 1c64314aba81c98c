"""The route x role matrix of docs/access-control.md, read from the document itself and tried
cell by cell: every route of the app (health checks and signed receipt endpoints aside), for
`admin`, `backend` and `support` API keys and for no credentials at all.

The table cannot drift: its rows must be exactly the app's routes, its permission column what
each view declares with `@requires`, its role columns what `ROLES` grants, and each cell is
then checked with a real request (allowed: neither 401 nor 403/20003; denied: 403/20003).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import Api
from verify_service.app import CONTAINER_KEY
from verify_service.application.access.access import ROLES, Permission, Principal
from verify_service.http.access.auth import ADMIN_ONLY_DENIED
from verify_service.http.delivery.delivery_receipts_api import RECEIPT_ENDPOINTS
from verify_service.http.health import HEALTH_ENDPOINTS
from verify_service.http.metrics.metrics_api import METRICS_ENDPOINT

DOC = Path(__file__).resolve().parents[2] / "docs" / "access-control.md"
BEGIN, END = "<!-- route-role-matrix:begin -->", "<!-- route-role-matrix:end -->"
ROLE_COLUMNS = ("admin", "backend", "support")
ALLOWED, DENIED = "✓", "—"
_PARAMETER = re.compile(r"<(?:[^:>]+:)?([^>]+)>|\{[^}]+\}")

# A well-formed value for each path parameter: allowed calls get past authentication to the
# view (which answers 404 or 400 for these), so only the permission decides 401/403.
PATH_VALUES = {
    "service_sid": "VA" + "0" * 32,
    "sid": "XX" + "0" * 32,
    "rate_limit_sid": "RK" + "0" * 32,
    "attempt_sid": "VL" + "0" * 32,
    "phone_number": "+14155552671",
    "prefix": "+44791",
}
# Sent with every POST: an update of a verification cancels (support may cancel, not approve).
FORM = {"Status": "canceled"}


@dataclass(frozen=True, slots=True)
class Row:
    method: str
    path: str
    permission: str
    cells: dict[str, str]
    anonymous: str

    @property
    def shape(self) -> tuple[str, str]:
        return self.method, _PARAMETER.sub("{}", self.path)


def _cell(text: str) -> str:
    return text.strip().strip("`").strip()


def read_matrix() -> list[Row]:
    text = DOC.read_text("utf-8")
    table = text[text.index(BEGIN) + len(BEGIN) : text.index(END)].strip().splitlines()
    header = [_cell(c) for c in table[0].strip("|").split("|")]
    assert header == ["Method", "Path", "Permission", *ROLE_COLUMNS, "none"]
    rows = []
    for line in table[2:]:
        method, path, permission, *roles, anonymous = (_cell(c) for c in line.strip("|").split("|"))
        rows.append(
            Row(method, path, permission, dict(zip(ROLE_COLUMNS, roles, strict=True)), anonymous)
        )
    return rows


MATRIX = read_matrix()


def allowed(row: Row, role: str) -> bool:
    cell = row.cells[role]
    assert cell.startswith((ALLOWED, DENIED)), f"{row.method} {row.path}: bad cell {cell!r}"
    return cell.startswith(ALLOWED)


def served_routes(app: Flask) -> dict[tuple[str, str], tuple[str, Any]]:
    """(method, path shape) -> (Flask rule, view) for every route the matrix must cover."""
    routes = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint in HEALTH_ENDPOINTS | RECEIPT_ENDPOINTS:
            continue
        if rule.endpoint == METRICS_ENDPOINT:
            continue  # its own bearer token, no role (test_metrics_api.py)
        if rule.endpoint.startswith("console."):
            continue  # the support console: its own sessions and staff roles (test_console.py)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            routes[(method, _PARAMETER.sub("{}", rule.rule))] = (
                rule.rule,
                app.view_functions[rule.endpoint],
            )
    return routes


def concrete(rule: str) -> str:
    return _PARAMETER.sub(lambda m: PATH_VALUES.get(m.group(1), "XX" + "0" * 32), rule)


def basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def key_headers(app: Flask) -> dict[str, dict[str, str]]:
    """An API key of each role, made through the use case (the HTTP path is tested below)."""
    keys = app.extensions[CONTAINER_KEY].api_keys
    operator = Principal("AC" + "0" * 32, "test", "admin")
    headers = {}
    for role in ROLE_COLUMNS:
        created = keys.create(f"{role} key", role, operator)
        headers[role] = basic(created.key.sid, created.secret)
    return headers


# -- the table agrees with the code ----------------------------------------------------------


def test_the_matrix_lists_exactly_the_routes_the_app_serves(app: Flask) -> None:
    """No route is missing from the table, none is listed twice, none is invented."""
    shapes = [row.shape for row in MATRIX]
    assert len(shapes) == len(set(shapes)), "a route is listed twice"
    served = set(served_routes(app))
    assert served - set(shapes) == set(), "routes missing from docs/access-control.md"
    assert set(shapes) - served == set(), "rows for routes the app does not serve"


def test_each_row_names_the_permission_its_view_declares(app: Flask) -> None:
    routes = served_routes(app)
    wrong = [
        f"{row.method} {row.path}: table {row.permission}, view {declared}"
        for row in MATRIX
        if (declared := getattr(routes[row.shape][1], "_verify_permission", None))
        != Permission(row.permission)
    ]
    assert wrong == []


def test_each_role_column_is_what_the_role_grants() -> None:
    """✓ exactly where ROLES gives the row's permission to the role; 401 for no credentials."""
    assert set(ROLES) == set(ROLE_COLUMNS)
    wrong = [
        f"{row.method} {row.path} / {role}"
        for row in MATRIX
        for role in ROLE_COLUMNS
        if allowed(row, role) != (Permission(row.permission) in ROLES[role])
    ]
    assert wrong == []
    assert {row.anonymous for row in MATRIX} == {"401"}


def test_the_roles_table_lists_what_each_role_grants() -> None:
    """The Roles table of the same document: `admin` has every permission, the others the
    permissions their row lists, no more and no fewer."""
    text = DOC.read_text("utf-8")
    begin, end = "<!-- roles:begin -->", "<!-- roles:end -->"
    lines = text[text.index(begin) + len(begin) : text.index(end)].strip().splitlines()[2:]
    documented = {}
    for line in lines:
        role, _for, permissions = line.strip("|").split("|")
        role, permissions = _cell(role), permissions.strip()
        documented[role] = (
            frozenset(Permission)
            if permissions == "every permission"
            else frozenset(Permission(p) for p in re.findall(r"`([a-z:-]+)`", permissions))
        )
    assert documented == ROLES


# -- and every cell holds against the running app ------------------------------------------


@pytest.mark.parametrize("role", [*ROLE_COLUMNS, "none"])
@pytest.mark.parametrize("row", MATRIX, ids=lambda row: f"{row.method} {row.path}")
def test_every_cell(
    app: Flask, key_headers: dict[str, dict[str, str]], row: Row, role: str
) -> None:
    rule, view = served_routes(app)[row.shape]
    client: FlaskClient = app.test_client()
    headers = key_headers.get(role, {})
    data = FORM if row.method == "POST" else None
    response = client.open(concrete(rule), method=row.method, headers=headers, data=data)
    body = response.get_json(silent=True) or {}
    if role == "none":
        assert (response.status_code, body.get("code")) == (401, 20003)
    elif allowed(row, role):
        assert response.status_code != 401
        assert (response.status_code, body.get("code")) != (403, 20003), "refused"
    else:
        permission = getattr(view, "_verify_permission", None)
        admin_only = permission is not None and all(
            permission not in granted for name, granted in ROLES.items() if name != "admin"
        )
        assert body == {
            "code": 20003,
            "message": ADMIN_ONLY_DENIED if admin_only else "Permission Denied",
            "more_info": "https://www.twilio.com/docs/errors/20003",
            "status": 403,
        }
        assert response.status_code == 403


# -- the one route whose form needs a second permission -------------------------------------


@pytest.mark.parametrize(("role", "status"), [("admin", 200), ("backend", 200), ("support", 403)])
def test_approving_by_update_needs_the_check_permission(
    api: Api, app: Flask, key_headers: dict[str, dict[str, str]], role: str, status: int
) -> None:
    """Support may cancel a verification, not approve it (approval is what a right code
    does); admin and backend may do both."""
    service_sid = api.create_service()
    verification_sid = api.start(service_sid).json["sid"]  # type: ignore[index]
    path = f"/v2/Services/{service_sid}/Verifications/{verification_sid}"
    client = app.test_client()
    response = client.post(path, data={"Status": "approved"}, headers=key_headers[role])
    assert response.status_code == status, response.json
    if status == 403:
        assert response.json["code"] == 20003  # type: ignore[index]
        assert api.fetch(service_sid, verification_sid).json["status"] == "pending"  # type: ignore[index]
        canceled = client.post(path, data={"Status": "canceled"}, headers=key_headers[role])
        assert canceled.status_code == 200
        assert canceled.json["status"] == "canceled"  # type: ignore[index]
    else:
        assert response.json["status"] == "approved"  # type: ignore[index]
