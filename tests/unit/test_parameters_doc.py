"""docs/parameters.md has one row per parameter of every operation, Twilio's and ours, and
every test a row names exists: no parameter is accepted and silently ignored unnoticed."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.parameters_table import rows

REPO = Path(__file__).resolve().parents[2]
OPENAPI = yaml.safe_load((REPO / "openapi.yaml").read_text(encoding="utf-8"))
TWILIO = REPO / "tests" / "support" / "twilio_verify_v2_parameters.txt"

STATUSES = ("effective", "refused", "not offered", "extension")
TEST = re.compile(r"^`(tests/[\w/]+\.py)::(\w+)`$")
HTTP_METHODS = ("get", "post", "delete", "put", "patch")

Key = tuple[str, str]
ROWS = rows()


def _resolved(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        found: Any = OPENAPI
        for part in node["$ref"].removeprefix("#/").split("/"):
            found = found[part]
        node = found
    return node


def _ours() -> dict[Key, dict[str, Any]]:
    """(operationId, parameter) of openapi.yaml -> {"in", "extension", "description"}."""
    found: dict[Key, dict[str, Any]] = {}
    for item in OPENAPI["paths"].values():
        for method in HTTP_METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            name = operation["operationId"]
            extension = bool(operation.get("x-extension"))
            for raw in item.get("parameters", []) + operation.get("parameters", []):
                parameter = _resolved(raw)
                found.setdefault(
                    (name, parameter["name"]),
                    {
                        "in": parameter["in"],
                        "extension": extension or bool(parameter.get("x-extension")),
                        "description": parameter.get("description", ""),
                    },
                )
            for media in operation.get("requestBody", {}).get("content", {}).values():
                schema = _resolved(media.get("schema", {}))
                for key, raw in schema.get("properties", {}).items():
                    prop = _resolved(raw)
                    found.setdefault(
                        (name, key),
                        {
                            "in": "body",
                            "extension": extension or bool(prop.get("x-extension")),
                            "description": prop.get("description", ""),
                        },
                    )
    return found


OURS = _ours()
OUR_OPERATIONS = {operation for operation, _ in OURS} | {
    item[method]["operationId"]
    for item in OPENAPI["paths"].values()
    for method in HTTP_METHODS
    if method in item
}
TWILIOS = {
    (line.split()[0], line.split()[2])
    for line in TWILIO.read_text(encoding="utf-8").splitlines()
    if line and not line.startswith("#")
}


@cache
def _test_functions(path: str) -> frozenset[str]:
    tree = ast.parse((REPO / path).read_text(encoding="utf-8"))
    return frozenset(
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    )


def test_the_table_and_the_twilio_list_are_read() -> None:
    """A change of the table's format or of the list would otherwise pass silently."""
    assert len(TWILIOS) >= 280
    assert len(ROWS) >= len(TWILIOS)
    assert len({operation for operation, _ in TWILIOS}) == 57


def test_every_parameter_of_openapi_yaml_has_a_row() -> None:
    missing = sorted(set(OURS) - set(ROWS))
    assert not missing, f"docs/parameters.md has no row for {missing}"


def test_every_parameter_twilio_defines_has_a_row() -> None:
    missing = sorted(TWILIOS - set(ROWS))
    assert not missing, f"docs/parameters.md has no row for Twilio's {missing}"


def test_every_row_names_a_parameter_of_openapi_yaml_or_of_twilio() -> None:
    """A row of an operation we serve names one of its parameters in openapi.yaml; a row of
    an operation we do not serve names one of Twilio's."""
    stray = sorted(
        key for key in ROWS if (key not in OURS if key[0] in OUR_OPERATIONS else key not in TWILIOS)
    )
    assert not stray, f"rows for parameters that do not exist: {stray}"


def test_every_row_has_a_known_status_a_description_and_a_proof() -> None:
    for key, row in ROWS.items():
        assert row.status in STATUSES, key
        assert row.what.strip(), key
        assert row.tests, key


def test_not_offered_is_exactly_the_operations_we_do_not_serve() -> None:
    """A served operation's parameter is never "not offered"; an operation not served is
    (its routes are 404)."""
    for (operation, parameter), row in ROWS.items():
        if operation in OUR_OPERATIONS:
            assert row.status != "not offered", (operation, parameter)
        else:
            assert row.status == "not offered", (operation, parameter)


def test_extension_rows_are_the_extensions_of_openapi_yaml() -> None:
    """(A refused parameter of an extension operation reads "refused".)"""
    for key, row in ROWS.items():
        if key in OURS and row.status != "refused":
            assert (row.status == "extension") == OURS[key]["extension"], key


def test_openapi_yaml_still_describes_every_refused_parameter_as_refused() -> None:
    for key, row in ROWS.items():
        if row.status == "refused":
            assert key in OURS, f"{key} is refused but missing from openapi.yaml"
            assert "refused" in OURS[key]["description"], f"{key}: say 'refused' in openapi.yaml"


def _cited() -> list[tuple[str, str, str]]:
    cited = []
    for (operation, parameter), row in ROWS.items():
        for reference in row.tests:
            cited.append((f"{operation}.{parameter}", reference, row.status))
    return cited


@pytest.mark.parametrize(("row", "reference", "status"), _cited(), ids=lambda value: value)
def test_each_cited_test_exists(row: str, reference: str, status: str) -> None:
    """A renamed or deleted test leaves no parameter without its proof."""
    match = TEST.match(reference)
    assert match, f"{row}: {reference!r} is not `tests/…py::test_name`"
    path, function = match.groups()
    assert (REPO / path).is_file(), f"{row}: {path} does not exist"
    assert function in _test_functions(path), f"{row}: {path} has no test {function}"
