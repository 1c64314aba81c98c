"""The audit page's filters as a URL carries them (`?log=&action=&user=&since=&until=&before=`):
parsed into an `AuditQuery`, and back into the form and the paging links. Times are read in
the console's display time zone, to the minute (`until` includes its minute). `log` picks
the MFA activity log (`mfa-activity`) instead of the audit log (empty or anything else)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from verify_service.application.audit.audit import AUDIT_LOG, LOG_NAMES, valid_entry_id
from verify_service.application.audit.audit_search import AuditQuery
from verify_service.console.times import parse_local

MAX_FILTER_LENGTH = 100
MINUTE_MS = 60_000
# Offered in the action field (any other action name may be typed).
SUGGESTED_ACTIONS = (
    "console.",
    "console.search",
    "console.resend",
    "console.cancel",
    "console.factors",
    "console.login",
    "console.logout",
    "keys.",
    "mfa.",
    "mfa.factor.delete",
    "mfa.factor.locked",
    "mfa.challenge.",
    "services.",
)


@dataclass(frozen=True, slots=True)
class AuditFilters:
    """What the form shows (as typed) and the query it means; `errors` for fields that
    could not be read (then not applied)."""

    values: dict[str, str]
    query: AuditQuery
    before: str | None
    errors: tuple[str, ...] = field(default=())
    log: str = AUDIT_LOG

    def link_args(self, before: str | None) -> dict[str, str]:
        """The URL arguments of another page of the same filters."""
        args = {name: value for name, value in self.values.items() if value}
        if before is not None:
            args["before"] = before
        return args


def _text(args: Mapping[str, str], name: str) -> str:
    return (args.get(name) or "").strip()[:MAX_FILTER_LENGTH]


def audit_filters(args: Mapping[str, str], zone: ZoneInfo) -> AuditFilters:
    values = {name: _text(args, name) for name in ("action", "user", "since", "until")}
    log = _text(args, "log")
    if log in LOG_NAMES and log != AUDIT_LOG:
        values["log"] = log
    errors: list[str] = []
    since_ms = until_ms = None
    if values["since"]:
        since_ms = parse_local(values["since"], zone)
        if since_ms is None:
            errors.append("From: enter a date and time.")
    if values["until"]:
        until_ms = parse_local(values["until"], zone)
        if until_ms is None:
            errors.append("To: enter a date and time.")
        else:
            until_ms += MINUTE_MS  # the minute named is included
    before = args.get("before") or None
    if before is not None and not valid_entry_id(before):
        before = None
    query = AuditQuery(
        action=values["action"] or None,
        actor=values["user"] or None,
        since_ms=since_ms,
        until_ms=until_ms,
    )
    return AuditFilters(values, query, before, tuple(errors), values.get("log", AUDIT_LOG))
