"""Use cases of the Templates resource (`/v2/Templates`, docs/messages.md "Templates").

Listing and fetching show the built-in template, the files' and the API's; creating,
updating and deleting concern the API's only (the built-in and file templates are
read-only: 60200 naming `Sid`, with the reason).
"""

from __future__ import annotations

import logging
from typing import Any

from verify_service.application.ports import Clock
from verify_service.application.templates.directory import TemplateDirectory
from verify_service.application.templates.ports import (
    MAX_TEMPLATE_BYTES,
    MAX_TEMPLATES,
    TemplateStore,
)
from verify_service.domain import sids
from verify_service.domain.errors import InvalidParameter, NotFound, VerifyError
from verify_service.domain.templates.checks import build_template, template_fields
from verify_service.domain.templates.template import MessageTemplate, Source

log = logging.getLogger(__name__)


class TooManyTemplates(VerifyError):
    """The deployment has `MAX_TEMPLATES` API templates already."""

    def __init__(self) -> None:
        super().__init__(f"Too many templates: at most {MAX_TEMPLATES}")


def read_only(template: MessageTemplate) -> InvalidParameter:
    """A built-in or file template cannot be changed through the API."""
    where = "the built-in wording" if template.source is Source.BUILTIN else "a file"
    return InvalidParameter("Sid", f"a template from {where} is read-only")


class Templates:
    def __init__(self, store: TemplateStore, directory: TemplateDirectory, clock: Clock) -> None:
        self._store = store
        self._directory = directory
        self._clock = clock

    def list(
        self, friendly_name: str | None, page: int, page_size: int
    ) -> tuple[list[MessageTemplate], bool]:
        every = self._directory.every()
        if friendly_name:
            every = [t for t in every if friendly_name.casefold() in t.friendly_name.casefold()]
        start = page * page_size
        return every[start : start + page_size], len(every) > start + page_size

    def fetch(self, sid: str) -> MessageTemplate:
        if self._directory.is_fixed(sid):
            found = self._directory.find(sid)
        else:
            found = self._store.get_template(sid) if sids.is_sid(sid, "HJ") else None
        if found is None:
            raise NotFound
        return found

    def exists(self, sid: str) -> bool:
        """For `DefaultTemplateSid`: read from the store, not the cache."""
        try:
            self.fetch(sid)
        except NotFound:
            return False
        return True

    def create(self, values: dict[str, Any]) -> MessageTemplate:
        now_ms = self._clock.now_ms()
        template = _sized(
            build_template(
                sid=sids.new_sid("HJ"),
                source=Source.API,
                date_created_ms=now_ms,
                date_updated_ms=now_ms,
                **{"friendly_name": None, "translations": None, **values},
            )
        )
        if not self._store.create_template(template, MAX_TEMPLATES):
            raise TooManyTemplates
        self._directory.forget()
        log.info("template %s created", template.sid)
        return template

    def update(self, sid: str, changes: dict[str, Any]) -> MessageTemplate:
        current = self.fetch(sid)  # 404 before 400
        if current.source is not Source.API:
            raise read_only(current)
        fields = {**template_fields(current), **changes, "date_updated_ms": self._clock.now_ms()}
        updated = _sized(build_template(**fields))
        if not self._store.update_template(updated):
            raise NotFound
        self._directory.forget()
        log.info("template %s updated (%s)", sid, ", ".join(sorted(changes)) or "no fields")
        return updated

    def delete(self, sid: str) -> None:
        if self._directory.is_fixed(sid):
            raise read_only(self.fetch(sid))
        if not sids.is_sid(sid, "HJ") or not self._store.delete_template(sid):
            raise NotFound
        self._directory.forget()
        log.info("template %s deleted", sid)


def _sized(template: MessageTemplate) -> MessageTemplate:
    size = sum(
        len(text.encode()) for parts in template.translations.values() for text in parts.values()
    )
    if size > MAX_TEMPLATE_BYTES:
        raise InvalidParameter("Translations", f"at most {MAX_TEMPLATE_BYTES} bytes in all")
    return template
