"""openapi.yaml's `EventTypes` says which event types are verify-service extensions: each
one is listed in the items' `x-extension-values` and marked `(x-extension)` in the
description, exactly the catalogue's extensions (domain/events/event_types.py); Twilio's
own types are not marked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from verify_service.domain.events.event_types import (
    ALL_EVENTS,
    EXTENSION_EVENT_TYPES,
    TWILIO_EVENT_TYPES,
    EventType,
)

DOCUMENT = Path(__file__).resolve().parents[2] / "openapi.yaml"


def _schema() -> dict[str, Any]:
    document = yaml.safe_load(DOCUMENT.read_text("utf-8"))
    schema: dict[str, Any] = document["components"]["schemas"]["WebhookEventTypes"]
    return schema


def test_the_enum_is_the_catalogue() -> None:
    assert set(_schema()["items"]["enum"]) == {ALL_EVENTS} | {t.value for t in EventType}


def test_every_extension_type_is_marked_and_no_twilio_type_is() -> None:
    schema = _schema()
    marked = set(schema["items"]["x-extension-values"])
    assert marked == {t.value for t in EXTENSION_EVENT_TYPES}
    description = " ".join(schema["description"].split())
    for event_type in EXTENSION_EVENT_TYPES:
        assert f"`{event_type.value}` (x-extension)" in description
    for event_type in TWILIO_EVENT_TYPES:
        assert f"`{event_type.value}` (x-extension)" not in description
        assert f"`{event_type.value}`" in description
