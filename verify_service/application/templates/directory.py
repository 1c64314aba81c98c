"""Every template a start may use: the built-in one, the files' and the API's (cached).

A start that names a template (or whose service has a default one) looks it up here. The
built-in and file templates are in memory from start-up; the API's are kept per process,
fresh for `CACHE_TTL_MS` and then answered while a background thread reads them again
(stale-while-revalidate, up to `STALE_LIMIT_MS`), as the webhook directory does
(application/webhooks/directory.py). So a start costs no extra round trip, but the first
one that needs an API template in a process (or after a minute without a successful
refresh), and a sid the cache does not know (one read: a template created through another
process since). A change made through this process is seen at once; an update or delete
made through another process, after about a second.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from verify_service.application.ports import Clock
from verify_service.application.templates.ports import TemplateStore
from verify_service.domain import sids
from verify_service.domain.errors import StoreUnavailable
from verify_service.domain.templates.builtin import BUILTIN_TEMPLATE
from verify_service.domain.templates.template import MessageTemplate

log = logging.getLogger(__name__)

CACHE_TTL_MS = 1_000
STALE_LIMIT_MS = 60_000


class TemplateDirectory:
    def __init__(
        self,
        store: TemplateStore,
        clock: Clock,
        files: Iterable[MessageTemplate] = (),
        ttl_ms: int = CACHE_TTL_MS,
    ) -> None:
        self._store = store
        self._clock = clock
        self._ttl_ms = ttl_ms
        self._fixed = {BUILTIN_TEMPLATE.sid: BUILTIN_TEMPLATE}
        self._fixed.update({template.sid: template for template in files})
        self._lock = threading.Lock()
        # Stored forms by sid: a template is decoded (checked again, milliseconds per
        # locale) only when a start asks for it, so a process's first read of 500
        # templates does not check them all within one request.
        self._cached: tuple[int, dict[str, bytes]] | None = None
        self._version: int | None = None  # the store's version the cached templates are of
        self._refreshing = False
        self.run_in_background: Callable[[Callable[[], None]], None] = _in_a_thread

    @property
    def fixed(self) -> list[MessageTemplate]:
        """The built-in template, then the files' (by sid): read-only through the API."""
        return list(self._fixed.values())

    def is_fixed(self, sid: str) -> bool:
        return sid in self._fixed

    def find(self, sid: str) -> MessageTemplate | None:
        """The template `sid`, from memory when it can be (the start path)."""
        if sid in self._fixed:
            return self._fixed[sid]
        if not sids.is_sid(sid, "HJ"):
            return None
        stored = self._api_templates().get(sid)
        if stored is None:
            # Created through another process since the last read: one read, then cached.
            stored = self._store.stored_template(sid)
            if stored is None:
                return None
            with self._lock:
                if self._cached is not None:  # a new dict: readers may be iterating
                    read_at, templates = self._cached
                    self._cached = (read_at, {**templates, sid: stored})
        return self._store.decode(stored)

    def every(self) -> list[MessageTemplate]:
        """Every template, the API's read from the store now (the list endpoint), as
        stored: not checked again, which a start does for the one it uses."""
        stored = self._read(self._clock.now_ms()).values()
        return [*self._fixed.values(), *(self._store.listed(form) for form in stored)]

    def forget(self) -> None:
        """This process changed a template: read them again next time."""
        with self._lock:
            self._cached, self._version = None, None

    def _api_templates(self) -> dict[str, bytes]:
        now_ms = self._clock.now_ms()
        refresh = False
        with self._lock:
            cached = self._cached
            usable = cached is not None and cached[0] <= now_ms < cached[0] + STALE_LIMIT_MS
            if cached is not None and usable and now_ms >= cached[0] + self._ttl_ms:
                refresh = not self._refreshing
                self._refreshing = True
        if cached is None or not usable:
            return self._read(now_ms)
        if refresh:
            self.run_in_background(self._refresh)
        return cached[1]

    def _read(self, now_ms: int) -> dict[str, bytes]:
        """Every API template; when the store's version has not moved since the cached
        read, the cached ones (one small read instead of every template)."""
        version = self._store.templates_version()  # before the list: never newer than it
        with self._lock:
            cached, known = self._cached, self._version
        if cached is not None and known == version:
            templates = cached[1]
        else:
            templates = self._store.stored_templates()
        with self._lock:
            self._cached, self._version = (now_ms, templates), version
        return templates

    def _refresh(self) -> None:
        try:
            self._read(self._clock.now_ms())
        except StoreUnavailable:
            log.warning("templates not refreshed (store unavailable)")
        finally:
            with self._lock:
                self._refreshing = False


def _in_a_thread(work: Callable[[], None]) -> None:
    threading.Thread(target=work, name="template-directory", daemon=True).start()
