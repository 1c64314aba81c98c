"""Which template writes a start's message (docs/messages.md, "Templates").

`Templates` (the first entry whose template serves the channel; every entry must name a
template) > `TemplateSid` (or `ChannelConfiguration.template_id`) > the service's
`DefaultTemplateSid` > the built-in wording. A template chosen on the start must serve the
start's channel (else Twilio's 60227); the service's default is used for the channels it
serves, the built-in wording for the others. A default template deleted meanwhile falls
back to the built-in wording, with a warning in the log (once per sid per process).
Errors name the wire parameter the caller sent the value in.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from verify_service.application.templates.directory import TemplateDirectory
from verify_service.domain import sids
from verify_service.domain.errors import InvalidParameter, TemplateChannelNotSupported
from verify_service.domain.json_input import parse_json
from verify_service.domain.models import Channel
from verify_service.domain.service import Service
from verify_service.domain.templates.builtin import BUILTIN_TEMPLATE
from verify_service.domain.templates.template import MessageTemplate
from verify_service.domain.templates.variables import SUBSTITUTIONS, require_substitutions

log = logging.getLogger(__name__)

MAX_TEMPLATE_ENTRIES = 10  # Twilio: "up to 10 entries"


TEMPLATES = "Templates"
TEMPLATE_SID = "TemplateSid"

# A template entry of `Templates`: its sid and its substitutions.
TemplateEntry = tuple[str, tuple[tuple[str, str], ...]]


@dataclass(frozen=True, slots=True)
class ChosenTemplate:
    template: MessageTemplate
    substitutions: Mapping[str, str] = field(default_factory=dict)
    # The wire parameter the substitutions came in (named by errors about their values).
    parameter: str = SUBSTITUTIONS


BUILTIN = ChosenTemplate(BUILTIN_TEMPLATE)


class TemplateChoice:
    def __init__(self, directory: TemplateDirectory) -> None:
        self._directory = directory
        # Default templates found missing: warned about once per process, not per start.
        self._missing_defaults: set[str] = set()

    def named(
        self,
        channel: Channel,
        sid: str | None,
        substitutions: Mapping[str, str],
        parameters: tuple[str, str] = (TEMPLATE_SID, SUBSTITUTIONS),
    ) -> ChosenTemplate | None:
        """The template a start names, checked before anything is read: it exists, serves
        `channel`, and the substitutions fit it. None when none named. `parameters`: the
        wire names of the sid and of the substitutions as the start gave them."""
        if sid is None:
            return None
        template = self._directory.find(sid)
        if template is None:
            raise InvalidParameter(parameters[0], "no such template")
        if not template.serves(channel):
            raise TemplateChannelNotSupported
        checked = require_substitutions(template, substitutions, parameters[1])
        return ChosenTemplate(template, checked, parameters[1])

    def from_entries(self, entries: tuple[TemplateEntry, ...], channel: Channel) -> ChosenTemplate:
        """`Templates`: every entry names a template; the first serving `channel` is chosen
        (none: 60227)."""
        templates = []
        for sid, substitutions in entries:
            template = self._directory.find(sid)
            if template is None:
                raise InvalidParameter(TEMPLATES, f"no such template {sid}")
            templates.append((template, substitutions))
        for template, substitutions in templates:
            if template.serves(channel):
                checked = require_substitutions(template, dict(substitutions), TEMPLATES)
                return ChosenTemplate(template, checked, TEMPLATES)
        raise TemplateChannelNotSupported

    def for_service(
        self,
        service: Service,
        channel: Channel,
        substitutions: Mapping[str, str],
        parameter: str = SUBSTITUTIONS,
    ) -> ChosenTemplate:
        """The service's default template for a start that names none; `parameter`: the
        wire name the substitutions came in."""
        sid = service.default_template_sid
        template = self._directory.find(sid) if sid else None
        if sid and template is None and sid not in self._missing_defaults:
            self._missing_defaults.add(sid)  # a set's add is atomic under the GIL
            log.warning(
                "default template %s of service %s not found: built-in used", sid, service.sid
            )
        if template is None:
            if substitutions:
                # Name the sid parameter beside the substitutions the caller used.
                sid_parameter = (
                    "ChannelConfiguration.template_id"
                    if parameter.startswith("ChannelConfiguration.")
                    else TEMPLATE_SID
                )
                raise InvalidParameter(
                    parameter,
                    f"no template chosen: give {sid_parameter}, or set the service's"
                    " DefaultTemplateSid",
                )
            return BUILTIN
        checked = require_substitutions(template, substitutions, parameter)
        if template.serves(channel):
            return ChosenTemplate(template, checked, parameter)
        if substitutions:  # the built-in wording writes this channel: they would be ignored
            raise InvalidParameter(
                parameter, f"template {template.sid} has no wording for {channel.value}"
            )
        return BUILTIN


def parse_template_entries(value: Any) -> tuple[TemplateEntry, ...]:
    """Twilio's `Templates`: a JSON array of `{"sid": "HJ…", "substitutions": {…}}`, 1-10."""
    if isinstance(value, str):
        value = parse_json(value, "Templates")
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_TEMPLATE_ENTRIES:
        raise InvalidParameter("Templates", f"a JSON array of 1-{MAX_TEMPLATE_ENTRIES} entries")
    entries: list[TemplateEntry] = []
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
        entries.append((sid, tuple(substitutions.items())))
    return tuple(entries)
