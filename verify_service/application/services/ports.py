"""The port the service catalog depends on."""

from __future__ import annotations

from typing import Any, Protocol

from verify_service.domain.routing.routing import MessagingConfiguration
from verify_service.domain.service import Service


class ServiceStore(Protocol):
    def create_service(self, service: Service) -> None: ...

    def get_service(self, sid: str) -> Service | None: ...

    def update_service(self, sid: str, changes: dict[str, Any], now_ms: int) -> Service | None: ...

    def delete_service(self, sid: str) -> bool: ...

    def list_services(self, offset: int, limit: int) -> tuple[list[Service], bool]:
        """One page in creation order, and whether more follow."""
        ...

    def create_messaging_configuration(
        self, service_sid: str, configuration: MessagingConfiguration
    ) -> bool | None:
        """True: added; False: its country has one already; None: no such service."""
        ...

    def update_messaging_configuration(
        self, service_sid: str, country: str, route_sid: str, now_ms: int
    ) -> MessagingConfiguration | None: ...

    def delete_messaging_configuration(self, service_sid: str, country: str) -> bool: ...
