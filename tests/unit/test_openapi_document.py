"""Static checks of `openapi.yaml`, the HTTP contract (no server is started)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from openapi_spec_validator import validate

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "openapi.yaml"

HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
# Request keys are Twilio's PascalCase, nested settings dotted (`Totp.TimeStep`).
PASCAL_CASE = re.compile(r"^[A-Z][A-Za-z0-9]*(\.[A-Z][A-Za-z0-9]*)*$")
SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")

SUPPORTED_ROUTES = frozenset(
    {
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/metrics"),
        ("post", "/v2/Services"),
        ("get", "/v2/Services"),
        ("get", "/v2/Services/{Sid}"),
        ("post", "/v2/Services/{Sid}"),
        ("delete", "/v2/Services/{Sid}"),
        ("post", "/v2/Services/{ServiceSid}/Verifications"),
        ("get", "/v2/Services/{ServiceSid}/Verifications/{Sid}"),
        ("post", "/v2/Services/{ServiceSid}/Verifications/{Sid}"),
        ("post", "/v2/Services/{ServiceSid}/VerificationCheck"),
        ("post", "/v2/Services/{ServiceSid}/RateLimits"),
        ("get", "/v2/Services/{ServiceSid}/RateLimits"),
        ("get", "/v2/Services/{ServiceSid}/RateLimits/{Sid}"),
        ("post", "/v2/Services/{ServiceSid}/RateLimits/{Sid}"),
        ("delete", "/v2/Services/{ServiceSid}/RateLimits/{Sid}"),
        ("post", "/v2/Services/{ServiceSid}/RateLimits/{RateLimitSid}/Buckets"),
        ("get", "/v2/Services/{ServiceSid}/RateLimits/{RateLimitSid}/Buckets"),
        ("get", "/v2/Services/{ServiceSid}/RateLimits/{RateLimitSid}/Buckets/{Sid}"),
        ("post", "/v2/Services/{ServiceSid}/RateLimits/{RateLimitSid}/Buckets/{Sid}"),
        ("delete", "/v2/Services/{ServiceSid}/RateLimits/{RateLimitSid}/Buckets/{Sid}"),
        ("post", "/v2/SafeList/Numbers"),
        ("get", "/v2/SafeList/Numbers/{PhoneNumber}"),
        ("delete", "/v2/SafeList/Numbers/{PhoneNumber}"),
        ("get", "/v2/Services/{ServiceSid}/FraudGuard/Blocks"),
        ("delete", "/v2/Services/{ServiceSid}/FraudGuard/Blocks/{Prefix}"),
        ("get", "/v2/Audit/Entries"),
        ("get", "/v2/Services/{ServiceSid}/Verifications/{Sid}/DeliveryAttempts"),
        ("get", "/v2/DeliveryAttempts/{AttemptSid}"),
        ("get", "/v2/Attempts"),
        ("get", "/v2/Attempts/Summary"),
        ("get", "/v2/Attempts/{Sid}"),
        ("post", "/v2/DeliveryReceipts/Twilio/{AttemptSid}"),
        ("get", "/v2/DeliveryReceipts/Vonage/{AttemptSid}"),
        ("post", "/v2/DeliveryReceipts/Vonage/{AttemptSid}"),
        ("post", "/v2/DeliveryReceipts/Webhook/{AttemptSid}"),
        ("post", "/v2/Keys"),
        ("get", "/v2/Keys"),
        ("get", "/v2/Keys/{Sid}"),
        ("delete", "/v2/Keys/{Sid}"),
        ("post", "/v2/Services/{ServiceSid}/Entities"),
        ("get", "/v2/Services/{ServiceSid}/Entities"),
        ("get", "/v2/Services/{ServiceSid}/Entities/{Identity}"),
        ("delete", "/v2/Services/{ServiceSid}/Entities/{Identity}"),
        ("post", "/v2/Services/{ServiceSid}/Entities/{Identity}/Factors"),
        ("get", "/v2/Services/{ServiceSid}/Entities/{Identity}/Factors"),
        ("get", "/v2/Services/{ServiceSid}/Entities/{Identity}/Factors/{Sid}"),
        ("post", "/v2/Services/{ServiceSid}/Entities/{Identity}/Factors/{Sid}"),
        ("delete", "/v2/Services/{ServiceSid}/Entities/{Identity}/Factors/{Sid}"),
        ("post", "/v2/Services/{ServiceSid}/Entities/{Identity}/Challenges"),
        ("get", "/v2/Services/{ServiceSid}/Entities/{Identity}/Challenges"),
        ("get", "/v2/Services/{ServiceSid}/Entities/{Identity}/Challenges/{Sid}"),
        ("post", "/v2/Services/{ServiceSid}/Entities/{Identity}/Challenges/{Sid}"),
        ("post", "/v2/Services/{ServiceSid}/MessagingConfigurations"),
        ("get", "/v2/Services/{ServiceSid}/MessagingConfigurations"),
        ("get", "/v2/Services/{ServiceSid}/MessagingConfigurations/{Country}"),
        ("post", "/v2/Services/{ServiceSid}/MessagingConfigurations/{Country}"),
        ("delete", "/v2/Services/{ServiceSid}/MessagingConfigurations/{Country}"),
        ("post", "/v2/Services/{ServiceSid}/Webhooks"),
        ("get", "/v2/Services/{ServiceSid}/Webhooks"),
        ("get", "/v2/Services/{ServiceSid}/Webhooks/{Sid}"),
        ("post", "/v2/Services/{ServiceSid}/Webhooks/{Sid}"),
        ("delete", "/v2/Services/{ServiceSid}/Webhooks/{Sid}"),
        ("get", "/v2/Templates"),
        ("post", "/v2/Templates"),
        ("get", "/v2/Templates/{Sid}"),
        ("post", "/v2/Templates/{Sid}"),
        ("delete", "/v2/Templates/{Sid}"),
        ("post", "/v2/Services/{ServiceSid}/Passkeys/Factors"),
        ("post", "/v2/Services/{ServiceSid}/Passkeys/VerifyFactor"),
        ("post", "/v2/Services/{ServiceSid}/Passkeys/Challenges"),
        ("post", "/v2/Services/{ServiceSid}/Passkeys/ApproveChallenge"),
    }
)
# Providers post delivery receipts without HTTP Basic: their signature authenticates them.
RECEIPTS = "/v2/DeliveryReceipts/"
RECEIPT_SECURITY = {
    "/v2/DeliveryReceipts/Twilio/{AttemptSid}": [{"twilioSignature": []}],
    "/v2/DeliveryReceipts/Vonage/{AttemptSid}": [{"vonageSignature": []}],
    "/v2/DeliveryReceipts/Webhook/{AttemptSid}": [{"verifySignature": []}],
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    with DOCUMENT.open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = yaml.safe_load(handle)
    return loaded


def _resolve(document: dict[str, Any], node: Any) -> Any:
    """Follow a local `$ref` (`#/a/b`) to the node it names."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def _inline(document: dict[str, Any], node: Any) -> Any:
    """A copy of `node` with every local `$ref` replaced by its target (the document has no
    recursive schemas)."""
    node = _resolve(document, node)
    if isinstance(node, dict):
        return {key: _inline(document, value) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(document, item) for item in node]
    return node


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method, path, operation


