"""`GET /v2/Audit/Entries` (extension): the audit log, newest first, for admins.
`?Log=mfa-activity` reads the MFA activity log instead (docs/audit-log.md, "Two logs")."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, jsonify

from verify_service.application.access.access import Permission
from verify_service.application.audit.audit import (
    AUDIT_LOG,
    LOG_NAMES,
    AuditRecord,
    AuditTrail,
    valid_entry_id,
)
from verify_service.domain.errors import InvalidParameter
from verify_service.http.access.auth import requires
from verify_service.http.params import load, query_params
from verify_service.http.representations import page_json, twilio_time
from verify_service.http.schemas import TokenPageParams
from verify_service.http.wiring import account_sid, base_url

blueprint = Blueprint("audit", __name__, url_prefix="/v2/Audit/Entries")
# The logs by name (`audit`, `mfa-activity`): `Container.audit_logs()`.
AUDIT_TRAILS_KEY = "verify_service.audit_trails"
_page_params = TokenPageParams()


def _trail(name: str) -> AuditTrail:
    """The log `Log=` names (`audit` when absent); another name is 60200 naming `Log`."""
    trails: dict[str, AuditTrail] = current_app.extensions[AUDIT_TRAILS_KEY]
    if name not in LOG_NAMES or name not in trails:
        raise InvalidParameter("Log", " or ".join(LOG_NAMES))
    return trails[name]


def audit_entry_json(record: AuditRecord) -> dict[str, Any]:
    entry = record.entry
    return {
        "id": record.entry_id,
        "account_sid": account_sid(),
        "seq": record.seq,
        "actor": entry.actor,
        "role": entry.role,
        "action": entry.action,
        "target": entry.target,
        "outcome": entry.outcome,
        "reason": entry.reason,
        "date_created": twilio_time(entry.time_ms),
        "prev": record.prev,
        "hash": record.hash,
    }


@blueprint.get("")
@requires(Permission.AUDIT_READ)
def list_entries() -> Response:
    args = query_params()
    name = args.pop("Log", AUDIT_LOG)
    trail = _trail(name)
    paging = load(_page_params, args)
    page, size, token = paging["page"], paging["page_size"], paging.get("page_token")
    if token is not None and not valid_entry_id(token):
        raise InvalidParameter("PageToken")
    # A token (from next_page_url) continues after the previous page's last entry; without
    # one, `Page` pages are skipped (the log is bounded by its retention).
    records, more = trail.newest(size, before=token, skip=0 if token else page * size)
    url = f"{base_url()}/v2/Audit/Entries"
    filters = {} if name == AUDIT_LOG else {"Log": name}
    entries = [audit_entry_json(r) for r in records]
    body = page_json("entries", entries, url, page, size, more, filters)
    if more:
        query = {**filters, "PageSize": size, "Page": page + 1, "PageToken": records[-1].entry_id}
        body["meta"]["next_page_url"] = f"{url}?{urlencode(query)}"
    return jsonify(body)
