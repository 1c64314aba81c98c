"""Templates in Redis: one hash per template (its fields as one JSON value), an index in
creation order and a version counter, all under the hash tag `{tpl}` so that each change is
one script (docs/messages.md, "Templates")."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

import redis

from verify_service.adapters.redis_store.errors import fail_closed
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.domain.templates.checks import build_template, template_fields
from verify_service.domain.templates.template import MessageTemplate, Part, Source


@dataclass(frozen=True, slots=True)
class TemplateKeys:
    prefix: str = "vs"

    def template(self, sid: str) -> str:
        """Hash: `json`, the template's fields."""
        return f"{self.prefix}:{{tpl}}:t:{sid}"

    @property
    def index(self) -> str:
        """Sorted set: template sid by creation order."""
        return f"{self.prefix}:{{tpl}}:index"

    @property
    def counter(self) -> str:
        return f"{self.prefix}:{{tpl}}:seq"

    @property
    def version(self) -> str:
        """Counter: one more at every change (for caches and operators)."""
        return f"{self.prefix}:{{tpl}}:version"


def encode_template(template: MessageTemplate) -> str:
    fields = template_fields(template)
    fields["source"] = fields["source"].value
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False)


@functools.lru_cache(maxsize=1024)
def decode_template(raw: bytes | str) -> MessageTemplate:
    """Checked again as it is read: a template the rules of this version refuse is an
    error here, not a message sent wrong. Cached by its stored form: the directory's
    refreshes check each version of a template once per process."""
    fields: dict[str, Any] = json.loads(raw)
    fields["source"] = Source(fields["source"])
    return build_template(**fields)


def read_listed(raw: bytes | str) -> MessageTemplate:
    """A stored form as the list shows it: not checked again (it was at save, and a start
    decodes the template it uses with `decode_template`), so listing 500 templates of 42
    locales costs no parse."""
    fields: dict[str, Any] = json.loads(raw)
    return MessageTemplate(
        sid=fields["sid"],
        friendly_name=fields["friendly_name"],
        translations={
            locale: {Part(part): text for part, text in parts.items()}
            for locale, parts in fields["translations"].items()
        },
        default_locale=fields["default_locale"],
        variables=dict(fields["variables"]),
        allow_links=bool(fields["allow_links"]),
        source=Source(fields["source"]),
        date_created_ms=int(fields["date_created_ms"]),
        date_updated_ms=int(fields["date_updated_ms"]),
    )


class RedisTemplateStore:
    def __init__(self, client: redis.Redis, scripts: ScriptBook, keys: TemplateKeys) -> None:
        self._client = client
        self._scripts = scripts
        self._keys = keys

    @fail_closed
    def create_template(self, template: MessageTemplate, max_templates: int) -> bool:
        """False when the deployment has `max_templates` already (nothing stored)."""
        position = self._scripts.run(
            self._client,
            "create_template",
            [
                self._keys.template(template.sid),
                self._keys.index,
                self._keys.counter,
                self._keys.version,
            ],
            [template.sid, max_templates, encode_template(template)],
        )
        return int(position) > 0

    @fail_closed
    def templates_version(self) -> int:
        """One more at every change: a cache compares it before reading every template."""
        return int(self._client.get(self._keys.version) or 0)

    @fail_closed
    def get_template(self, sid: str) -> MessageTemplate | None:
        stored = self.stored_template(sid)
        return None if stored is None else decode_template(stored)

    @fail_closed
    def stored_template(self, sid: str) -> bytes | None:
        """The template's stored form, not decoded (`decode`)."""
        raw: bytes | None = self._client.hget(self._keys.template(sid), "json")  # type: ignore[assignment]
        return raw

    @fail_closed
    def stored_templates(self) -> dict[str, bytes]:
        """Every stored template's stored form by sid (a bounded number), in creation
        order, not decoded: two round trips."""
        sids: list[bytes] = self._client.zrange(self._keys.index, 0, -1)  # type: ignore[assignment]
        if not sids:
            return {}
        pipe = self._client.pipeline(transaction=False)
        for sid in sids:
            pipe.hget(self._keys.template(sid.decode()), "json")
        return {
            sid.decode(): raw
            for sid, raw in zip(sids, pipe.execute(), strict=True)
            if raw is not None
        }

    def listed(self, stored: bytes) -> MessageTemplate:
        """A stored form as the list shows it (`read_listed`: not checked again)."""
        return read_listed(stored)

    def decode(self, stored: bytes) -> MessageTemplate:
        """A stored form as a template, checked again (cached: once per process and form)."""
        return decode_template(stored)

    @fail_closed
    def list_templates(self) -> list[MessageTemplate]:
        """Every stored template (a bounded number), in creation order: two round trips."""
        return [decode_template(raw) for raw in self.stored_templates().values()]

    @fail_closed
    def update_template(self, template: MessageTemplate) -> bool:
        replaced = self._scripts.run(
            self._client,
            "update_template",
            [self._keys.template(template.sid), self._keys.version],
            [encode_template(template)],
        )
        return bool(replaced)

    @fail_closed
    def delete_template(self, sid: str) -> bool:
        deleted = self._scripts.run(
            self._client,
            "delete_template",
            [self._keys.template(sid), self._keys.index, self._keys.version],
            [sid],
        )
        return bool(deleted)
