"""Recording audited actions, and reading the log back (docs/audit-log.md).

`Auditor.record` builds an `AuditEntry` stamped by the clock and appends it; a target that
names a destination is masked first. Entries never hold a code or a secret.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from verify_service.application.access.access import ROLES, Permission
from verify_service.application.audit.ports import AuditEntry, AuditLog
from verify_service.application.ports import Clock
from verify_service.domain.audit_chain import ChainRecord, ChainReport, MalformedEntry, parse_body
from verify_service.domain.destinations import mask_destination

# The two hash-chained logs (docs/audit-log.md, "Two logs"): what operators and support
# did, and the MFA activity of end users (challenges created and answered), each with its
# own bound so that sign-in traffic never pushes an operator's entry out.
AUDIT_LOG = "audit"
MFA_ACTIVITY_LOG = "mfa-activity"
LOG_NAMES = (AUDIT_LOG, MFA_ACTIVITY_LOG)

# Roles whose permissions are not admin-level: whatever neither of them may do is audited.
NON_ADMIN_ROLES = ("backend", "support")
_ENTRY_ID = re.compile(r"^[0-9]{1,20}-[0-9]{1,20}$")
_SID = re.compile(r"^[A-Z]{2}[0-9a-f]{32}$")
# A Fraud Guard prefix (country code + 3 digits): shorter than any full E.164 number.
_PREFIX = re.compile(r"^\+[0-9]{2,6}$")


def admin_only(permission: Permission) -> bool:
    """True when no non-admin role holds `permission` (read from ROLES at call time)."""
    return not any(permission in ROLES.get(role, frozenset()) for role in NON_ADMIN_ROLES)


def mask_part(value: str) -> str:
    """A target part as it may be recorded: a sid or a short number prefix as is, anything
    else (a phone number, an e-mail address) masked."""
    value = value.strip()
    if _SID.fullmatch(value) or _PREFIX.fullmatch(value):
        return value
    return mask_destination(value)


def mask_target(parts: Iterable[str]) -> str:
    """`VA…/RK…`, or `+14•••••••71`: the parts joined by `/`, each through `mask_part`."""
    return "/".join(mask_part(part) for part in parts if part)


_MAX_ID_PART = 2**64 - 1


def valid_entry_id(value: str) -> bool:
    """An audit entry id (a stream id, `<ms>-<n>`, each part a 64-bit unsigned integer and
    not `0-0`, which no entry can follow or precede), as `--since` and `PageToken` take."""
    if _ENTRY_ID.fullmatch(value) is None:
        return False
    milliseconds, sequence = (int(part) for part in value.split("-"))
    return (
        milliseconds <= _MAX_ID_PART
        and sequence <= _MAX_ID_PART
        and (milliseconds, sequence) != (0, 0)
    )


class Auditor:
    """Appends audit entries stamped with the clock's time."""

    def __init__(self, log: AuditLog, clock: Clock) -> None:
        self._log = log
        self._clock = clock

    def record(
        self,
        *,
        actor: str,
        role: str,
        action: str,
        target: str,
        outcome: str,
        reason: str | None = None,
    ) -> AuditEntry:
        """Append one entry (`target` as given: mask it with `mask_target` first when it
        may name a destination). Raises StoreUnavailable when Redis is down."""
        entry = AuditEntry(
            actor=actor,
            role=role,
            action=action,
            target=target,
            outcome=outcome,
            time_ms=self._clock.now_ms(),
            reason=reason,
        )
        self._log.append(entry)
        return entry


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One stored entry as read back, with its place in the chain."""

    entry_id: str
    seq: int
    entry: AuditEntry
    prev: str
    hash: str


class AuditTrail(Protocol):
    """Reading the log (the Redis adapter implements it beside `AuditLog`)."""

    def newest(
        self, limit: int, before: str | None = None, skip: int = 0
    ) -> tuple[list[AuditRecord], bool]:
        """Up to `limit` entries, newest first, older than the entry id `before` (if
        given) after skipping `skip`; and whether older ones remain."""
        ...

    def records(self, after: str | None = None) -> Iterator[ChainRecord]:
        """Every stored entry as stored, oldest first, newer than `after` (if given)."""
        ...

    def verify(self) -> ChainReport:
        """Check the whole retained chain and its head."""
        ...


def audit_record(record: ChainRecord) -> AuditRecord | None:
    """The entry a stored record holds, or None when its body is malformed."""
    try:
        fields = parse_body(record.body)
    except MalformedEntry:
        return None
    seq = fields.pop("seq")
    return AuditRecord(record.entry_id, seq, AuditEntry(**fields), record.prev, record.hash)


def export_line(record: ChainRecord) -> str:
    """One JSON line of `audit export`: the entry's fields, its id and chain links. A
    malformed body is exported as stored (`body`), so an export hides nothing."""
    line: dict[str, Any] = {"id": record.entry_id}
    try:
        line.update(parse_body(record.body))
    except MalformedEntry as exc:
        line["malformed"] = str(exc)
        line["body"] = record.body.decode("utf-8", "replace")
    line["prev"] = record.prev
    line["hash"] = record.hash
    return json.dumps(line, ensure_ascii=False, separators=(",", ":"))
