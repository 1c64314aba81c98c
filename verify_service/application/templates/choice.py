"""Which template writes a start's message (docs/messages.md, "Templates").

`Templates` (the first entry whose template serves the channel) > `TemplateSid` > the
service's `DefaultTemplateSid` > the built-in wording. A template chosen on the start must
serve the start's channel (else Twilio's 60227); the service's default is used for the
channels it serves, the built-in wording for the others. A default template deleted
meanwhile falls back to the built-in wording, with a warning in the log.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from verify_service.application.templates.directory import TemplateDirectory
from verify_service.domain import sids
from verify_service.domain.errors import InvalidParameter, TemplateChannelNotSupported
from verify_service.domain.models import Channel
from verify_service.domain.service import Service
from verify_service.domain.templates.builtin import BUILTIN_TEMPLATE
from verify_service.domain.templates.template import MessageTemplate
from verify_service.domain.templates.variables import SUBSTITUTIONS, require_substitutions

log = logging.getLogger(__name__)

MAX_TEMPLATE_ENTRIES = 10  # Twilio: "up to 10 entries"


@dataclass(frozen=True, slots=True)
class ChosenTemplate:
    template: MessageTemplate
    substitutions: Mapping[str, str] = field(default_factory=dict)


BUILTIN = ChosenTemplate(BUILTIN_TEMPLATE)


class TemplateChoice:
    def __init__(self, directory: TemplateDirectory) -> None:
        self._directory = directory

    def named(
        self, channel: Channel, sid: str | None, substitutions: Mapping[str, str]
    ) -> ChosenTemplate | None:
        """The template a start names (`TemplateSid`), checked before anything is read:
        it exists, serves `channel`, and the substitutions fit it. None when none named."""
        if sid is None:
            return None
        template = self._directory.find(sid)
        if template is None:
            raise InvalidParameter("TemplateSid", "no such template")
        if not template.serves(channel):
            raise TemplateChannelNotSupported
        return ChosenTemplate(template, require_substitutions(template, substitutions))

    def for_service(
        self, service: Service, channel: Channel, substitutions: Mapping[str, str]
    ) -> ChosenTemplate:
        """The service's default template for a start that names none."""
        sid = service.default_template_sid
        template = self._directory.find(sid) if sid else None
        if sid and template is None:
            log.warning(
                "default template %s of service %s not found: built-in used", sid, service.sid
            )
        if template is None:
            if substitutions:
                raise InvalidParameter(
                    SUBSTITUTIONS,
                    "no template chosen: give TemplateSid, or set the service's DefaultTemplateSid",
                )
            return BUILTIN
        checked = require_substitutions(template, substitutions)
        if template.serves(channel):
            return ChosenTemplate(template, checked)
        if substitutions:  # the built-in wording writes this channel: they would be ignored
            raise InvalidParameter(
                SUBSTITUTIONS, f"template {template.sid} has no wording for {channel.value}"
            )
        return BUILTIN

    def first_serving(
        self, entries: list[tuple[str, dict[str, str]]], channel: Channel
    ) -> tuple[str, dict[str, str]]:
        """`Templates`: the first entry whose template serves `channel`."""
        for sid, substitutions in entries:
            template = self._directory.find(sid)
            if template is None:
                raise InvalidParameter("Templates", f"no such template {sid}")
            if template.serves(channel):
                return sid, substitutions
        raise TemplateChannelNotSupported


def parse_template_entries(value: Any) -> list[tuple[str, dict[str, str]]]:
    """Twilio's `Templates`: a JSON array of `{"sid": "HJ…", "substitutions": {…}}`, 1-10."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):  # `[[[[…]]]]` 10 kB deep: not a 500
            raise InvalidParameter("Templates", "not JSON") from None
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_TEMPLATE_ENTRIES:
        raise InvalidParameter("Templates", f"a JSON array of 1-{MAX_TEMPLATE_ENTRIES} entries")
    entries = []
    for entry in value:
        if not isinstance(entry, dict) or set(entry) - {"sid", "substitutions"}:
            raise InvalidParameter("Templates", 'entries {"sid": "HJ…", "substitutions": {…}}')
        sid, substitutions = entry.get("sid"), entry.get("substitutions", {})
        if isinstance(sid, str):
            sid = sid[:2] + sid[2:].lower()  # looked up in lower case, as TemplateSid
        if not isinstance(sid, str) or not sids.is_sid(sid, "HJ"):
            raise InvalidParameter("Templates", "each entry's sid an HJ sid")
        if not isinstance(substitutions, dict) or not all(
            isinstance(v, str) for v in substitutions.values()
        ):
            raise InvalidParameter("Templates", "substitutions a JSON object of strings")
        entries.append((sid, substitutions))
    return entries
