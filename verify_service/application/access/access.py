"""Who may do what. Every route names one permission; a role is a set of permissions.

The account credentials are the `admin` principal; API keys (`SK…`, see
`application/access/api_keys.py`) carry one of the roles below. The route x role matrix is in
`docs/access-control.md`, and a test holds that table, these sets and the routes together.
"""

from __future__ import annotations

import enum
import hmac
from dataclasses import dataclass
from typing import Protocol


class Permission(enum.StrEnum):
    SERVICES_READ = "services:read"
    SERVICES_WRITE = "services:write"
    VERIFICATIONS_START = "verifications:start"
    VERIFICATIONS_CHECK = "verifications:check"
    VERIFICATIONS_READ = "verifications:read"
    VERIFICATIONS_END = "verifications:end"
    RATE_LIMITS_READ = "rate-limits:read"
    RATE_LIMITS_WRITE = "rate-limits:write"
    SAFE_LIST_READ = "safe-list:read"
    SAFE_LIST_WRITE = "safe-list:write"
    FRAUD_GUARD_READ = "fraud-guard:read"
    FRAUD_GUARD_WRITE = "fraud-guard:write"
    ATTEMPTS_READ = "attempts:read"
    KEYS_READ = "keys:read"
    KEYS_WRITE = "keys:write"
    AUDIT_READ = "audit:read"  # admin only: the audit log (`GET /v2/Audit/Entries`)
    # MFA (docs/mfa.md): read entities, factors, challenges; enrol (create/delete an entity,
    # create/update/verify a factor); challenge (create/answer challenges, passkey
    # ceremonies); delete a factor (support too: "I lost my phone", with a reason).
    MFA_READ = "mfa:read"
    MFA_ENROL = "mfa:enrol"
    MFA_CHALLENGE = "mfa:challenge"
    MFA_FACTORS_DELETE = "mfa:factors-delete"
    # Webhooks (docs/webhooks.md): admin only, reads too (a webhook's URL says where a
    # service's events go).
    WEBHOOKS_READ = "webhooks:read"
    WEBHOOKS_WRITE = "webhooks:write"
    # Message templates (docs/messages.md, "Templates"): admin only, as the wording of every
    # service's messages; reading them needs `services:read`.
    TEMPLATES_WRITE = "templates:write"


ROLES: dict[str, frozenset[Permission]] = {
    # Everything, API keys included: the account credentials and `admin` keys.
    "admin": frozenset(Permission),
    # An application's server: run verifications end to end, read its services' settings.
    "backend": frozenset(
        {
            Permission.SERVICES_READ,
            Permission.VERIFICATIONS_START,
            Permission.VERIFICATIONS_CHECK,
            Permission.VERIFICATIONS_READ,
            Permission.VERIFICATIONS_END,
            Permission.MFA_READ,
            Permission.MFA_ENROL,
            Permission.MFA_CHALLENGE,
            Permission.MFA_FACTORS_DELETE,
        }
    ),
    # Support staff: look verifications up, resend (a start while one is pending), cancel.
    # Never check a code (that would let staff approve on a user's behalf), never settings.
    "support": frozenset(
        {
            Permission.VERIFICATIONS_READ,
            Permission.VERIFICATIONS_START,
            Permission.VERIFICATIONS_END,
            Permission.ATTEMPTS_READ,  # the attempt history (masked destinations)
            # "I lost my phone": see an identity's factors, delete one (never enrol, never
            # answer a challenge, which would let staff sign in as the user).
            Permission.MFA_READ,
            Permission.MFA_FACTORS_DELETE,
        }
    ),
}


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: the account it acts for, its credential's sid, its role."""

    account_sid: str
    credential_sid: str
    role: str

    def may(self, permission: Permission) -> bool:
        return permission in ROLES.get(self.role, frozenset())

    @property
    def sees_destinations_masked(self) -> bool:
        """True for a principal that may not check codes (`support`): it is shown every
        destination masked, and its look-ups by destination are audited and limited
        (`application/access/destination_lookups.py`)."""
        return not self.may(Permission.VERIFICATIONS_CHECK)


class CredentialVerifier(Protocol):
    def verify(self, username: str, password: str) -> Principal | None: ...


class AccountCredentials:
    """The account's own `AC` sid and auth token: the admin principal."""

    def __init__(self, account_sid: str, auth_token: str) -> None:
        self._sid = account_sid.encode("utf-8")
        self._token = auth_token.encode("utf-8")
        self._principal = Principal(account_sid, account_sid, "admin")

    def verify(self, username: str, password: str) -> Principal | None:
        # Compare both parts every time (constant time, no early exit on the user name).
        sid_ok = hmac.compare_digest(username.encode("utf-8"), self._sid)
        token_ok = hmac.compare_digest(password.encode("utf-8"), self._token)
        return self._principal if sid_ok & token_ok else None


class Authenticator:
    """Tries each verifier in turn; the first to recognise the credentials wins."""

    def __init__(self, verifiers: list[CredentialVerifier]) -> None:
        self._verifiers = verifiers

    def authenticate(self, username: str, password: str) -> Principal | None:
        for verifier in self._verifiers:
            principal = verifier.verify(username, password)
            if principal is not None:
                return principal
        return None