def _extension_properties(
    document: dict[str, Any], schema: Any, seen: set[int] | None = None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every (name, property schema) marked `x-extension: true` reachable from `schema`."""
    seen = set() if seen is None else seen
    schema = _resolve(document, schema)
    if not isinstance(schema, dict) or id(schema) in seen:
        return
    seen.add(id(schema))
    for name, prop in schema.get("properties", {}).items():
        resolved = _resolve(document, prop)
        if isinstance(resolved, dict) and resolved.get("x-extension") is True:
            yield name, resolved
        yield from _extension_properties(document, prop, seen)
    for key in ("items", "additionalProperties", "not"):
        if key in schema:
            yield from _extension_properties(document, schema[key], seen)
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(key, []):
            yield from _extension_properties(document, sub, seen)


def _request_schemas(document: dict[str, Any], operation: dict[str, Any]) -> Iterator[Any]:
    body = _resolve(document, operation.get("requestBody", {}))
    for media in body.get("content", {}).values():
        yield media["schema"]


def _response_schemas(document: dict[str, Any], operation: dict[str, Any]) -> Iterator[Any]:
    for response in operation["responses"].values():
        for media in _resolve(document, response).get("content", {}).values():
            yield media["schema"]


def _all_marked_properties(node: Any) -> Iterator[int]:
    """Ids of every property schema anywhere in the document marked `x-extension: true`."""
    if isinstance(node, dict):
        properties = node.get("properties")
        if isinstance(properties, dict):
            for prop in properties.values():
                if isinstance(prop, dict) and prop.get("x-extension") is True:
                    yield id(prop)
        for value in node.values():
            yield from _all_marked_properties(value)
    elif isinstance(node, list):
        for item in node:
            yield from _all_marked_properties(item)


def _examples(
    document: dict[str, Any],
) -> Iterator[tuple[str, dict[str, Any], Any]]:
    """(label, schema, example value) for every request and response example."""
    for method, path, operation in _operations(document):
        places: list[tuple[str, Any]] = []
        body = _resolve(document, operation.get("requestBody", {}))
        places += [(f"request {kind}", media) for kind, media in body.get("content", {}).items()]
        for status, response in operation["responses"].items():
            content = _resolve(document, response).get("content", {})
            places += [(f"{status} {kind}", media) for kind, media in content.items()]
        for place, media in places:
            schema = _inline(document, media["schema"])
            label = f"{method.upper()} {path} {place}"
            if "example" in media:
                yield label, schema, media["example"]
            for name, example in media.get("examples", {}).items():
                yield f"{label} ({name})", schema, _resolve(document, example)["value"]


def test_document_is_a_valid_openapi_document(document: dict[str, Any]) -> None:
    """openapi.yaml loads with yaml.safe_load and passes openapi-spec-validator."""
    validate(document)


def test_document_covers_exactly_the_supported_routes(document: dict[str, Any]) -> None:
    """The document lists exactly the routes verify-service serves, no more and no fewer."""
    routes = {(method, path) for method, path, _ in _operations(document)}
    assert routes == SUPPORTED_ROUTES


def test_extension_request_properties_are_pascal_case(document: dict[str, Any]) -> None:
    """Every request property marked x-extension is PascalCase like Twilio's parameters."""
    found = []
    for _, _, operation in _operations(document):
        for schema in _request_schemas(document, operation):
            found += [name for name, _ in _extension_properties(document, schema)]
    assert found, "expected at least one request extension (VerificationTtlSeconds)"
    assert [name for name in found if not PASCAL_CASE.fullmatch(name)] == []


def test_extension_response_properties_are_snake_case(document: dict[str, Any]) -> None:
    """Every response property marked x-extension is snake_case like Twilio's fields."""
    found = []
    for _, _, operation in _operations(document):
        for schema in _response_schemas(document, operation):
            found += [name for name, _ in _extension_properties(document, schema)]
    assert found, "expected at least one response extension (verification_ttl_seconds)"
    assert [name for name in found if not SNAKE_CASE.fullmatch(name)] == []


def test_every_extension_property_is_used_by_an_operation(document: dict[str, Any]) -> None:
    """No x-extension property escapes the case checks by sitting outside any operation."""
    reached: set[int] = set()
    for _, _, operation in _operations(document):
        for schema in [
            *_request_schemas(document, operation),
            *_response_schemas(document, operation),
        ]:
            reached |= {id(prop) for _, prop in _extension_properties(document, schema)}
    assert set(_all_marked_properties(document)) <= reached


def test_extension_properties_say_they_are_extensions(document: dict[str, Any]) -> None:
    """Every x-extension property's description starts with "verify-service extension"."""
    undocumented = []
    for _, _, operation in _operations(document):
        for schema in [
            *_request_schemas(document, operation),
            *_response_schemas(document, operation),
        ]:
            for name, prop in _extension_properties(document, schema):
                if not prop.get("description", "").startswith("verify-service extension"):
                    undocumented.append(name)
    assert undocumented == []


def test_every_v2_operation_documents_401_and_503(document: dict[str, Any]) -> None:
    """Every /v2 operation documents 401 (bad credentials) and 503 (store unavailable);
    delivery receipts, which take no credentials, 403 (bad signature) instead of 401."""
    missing = [
        f"{method.upper()} {path}"
        for method, path, operation in _operations(document)
        if path.startswith("/v2/")
        and not ({"403", "503"} if path.startswith(RECEIPTS) else {"401", "503"})
        <= set(operation["responses"])
    ]
    assert missing == []


def test_v2_operations_need_credentials_and_health_routes_do_not(
    document: dict[str, Any],
) -> None:
    """HTTP Basic is required globally; only /healthz and /readyz override it with [],
    /metrics with its own bearer token, and the delivery receipts with their provider's
    signature."""
    assert document["security"] == [{"accountSid_authToken": []}]
    scheme = document["components"]["securitySchemes"]["accountSid_authToken"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "basic")
    overrides = {
        path: operation["security"]
        for _, path, operation in _operations(document)
        if "security" in operation
    }
    assert overrides == {
        "/healthz": [],
        "/readyz": [],
        "/metrics": [{"metricsToken": []}],  # its own bearer token, never the API's
        **RECEIPT_SECURITY,
    }


def test_every_error_response_uses_the_error_schema(document: dict[str, Any]) -> None:
    """Every 4xx/5xx response of a /v2 operation has a Twilio-shaped Error body."""
    error = document["components"]["schemas"]["Error"]
    wrong = []
    for method, path, operation in _operations(document):
        if not path.startswith("/v2/"):
            continue
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                schema = _resolve(document, response)["content"]["application/json"]["schema"]
                if _resolve(document, schema) is not error:
                    wrong.append(f"{method.upper()} {path} {status}")
    assert wrong == []


def test_examples_conform_to_their_schemas(document: dict[str, Any]) -> None:
    """Every request and response example validates against the schema beside it."""
    failures = []
    for label, schema, example in _examples(document):
        validator = OAS30Validator(schema, format_checker=oas30_format_checker)
        failures += [f"{label}: {error.message}" for error in validator.iter_errors(example)]
    assert failures == []
