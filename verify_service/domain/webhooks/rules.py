"""What a webhook's parameters may hold (docs/webhooks.md, "The Webhooks resource").

Twilio's `FriendlyName`, `EventTypes`, `WebhookUrl`, `Status`, `Version`, and the extension
`IncludeDestination`; `WebhookUrl` is checked against the target rules (targets.py) by the
use case, which also looks the host up. Each refusal names the wire parameter."""

from __future__ import annotations

from typing import Any

from verify_service.domain.errors import InvalidParameter, VerifyError
from verify_service.domain.events.event_types import ALL_EVENTS, EventType
from verify_service.domain.messages.message_text import is_wire_safe

MAX_WEBHOOKS_PER_SERVICE = 20
# Every event type once, and `*`: more entries can only be repeats.
MAX_EVENT_TYPES = len(EventType) + 1
MAX_FRIENDLY_NAME_LENGTH = 64
STATUSES = ("enabled", "disabled")
# Twilio's legacy `v1` payload is not offered: every webhook is sent v2's (docs/webhooks.md).
VERSIONS = ("v2",)
DEFAULT_STATUS = "enabled"
DEFAULT_VERSION = "v2"
KNOWN_EVENT_TYPES = frozenset({*(e.value for e in EventType), ALL_EVENTS})


class TooManyWebhooks(VerifyError):
    """The service already has `MAX_WEBHOOKS_PER_SERVICE` webhooks."""

    def __init__(self) -> None:
        super().__init__(
            f"Invalid request: a service has at most {MAX_WEBHOOKS_PER_SERVICE} webhooks;"
            " delete one first"
        )


def validate_webhook_values(values: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """The checked values (use-case names); on create, the required ones present and the
    defaults filled in."""
    checked = dict(values)
    if creating:
        for name, wire in (
            ("friendly_name", "FriendlyName"),
            ("event_types", "EventTypes"),
            ("webhook_url", "WebhookUrl"),
        ):
            if checked.get(name) in (None, "", ()):
                raise InvalidParameter(wire, "required")
        checked.setdefault("status", DEFAULT_STATUS)
        checked.setdefault("version", DEFAULT_VERSION)
        checked.setdefault("include_destination", False)
    if "friendly_name" in checked:
        checked["friendly_name"] = _friendly_name(checked["friendly_name"])
    if "event_types" in checked:
        checked["event_types"] = event_types(checked["event_types"])
    if "status" in checked and checked["status"] not in STATUSES:
        raise InvalidParameter("Status", "enabled or disabled")
    if "version" in checked and checked["version"] not in VERSIONS:
        raise InvalidParameter("Version", "v2; v1, Twilio's legacy payload, is not offered")
    if "webhook_url" in checked and not checked["webhook_url"]:
        raise InvalidParameter("WebhookUrl", "required")
    return checked


def _friendly_name(value: str) -> str:
    if not value or not value.strip():
        raise InvalidParameter("FriendlyName", "required")
    if len(value) > MAX_FRIENDLY_NAME_LENGTH:
        raise InvalidParameter("FriendlyName", f"at most {MAX_FRIENDLY_NAME_LENGTH} characters")
    if not is_wire_safe(value):
        raise InvalidParameter("FriendlyName", "control or invisible formatting characters")
    return value


def event_types(values: tuple[str, ...]) -> tuple[str, ...]:
    """`EventTypes`: known types or `*`, each once, at most MAX_EVENT_TYPES; an unknown one
    is named in the refusal (it is the caller's own text from a fixed vocabulary, but cut
    short and stripped of anything unprintable)."""
    if not values:
        raise InvalidParameter("EventTypes", "at least one event type")
    if len(values) > MAX_EVENT_TYPES:
        raise InvalidParameter("EventTypes", f"at most {MAX_EVENT_TYPES} event types")
    for value in values:
        if "," in value:
            raise InvalidParameter(
                "EventTypes",
                "one type per value: repeat EventTypes once per type "
                "(EventTypes=factor.created&EventTypes=challenge.approved; in JSON an array), "
                "not a comma-separated list",
            )
        if value not in KNOWN_EVENT_TYPES:
            raise InvalidParameter("EventTypes", f"unknown event type {_shown(value)}")
    if len(set(values)) != len(values):
        raise InvalidParameter("EventTypes", "an event type is repeated")
    return tuple(values)


def _shown(value: str) -> str:
    printable = "".join(c for c in value[:40] if c.isprintable() and c.isascii())
    return repr(printable + ("…" if len(value) > 40 else ""))
