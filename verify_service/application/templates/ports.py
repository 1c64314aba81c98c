"""The store of the templates made through the API (adapters/redis_store/templates/)."""

from __future__ import annotations

from typing import Protocol

from verify_service.domain.templates.template import MessageTemplate

# A deployment's API templates at most, and the size of one (its JSON): the directory keeps
# them all in every process, so the bound is memory (500 x 64 KiB at most).
MAX_TEMPLATES = 500
MAX_TEMPLATE_BYTES = 65_536


class TemplateStore(Protocol):
    def create_template(self, template: MessageTemplate, max_templates: int) -> bool:
        """False when `max_templates` are stored already (nothing stored)."""
        ...

    def templates_version(self) -> int:
        """A counter every create, update and delete increments."""
        ...

    def get_template(self, sid: str) -> MessageTemplate | None: ...

    def list_templates(self) -> list[MessageTemplate]:
        """Every stored template, in creation order."""
        ...

    def stored_template(self, sid: str) -> bytes | None:
        """A template's stored form, not decoded: checking one costs milliseconds per
        locale, so a cache decodes only the templates it is asked for (`decode`)."""
        ...

    def stored_templates(self) -> dict[str, bytes]:
        """Every stored template's stored form by sid, in creation order, not decoded."""
        ...

    def decode(self, stored: bytes) -> MessageTemplate: ...

    def listed(self, stored: bytes) -> MessageTemplate:
        """A stored form for the list: not checked again (it was at save)."""
        ...

    def update_template(self, template: MessageTemplate) -> bool:
        """False when the template does not exist (any more)."""
        ...

    def delete_template(self, sid: str) -> bool: ...
