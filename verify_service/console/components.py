"""What the console's pages share: the blueprint's name, where its components live on the
app, and the components themselves."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol
from zoneinfo import ZoneInfo

from verify_service.application.support.factor_support import FactorSupport
from verify_service.application.support.staff_users import StaffUsers
from verify_service.application.support.support_console import SupportConsole
from verify_service.domain.protection.forwarded import IPNetwork

BLUEPRINT_NAME = "console"
COMPONENTS_KEY = "verify_service.console"


class Sealer(Protocol):
    """Authenticated encryption of a search (service, destination) into the page's forms,
    so no page carries a full number (`DestinationCipher`)."""

    def seal(self, destination: str, context: bytes) -> bytes: ...

    def open(self, sealed: bytes, context: bytes) -> str | None: ...


@dataclass(frozen=True, slots=True)
class ConsoleComponents:
    staff: StaffUsers
    support: SupportConsole
    sealer: Sealer
    # False only for tests on http://127.0.0.1: the console then answers loopback only.
    secure_cookie: bool = True
    # The reverse proxies whose X-Forwarded-For names the client (VERIFY_TRUSTED_PROXIES).
    trusted_proxies: tuple[IPNetwork, ...] = ()
    # The display time zone of every time a page shows (VERIFY_CONSOLE_TIME_ZONE).
    time_zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    # An identity's MFA factors ("I lost my phone"); None: the factor pages answer 404.
    factors: FactorSupport | None = None
