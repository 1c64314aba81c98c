"""Support console staff: users (created and disabled from the CLI), sign-in with argon2id
passwords, throttling and lockout, and server-side sessions with an idle timeout.

- Passwords: argon2id (`PasswordHasher` port; argon2-cffi's, RFC 9106 defaults); a hash made
  under other parameters is replaced at the next successful sign-in.
- Sign-in: every attempt counts in two moving windows (per user name, per client IP) before
  the password is even compared; `max_failures` wrong passwords in a row lock the user until
  an admin runs `verify-service user unlock`. A refusal never says which part was wrong.
- Sessions: a random 256-bit id (the cookie); Redis keys it by its SHA-256, so a dump holds
  no usable session. Each request touches it (idle timeout) within an absolute lifetime.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from typing import Protocol

from verify_service.application.ports import Clock
from verify_service.application.protection.ports import RateLimiter, WindowLimit
from verify_service.domain.errors import InvalidParameter, VerifyError
from verify_service.domain.keyring import Keyring
from verify_service.domain.protection.client_network import client_network
from verify_service.domain.staff import (
    MAX_PASSWORD_LENGTH,
    StaffRole,
    require_password,
    require_user_name,
)

log = logging.getLogger(__name__)

SESSION_ID_BYTES = 32  # 256 bits
# Sign-in attempts admitted per moving window (successful ones count too).
LOGIN_WINDOW_SECONDS = 15 * 60
LOGINS_PER_USER_NAME = 10
LOGINS_PER_CLIENT_IP = 30


class LoginRefused(VerifyError):
    """Wrong user name or password, or the user is locked or disabled: deliberately one
    answer for all of them. `user_name` (for the audit log only) is set when the name is a
    user's, so a password typed into the name field is never recorded; `locked_now` when
    this failure locked the user."""

    def __init__(self, user_name: str | None = None, locked_now: bool = False) -> None:
        self.user_name = user_name
        self.locked_now = locked_now
        super().__init__("Sign-in refused")


class LoginThrottled(VerifyError):
    """Too many sign-in attempts for this user name or from this address; try later."""

    def __init__(self, retry_after_seconds: int) -> None:
        self.retry_after_seconds = retry_after_seconds
        super().__init__("Too many sign-in attempts")


class StaffUserExists(VerifyError):
    """A staff user with this name exists already."""


class UnknownStaffUser(VerifyError):
    """No staff user has this name."""


# -- ports -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StaffUserRecord:
    """A staff user as stored (the password only as its argon2id hash)."""

    name: str
    role: StaffRole
    password_hash: str
    disabled: bool = False
    locked: bool = False
    failures: int = 0
    created_ms: int = 0
    last_login_ms: int | None = None


@dataclass(frozen=True, slots=True)
class SessionRecord:
    user_name: str
    csrf_token: str
    created_ms: int
    expires_ms: int  # the absolute end, whatever the activity


class StaffUserStore(Protocol):
    def create(self, record: StaffUserRecord) -> bool:
        """Store a new user; False when the name is taken (one script)."""
        ...

    def get(self, name: str) -> StaffUserRecord | None: ...

    def list(self) -> list[StaffUserRecord]: ...

    def update(self, name: str, changes: dict[str, str], now_ms: int) -> bool:
        """Set these fields of an existing user (one script); False when there is none."""
        ...

    def record_failure(self, name: str, max_failures: int, now_ms: int) -> bool:
        """Count a wrong password and lock the user at `max_failures` (one script); True
        when this failure locked it."""
        ...

    def record_success(self, name: str, now_ms: int, old_hash: str, new_hash: str) -> bool:
        """Reset the failures, replace the hash when `new_hash` is given and the stored one
        is still `old_hash` (one script); False when the user was locked or disabled since."""
        ...

    def open_session(self, key: str, record: SessionRecord, idle_ms: int) -> None: ...

    def touch_session(self, key: str, now_ms: int, idle_ms: int) -> SessionRecord | None:
        """The live session, its idle deadline moved on (one script); None when it is
        unknown, idle for longer than `idle_ms`, or past its absolute end (then deleted)."""
        ...

    def close_session(self, key: str) -> None: ...


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...

    def needs_rehash(self, password_hash: str) -> bool: ...


# -- use cases -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StaffUser:
    """What may be shown of a user (no password hash)."""

    name: str
    role: StaffRole
    disabled: bool
    locked: bool
    created_ms: int
    last_login_ms: int | None


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """A signed-in staff user. `session_id` is the cookie's value: it is known only when the
    session is opened or presented, and never stored."""

    session_id: str
    user_name: str
    role: StaffRole
    csrf_token: str
    created_ms: int

    @property
    def is_admin(self) -> bool:
        return self.role is StaffRole.ADMIN


def _shown(record: StaffUserRecord) -> StaffUser:
    return StaffUser(
        record.name,
        record.role,
        record.disabled,
        record.locked,
        record.created_ms,
        record.last_login_ms,
    )


def session_key(session_id: str) -> str:
    """What Redis names a session by: the SHA-256 of its id (the id is 256 random bits, so
    a fast hash suffices)."""
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    idle_timeout_seconds: int = 15 * 60
    lifetime_seconds: int = 8 * 3600
    max_failures: int = 5


class StaffUsers:
    """Manage staff users; sign them in and out; resume their sessions."""

    def __init__(
        self,
        store: StaffUserStore,
        hasher: PasswordHasher,
        limiter: RateLimiter,
        keyring: Keyring,
        clock: Clock,
        policy: SessionPolicy | None = None,
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._limiter = limiter
        self._keyring = keyring
        self._clock = clock
        self._policy = policy or SessionPolicy()
        self._decoy: str | None = None

    @property
    def policy(self) -> SessionPolicy:
        return self._policy

    # -- administration (the CLI) -------------------------------------------------------

    def add(self, name: str, password: str, role: str) -> StaffUser:
        require_user_name(name)
        require_password(password)
        try:
            staff_role = StaffRole(role)
        except ValueError:
            raise InvalidParameter("role", "support or admin") from None
        record = StaffUserRecord(
            name=name,
            role=staff_role,
            password_hash=self._hasher.hash(password),
            created_ms=self._clock.now_ms(),
        )
        if not self._store.create(record):
            raise StaffUserExists(name)
        log.info("console user %s created with role %s", name, staff_role.value)
        return _shown(record)

    def list(self) -> list[StaffUser]:
        return [_shown(record) for record in self._store.list()]

    def _change(self, name: str, changes: dict[str, str], what: str) -> None:
        if not self._store.update(name, changes, self._clock.now_ms()):
            raise UnknownStaffUser(name)
        log.warning("console user %s %s", name, what)

    def disable(self, name: str) -> None:
        """Refuse the user's sign-ins; its open sessions end at their next request."""
        self._change(name, {"disabled": "1"}, "disabled")

    def enable(self, name: str) -> None:
        self._change(name, {"disabled": "0"}, "enabled")

    def unlock(self, name: str) -> None:
        """Lift a lockout after repeated failures."""
        self._change(name, {"locked": "0", "failures": "0"}, "unlocked")

    def set_password(self, name: str, password: str) -> None:
        require_password(password)
        self._change(name, {"hash": self._hasher.hash(password)}, "given a new password")

    # -- sign-in and sessions --------------------------------------------------------------

    def _throttle(self, name: str, client_ip: str, now_ms: int) -> None:
        window = LOGIN_WINDOW_SECONDS
        limits = [
            WindowLimit(
                "ConsoleLoginsPerUserName",
                ("console-login-user", self._keyring.identifier_tag("console-user", name)),
                LOGINS_PER_USER_NAME,
                window,
            ),
            WindowLimit(
                "ConsoleLoginsPerClientIp",
                (
                    "console-login-ip",
                    self._keyring.identifier_tag("console-ip", client_network(client_ip)),
                ),
                LOGINS_PER_CLIENT_IP,
                window,
            ),
        ]
        outcome = self._limiter.hit(limits, [], now_ms)
        if outcome.refused is not None:
            log.warning("console sign-in throttled (%s)", outcome.refused.name)
            raise LoginThrottled(outcome.retry_after_seconds)

    def _compare_with_decoy(self, password: str) -> None:
        """An unknown user costs what a wrong password does (no user-name oracle)."""
        if self._decoy is None:
            self._decoy = self._hasher.hash(secrets.token_urlsafe(16))
        self._hasher.verify(self._decoy, password)

    def login(self, name: str, password: str, client_ip: str) -> ConsoleSession:
        """Open a session, or raise LoginRefused / LoginThrottled."""
        name = name.strip().lower()
        now_ms = self._clock.now_ms()
        self._throttle(name, client_ip, now_ms)
        if len(password) > MAX_PASSWORD_LENGTH:
            raise LoginRefused
        record = self._store.get(name)
        if record is None:
            self._compare_with_decoy(password)
            log.info("console sign-in refused: unknown user")
            raise LoginRefused
        if not self._hasher.verify(record.password_hash, password):
            locked = self._store.record_failure(name, self._policy.max_failures, now_ms)
            if locked:
                log.warning("console user %s locked after repeated failures", name)
            log.info("console sign-in refused for %s: wrong password", name)
            raise LoginRefused(name, locked_now=locked)
        if record.locked or record.disabled:
            log.info("console sign-in refused for %s: locked or disabled", name)
            raise LoginRefused(name)
        new_hash = ""
        if self._hasher.needs_rehash(record.password_hash):
            new_hash = self._hasher.hash(password)
        if not self._store.record_success(name, now_ms, record.password_hash, new_hash):
            raise LoginRefused(name)
        if new_hash:
            log.info("console user %s: password hash upgraded to current parameters", name)
        session_id = secrets.token_urlsafe(SESSION_ID_BYTES)
        session = SessionRecord(
            user_name=name,
            csrf_token=secrets.token_urlsafe(32),
            created_ms=now_ms,
            expires_ms=now_ms + self._policy.lifetime_seconds * 1000,
        )
        self._store.open_session(
            session_key(session_id), session, self._policy.idle_timeout_seconds * 1000
        )
        log.info("console user %s signed in", name)
        return ConsoleSession(session_id, name, record.role, session.csrf_token, now_ms)

    def resume(self, session_id: str) -> ConsoleSession | None:
        """The session the cookie names, if it is still live and its user still allowed."""
        if not session_id or len(session_id) > 128:
            return None
        key = session_key(session_id)
        now_ms = self._clock.now_ms()
        session = self._store.touch_session(key, now_ms, self._policy.idle_timeout_seconds * 1000)
        if session is None:
            return None
        user = self._store.get(session.user_name)
        if user is None or user.disabled or user.locked:
            self._store.close_session(key)
            return None
        return ConsoleSession(
            session_id, user.name, user.role, session.csrf_token, session.created_ms
        )

    def logout(self, session_id: str) -> None:
        self._store.close_session(session_key(session_id))
