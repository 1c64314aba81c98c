"""openapi.yaml is the contract: every Flask route is in it, and every path in it is routed."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from flask import Flask

OPENAPI = Path(__file__).resolve().parents[2] / "openapi.yaml"
_IGNORED_METHODS = {"HEAD", "OPTIONS"}


def _flask_operations(app: Flask) -> set[tuple[str, str]]:
    operations = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.startswith("console."):
            continue  # the support console's pages are not part of the API
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in rule.methods or ():
            if method not in _IGNORED_METHODS:
                operations.add((method, path))
    return operations


def _documented_operations() -> set[tuple[str, str]]:
    document = yaml.safe_load(OPENAPI.read_text("utf-8"))
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }


def _normalise(operations: set[tuple[str, str]]) -> set[tuple[str, str]]:
    # Parameter names may differ ({sid} vs {Sid}); the shape of the path may not.
    return {(method, re.sub(r"\{[^}]+\}", "{}", path)) for method, path in operations}


def test_every_route_is_documented_and_every_documented_path_is_routed(app: Flask) -> None:
    """The routes the app serves and the operations openapi.yaml lists are the same set."""
    served = _normalise(_flask_operations(app))
    documented = _normalise(_documented_operations())
    assert served - documented == set(), "routes missing from openapi.yaml"
    assert documented - served == set(), "documented operations the app does not serve"
