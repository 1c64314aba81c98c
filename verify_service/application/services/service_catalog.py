"""Use cases of the Service resource."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from verify_service.application.ports import Clock
from verify_service.application.services.ports import ServiceStore
from verify_service.domain import sids
from verify_service.domain.errors import FeatureNotEnabled, InvalidParameter, NotFound
from verify_service.domain.mfa.passkey_config import validate_passkey_settings
from verify_service.domain.routing.routing import RouteBook, validate_whatsapp_settings
from verify_service.domain.service import Service, validate_service_changes

log = logging.getLogger(__name__)


class ServiceCatalog:
    def __init__(
        self,
        store: ServiceStore,
        clock: Clock,
        allow_test_destinations: bool = False,
        after_delete: Callable[[str], object] | None = None,
        routes: RouteBook | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._allow_test_destinations = allow_test_destinations
        # What else goes with a deleted service (its MFA entities, factors, challenges).
        self._after_delete = after_delete
        # The operator's routes Whatsapp.MsgServiceSid and Whatsapp.From are checked against.
        self._routes = routes or RouteBook()
        # Whether a template exists (`DefaultTemplateSid` must name one); None: not checked.
        self.template_exists: Callable[[str], bool] | None = None

    def _validated(self, values: dict[str, Any], current: Service | None = None) -> dict[str, Any]:
        values = validate_service_changes(dict(values))
        validate_passkey_settings(values, current)  # Passkeys.*: domain/mfa/passkey_config.py
        validate_whatsapp_settings(values, current, self._routes)
        if values.get("test_destinations") and not self._allow_test_destinations:
            # Fixed codes must not reach production unnoticed: this deployment has to opt in.
            raise FeatureNotEnabled("TestDestinations (VERIFY_ALLOW_TEST_DESTINATIONS)")
        if "default_template_sid" in values and not values["default_template_sid"]:
            values["default_template_sid"] = None  # empty: back to the built-in wording
        template = values.get("default_template_sid")
        if template and self.template_exists is not None and not self.template_exists(template):
            raise InvalidParameter("DefaultTemplateSid", "no such template")
        return values

    def create(self, values: dict[str, Any]) -> Service:
        if not values.get("friendly_name"):
            raise InvalidParameter("FriendlyName", "required")
        values = self._validated(values)
        now_ms = self._clock.now_ms()
        service = Service(
            sid=sids.new_sid("VA"), date_created_ms=now_ms, date_updated_ms=now_ms, **values
        )
        self._store.create_service(service)
        log.info("service %s created", service.sid)
        return service

    def fetch(self, sid: str) -> Service:
        service = self._store.get_service(sid) if sids.is_sid(sid, "VA") else None
        if service is None:
            raise NotFound
        return service

    def list(self, page: int, page_size: int) -> tuple[list[Service], bool]:
        return self._store.list_services(page * page_size, page_size)

    def update(self, sid: str, changes: dict[str, Any]) -> Service:
        if not sids.is_sid(sid, "VA"):
            raise NotFound
        needs_current = any(name.startswith(("passkeys_", "whatsapp_")) for name in changes)
        changes = self._validated(changes, self.fetch(sid) if needs_current else None)
        service = self._store.update_service(sid, changes, self._clock.now_ms())
        if service is None:
            raise NotFound
        log.info("service %s updated (%s)", sid, ", ".join(sorted(changes)) or "no fields")
        return service

    def delete(self, sid: str) -> None:
        if not sids.is_sid(sid, "VA") or not self._store.delete_service(sid):
            raise NotFound
        if self._after_delete is not None:
            self._after_delete(sid)
        log.info("service %s deleted", sid)
