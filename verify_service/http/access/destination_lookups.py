"""The API's guard on look-ups by destination (`application/access/destination_lookups.py`).

A view that finds something by a `To` it was given calls `admit_lookup` before it reads:
for a principal that sees destinations masked (`support`), the look-up is counted and
audited first (429/20429 with `Retry-After` past the limit, 503 when Redis is down); for
admins and backends it does nothing.
"""

from __future__ import annotations

from flask import abort, current_app

from verify_service.application.access.destination_lookups import DestinationLookups, Looker
from verify_service.http.access.auth import current_principal, permission_denied

DESTINATION_LOOKUPS_KEY = "verify_service.destination_lookups"


def admit_lookup(action: str, destination: str, parameter: str = "To") -> None:
    """Count and audit the current principal's look-up of `destination`, if it sees
    destinations masked; raises the refusal (the error handlers answer it)."""
    principal = current_principal()
    if not principal.sees_destinations_masked:
        return
    lookups: DestinationLookups | None = current_app.extensions.get(DESTINATION_LOOKUPS_KEY)
    if lookups is None:  # no audit log to write to: refuse rather than answer unaudited
        abort(permission_denied())
    looker = Looker("key", principal.credential_sid, principal.role)
    lookups.admit(looker, action, destination, parameter=parameter)
