"""Reading the audit log a page at a time with filters (the console's audit page): by
action, by actor and by a time range, newest first, on the server.

The log is a stream read newest first in chunks (`AuditTrail.newest`); entries that match
fill the page. A page never reads more than `MAX_SCANNED` entries: when the filters are
rare, it ends early with a cursor, and the next page goes on from there. Entries are
appended in time order, so a scan stops once it is past the range's start (with a minute's
slack for clocks of several processes that differ a little).
"""

from __future__ import annotations

from dataclasses import dataclass

from verify_service.application.audit.audit import AuditRecord, AuditTrail
from verify_service.application.audit.ports import AuditEntry

CHUNK = 200
MAX_SCANNED = 5_000
CLOCK_SLACK_MS = 60_000


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Which entries to list. `action` matches exactly, or as a prefix when it ends with a
    dot (`console.` lists every console action); `actor` exactly (a console user name or a
    credential sid); `since_ms` ≤ time < `until_ms`. None: no filter."""

    action: str | None = None
    actor: str | None = None
    since_ms: int | None = None
    until_ms: int | None = None

    def matches(self, entry: AuditEntry) -> bool:
        if self.action is not None:
            if self.action.endswith("."):
                if not entry.action.startswith(self.action):
                    return False
            elif entry.action != self.action:
                return False
        if self.actor is not None and entry.actor != self.actor:
            return False
        if self.since_ms is not None and entry.time_ms < self.since_ms:
            return False
        return self.until_ms is None or entry.time_ms < self.until_ms

    def past_the_start(self, entry: AuditEntry) -> bool:
        """True once the scan (newest first) is surely older than the range."""
        return self.since_ms is not None and entry.time_ms < self.since_ms - CLOCK_SLACK_MS


@dataclass(frozen=True, slots=True)
class AuditPage:
    records: list[AuditRecord]
    # Where the next (older) page starts: an entry id; None when nothing older can match.
    next_before: str | None


def search_audit(
    trail: AuditTrail, query: AuditQuery, limit: int, before: str | None = None
) -> AuditPage:
    """Up to `limit` matching entries, newest first, older than the entry id `before`."""
    found: list[AuditRecord] = []
    cursor = before
    scanned = 0
    while True:
        chunk, more = trail.newest(CHUNK, before=cursor)
        for index, record in enumerate(chunk):
            scanned += 1
            cursor = record.entry_id
            if query.past_the_start(record.entry):
                return AuditPage(found, None)
            if not query.matches(record.entry):
                continue
            found.append(record)
            if len(found) == limit:
                older = more or index < len(chunk) - 1
                return AuditPage(found, record.entry_id if older else None)
        if not more or not chunk:
            return AuditPage(found, None)
        if scanned >= MAX_SCANNED:
            return AuditPage(found, cursor)
