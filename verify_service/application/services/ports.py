"""The port the service catalog depends on."""

from __future__ import annotations

from typing import Any, Protocol

from verify_service.domain.service import Service


class ServiceStore(Protocol):
    def create_service(self, service: Service) -> None: ...

    def get_service(self, sid: str) -> Service | None: ...

    def update_service(self, sid: str, changes: dict[str, Any], now_ms: int) -> Service | None: ...

    def delete_service(self, sid: str) -> bool: ...

    def list_services(self, offset: int, limit: int) -> tuple[list[Service], bool]:
        """One page in creation order, and whether more follow."""
        ...
