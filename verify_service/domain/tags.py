"""Verification `Tags`: a small map echoed in events (Twilio: at most 10, 128 chars each)."""

from __future__ import annotations

from typing import Any

from verify_service.domain.errors import InvalidParameter
from verify_service.domain.json_input import parse_json

MAX_TAGS = 10
MAX_TAG_LENGTH = 128


def parse_tags(raw: Any) -> dict[str, str]:
    """Tags from a JSON string (form body) or an object (JSON body); 60200 when malformed."""
    value = parse_json(raw, "Tags") if isinstance(raw, str) else raw
    if not isinstance(value, dict) or len(value) > MAX_TAGS:
        raise InvalidParameter("Tags", f"a JSON object of at most {MAX_TAGS} tags")
    tags: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(item, str) or len(key) > MAX_TAG_LENGTH or len(item) > MAX_TAG_LENGTH:
            raise InvalidParameter("Tags", f"string values of at most {MAX_TAG_LENGTH} characters")
        tags[key] = item
    return tags
