"""Configuration, read only from `VERIFY_*` environment variables and checked at start."""

from __future__ import annotations

import difflib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypedDict
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from verify_service.adapters.argon2_hasher import DEFAULT_PROFILE, PROFILES
from verify_service.adapters.delivery.providers.console import ConsoleConfig
from verify_service.adapters.delivery.providers.dsn import ProviderConfigError
from verify_service.adapters.delivery.providers.registry import (
    DEFAULT_PROVIDERS,
    ProviderConfig,
    parse_provider_list,
)
from verify_service.adapters.delivery.providers.routes import (
    RoutesConfig,
    load_routes_file,
    route_book,
)
from verify_service.adapters.redis_sentinel import SentinelUrlError, parse_sentinel_url
from verify_service.application.access.destination_lookups import (
    DEFAULT_LOOKUPS_PER_HOUR,
    MAX_LOOKUPS_PER_HOUR,
    MIN_LOOKUPS_PER_HOUR,
)
from verify_service.domain.keyring import (
    LEGACY_KEY_ID,
    MIN_SECRET_KEY_BYTES,
    KeyRingError,
    parse_ring,
)
from verify_service.domain.messages.email_sender import NO_EMAIL_SENDERS, EmailSenderPolicy
from verify_service.domain.models import Channel
from verify_service.domain.protection.forwarded import parse_networks
from verify_service.domain.routing.routing import RouteBook
from verify_service.domain.webhooks.targets import IPNetwork, parse_allowed_networks

_ACCOUNT_SID = re.compile(r"^AC[0-9a-f]{32}$")
_PREFIX = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
MIN_AUTH_TOKEN_LENGTH = 16
MIN_METRICS_TOKEN_LENGTH = 16
# One server (redis, rediss, unix) or a Redis Cluster (`+cluster`: a comma-separated list of
# host:port to discover it from; adapters/redis_cluster.py). Sentinel: `_redis_url`.
REDIS_URL_SCHEMES = ("redis", "rediss", "unix", "redis+cluster", "rediss+cluster")
# `WAIT` for replicas (docs/durability.md): at most this many, for this long by default.
MAX_WAIT_REPLICAS = 16
DEFAULT_WAIT_TIMEOUT_MS = 100
# One failover list of provider DSNs per channel (`dsn || dsn`), see docs/providers.md.
PROVIDER_VARIABLES = {
    Channel.SMS: "VERIFY_SMS_PROVIDERS",
    Channel.CALL: "VERIFY_CALL_PROVIDERS",
    Channel.EMAIL: "VERIFY_EMAIL_PROVIDERS",
    Channel.WHATSAPP: "VERIFY_WHATSAPP_PROVIDERS",
}
_CONSOLE_ONLY: tuple[ProviderConfig, ...] = (ConsoleConfig(),)
NO_ROUTES = RoutesConfig()
# Every variable the service reads. A change that reads a new `VERIFY_*` name adds it here
# and to the README's configuration table (start-up warns about names not in this set).
KNOWN_VARIABLES: frozenset[str] = frozenset(
    {
        "VERIFY_ACCOUNT_SID",
        "VERIFY_ALLOW_REDIS_EVICTION",
        "VERIFY_ALLOW_TEST_DESTINATIONS",
        "VERIFY_ARGON2_PROFILE",
        "VERIFY_ATTEMPT_RETENTION_DAYS",
        "VERIFY_AUDIT_MAX_ENTRIES",
        "VERIFY_AUTH_TOKEN",
        "VERIFY_CONSOLE_IDLE_TIMEOUT_SECONDS",
        "VERIFY_CONSOLE_MAX_LOGIN_FAILURES",
        "VERIFY_CONSOLE_OUTBOX",
        "VERIFY_CONSOLE_SECURE_COOKIE",
        "VERIFY_CONSOLE_SESSION_LIFETIME_SECONDS",
        "VERIFY_CONSOLE_TIME_ZONE",
        "VERIFY_DELIVERY_BACKOFF_MS",
        "VERIFY_DELIVERY_MAX_BACKOFF_MS",
        "VERIFY_DELIVERY_TRIES",
        "VERIFY_DELIVERY_VISIBILITY_TIMEOUT_MS",
        "VERIFY_EMAIL_SENDERS",
        "VERIFY_DESTINATION_LOOKUPS_PER_HOUR",
        "VERIFY_EVENT_BACKOFF_MS",
        "VERIFY_EVENT_MAX_BACKOFF_MS",
        "VERIFY_EVENT_SENDERS",
        "VERIFY_EVENT_TRIES",
        "VERIFY_EVENT_VISIBILITY_TIMEOUT_MS",
        "VERIFY_LOG_LEVEL",
        # Logs and health (docs/operations.md, "Logs", "Health and supervision").
        "VERIFY_LOG_FORMAT",
        "VERIFY_READY_MAX_OUTBOX_AGE_SECONDS",
        "VERIFY_METRICS_DIR",
        "VERIFY_METRICS_TOKEN",
        "VERIFY_MFA_ACTIVITY_MAX_ENTRIES",
        "VERIFY_PUBLIC_URL",
        "VERIFY_REDIS_KEY_PREFIX",
        "VERIFY_REDIS_TIMEOUT_SECONDS",
        "VERIFY_REDIS_URL",
        "VERIFY_REDIS_WAIT_REPLICAS",
        "VERIFY_REDIS_WAIT_TIMEOUT_MS",
        "VERIFY_ROUTES_FILE",
        "VERIFY_SECRET_KEY",
        "VERIFY_SECRET_KEYS",
        "VERIFY_TEMPLATES_DIR",
        "VERIFY_WORKER_METRICS_HOST",
        "VERIFY_WORKER_METRICS_PORT",
        "VERIFY_TRUSTED_PROXIES",
        "VERIFY_WEBHOOK_ALLOWED_NETWORKS",
        *PROVIDER_VARIABLES.values(),
    }
)

# Read by the test suite, not the service (README, "Development"): no warning for them.
TOOLING_VARIABLES: frozenset[str] = frozenset({"VERIFY_TEST_REDIS_SERVER"})


class ConfigError(Exception):
    """A `VERIFY_*` variable is missing or malformed; the message names it (never its value)."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything `create_app` needs. Tests build one directly."""

    account_sid: str
    auth_token: str
    secret_key: bytes  # the primary key's secret
    redis_url: str | None = None  # None: the embedded in-process store
    public_url: str | None = None  # None: absolute URLs use the request's host
    console_outbox: str | None = None  # None: standard output
    argon2_profile: str = DEFAULT_PROFILE
    redis_timeout_seconds: float = 1.0
    key_prefix: str = "vs"
    ephemeral_credentials: bool = False  # some were generated at start (embedded mode only)
    generated_auth_token: bool = False  # the token was generated, so it may be printed once
    # The secret key was generated (embedded mode): its webhook signing token may be printed.
    generated_secret_key: bool = False
    log_level: str = "INFO"
    delivery_tries_per_provider: int = 3
    delivery_backoff_ms: int = 1_000
    delivery_max_backoff_ms: int = 30_000
    delivery_visibility_timeout_ms: int = 60_000
    sms_providers: tuple[ProviderConfig, ...] = _CONSOLE_ONLY
    call_providers: tuple[ProviderConfig, ...] = _CONSOLE_ONLY
    email_providers: tuple[ProviderConfig, ...] = _CONSOLE_ONLY
    whatsapp_providers: tuple[ProviderConfig, ...] = _CONSOLE_ONLY
    # Operator-defined routes (VERIFY_ROUTES_FILE; docs/providers.md, "Routes") that
    # services' MessagingConfigurations and Whatsapp.MsgServiceSid name.
    routes: RoutesConfig = NO_ROUTES
    # Services' test destinations (fixed codes, nothing sent) are honoured only when true.
    allow_test_destinations: bool = False
    # The attempt history (/v2/Attempts) keeps each send and check this many days.
    attempt_retention_days: int = 30
    # The audit log keeps at most this many entries (older ones are trimmed, see
    # docs/audit-log.md).
    audit_max_entries: int = 100_000
    # The MFA activity log (challenges created and answered: end users' traffic) keeps at
    # most this many entries, apart from the audit log's (docs/audit-log.md, "Two logs").
    mfa_activity_max_entries: int = 100_000
    # The support console (docs/support-console.md). The session cookie is `Secure` unless
    # this is false, which only tests on http://127.0.0.1 and the embedded store (its
    # default there) should have: the console then answers loopback clients only.
    console_secure_cookie: bool = True
    console_idle_timeout_seconds: int = 15 * 60
    console_session_lifetime_seconds: int = 8 * 3600
    console_max_login_failures: int = 5
    # The operator's reverse proxies (VERIFY_TRUSTED_PROXIES): a request from one of them is
    # counted under the client its X-Forwarded-For names (domain/protection/forwarded.py).
    trusted_proxies: tuple[IPNetwork, ...] = ()
    # Look-ups by destination (`/v2/Attempts?ChannelData.To=`, a resend, the console's
    # search) per principal that sees destinations masked, per moving hour
    # (docs/access-control.md).
    destination_lookups_per_hour: int = DEFAULT_LOOKUPS_PER_HOUR
    # Start on a Redis whose maxmemory-policy may evict keys (docs/operations.md).
    allow_redis_eviction: bool = False
    # The IANA time zone the console shows times in (and reads the audit filter's in).
    console_time_zone: str = "UTC"
    # (id, secret) pairs, primary first (VERIFY_SECRET_KEYS); empty: `k0` = secret_key.
    secret_keys: tuple[tuple[str, bytes], ...] = ()
    # Opt-in durability (docs/durability.md): an attempt reservation and an approval wait,
    # in the same round trip, until this many replicas acknowledge them (0: no wait), for
    # at most `redis_wait_timeout_ms`.
    redis_wait_replicas: int = 0
    redis_wait_timeout_ms: int = DEFAULT_WAIT_TIMEOUT_MS
    # Webhook events (docs/webhooks.md, "Retries"): sends per delivery, the backoff between
    # them (equal jitter), and how long a worker may hold one before another takes it over.
    event_tries: int = 10
    event_backoff_ms: int = 1_000
    event_max_backoff_ms: int = 300_000
    event_visibility_timeout_ms: int = 60_000
    # Concurrent event sends per worker (at most one per webhook, half of them per service).
    event_senders: int = 8
    # Logs and health (docs/operations.md, "Logs", "Health and supervision"): the log lines'
    # format (`text` or `json`), and the age of the oldest queued message past which
    # `/readyz` reports the outbox as `backlog_too_old`.
    log_format: str = "text"
    ready_max_outbox_age_seconds: int = 300
    # Prometheus metrics (docs/operations.md, "Monitoring and alerts"): on when a token is
    # set (`/metrics` answers `Authorization: Bearer <token>`); None: off, nothing counted.
    metrics_token: str | None = None
    # Where gunicorn's workers keep their samples (None: a new temporary directory).
    metrics_dir: str | None = None
    # The worker's own listener (`/metrics`, `/healthz`); None: the worker listens nowhere.
    worker_metrics_port: int | None = None
    worker_metrics_host: str = "127.0.0.1"
    # Non-public networks webhooks may reach anyway (docs/webhooks.md, "Target rules"):
    # empty, only public addresses (and never plain http except to an allowed loopback).
    webhook_allowed_networks: tuple[IPNetwork, ...] = ()
    # The `From` addresses a start's `ChannelConfiguration.from` may choose (addresses and
    # `@domain` entries; docs/messages.md, "Branded e-mail"); empty: none, the SMTP DSN's own.
    email_senders: EmailSenderPolicy = NO_EMAIL_SENDERS
    # Template files, one `*.toml` each (docs/messages.md, "Templates"); None: none.
    templates_dir: str | None = None

    @property
    def embedded(self) -> bool:
        return self.redis_url is None

    def providers_for(self, channel: Channel) -> tuple[ProviderConfig, ...]:
        """The channel's provider configs in failover order (`build_providers` takes them)."""
        return {
            Channel.SMS: self.sms_providers,
            Channel.CALL: self.call_providers,
            Channel.EMAIL: self.email_providers,
            Channel.WHATSAPP: self.whatsapp_providers,
        }[channel]

    def receipt_providers_for(self, channel: Channel) -> tuple[ProviderConfig, ...]:
        """Every config that may have sent a `channel` message: the global list's and every
        route's. A delivery receipt is checked against the sending account's among them
        only (adapters/delivery/receipts.py, "receipt sender")."""
        found = list(self.providers_for(channel))
        for route in self.routes.routes:
            found += route.providers_for(channel) or ()
        return tuple(found)

    def route_book(self) -> RouteBook:
        """The routes as the API checks services' settings against them."""
        return route_book(self.routes, self.whatsapp_providers)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Read and validate; in embedded mode missing secrets are generated."""
        redis_url = _redis_url(env.get("VERIFY_REDIS_URL") or None)

        account_sid = env.get("VERIFY_ACCOUNT_SID") or None
        auth_token = env.get("VERIFY_AUTH_TOKEN") or None
        secret = env.get("VERIFY_SECRET_KEY") or None
        ring = _key_ring(env.get("VERIFY_SECRET_KEYS") or None, secret)
        if ring:
            secret = ring[0][1].decode("utf-8")
        ephemeral = False
        generated_token = redis_url is None and auth_token is None
        generated_secret = redis_url is None and secret is None
        if redis_url is None:
            ephemeral = account_sid is None or auth_token is None or secret is None
            account_sid = account_sid or "AC" + secrets.token_hex(16)
            auth_token = auth_token or secrets.token_hex(16)
            secret = secret or secrets.token_urlsafe(48)
        account_sid = _required("VERIFY_ACCOUNT_SID", account_sid)
        auth_token = _required("VERIFY_AUTH_TOKEN", auth_token)
        secret = _required("VERIFY_SECRET_KEY (or VERIFY_SECRET_KEYS)", secret)
        _check_credentials(account_sid, auth_token, secret)
        public_url = _public_url(env.get("VERIFY_PUBLIC_URL") or None)

        profile = env.get("VERIFY_ARGON2_PROFILE") or DEFAULT_PROFILE
        if profile not in PROFILES:
            raise ConfigError(f"VERIFY_ARGON2_PROFILE must be one of {', '.join(sorted(PROFILES))}")

        timeout_text = env.get("VERIFY_REDIS_TIMEOUT_SECONDS") or "1.0"
        try:
            timeout = float(timeout_text)
        except ValueError:
            timeout = -1.0
        if not 0.05 <= timeout <= 30:
            raise ConfigError("VERIFY_REDIS_TIMEOUT_SECONDS must be a number from 0.05 to 30")

        prefix = env.get("VERIFY_REDIS_KEY_PREFIX") or "vs"
        if not _PREFIX.fullmatch(prefix):
            raise ConfigError("VERIFY_REDIS_KEY_PREFIX must be 1-32 letters, digits, _ . or -")

        wait_replicas, wait_timeout_ms = _replica_wait(env, redis_url, timeout)

        allow_test = (env.get("VERIFY_ALLOW_TEST_DESTINATIONS") or "false").strip().lower()
        if allow_test not in ("true", "false"):
            raise ConfigError("VERIFY_ALLOW_TEST_DESTINATIONS must be true or false")

        return cls(
            allow_test_destinations=allow_test == "true",
            account_sid=account_sid,
            auth_token=auth_token,
            secret_key=secret.encode("utf-8"),
            secret_keys=tuple(ring),
            redis_url=redis_url,
            public_url=public_url,
            console_outbox=_writable_outbox(_outbox(env.get("VERIFY_CONSOLE_OUTBOX"))),
            argon2_profile=profile,
            redis_timeout_seconds=timeout,
            key_prefix=prefix,
            ephemeral_credentials=ephemeral,
            generated_auth_token=generated_token,
            generated_secret_key=generated_secret,
            delivery_tries_per_provider=_bounded_int(env, "VERIFY_DELIVERY_TRIES", 3, 1, 10),
            delivery_backoff_ms=_bounded_int(env, "VERIFY_DELIVERY_BACKOFF_MS", 1_000, 1, 600_000),
            delivery_max_backoff_ms=_bounded_int(
                env, "VERIFY_DELIVERY_MAX_BACKOFF_MS", 30_000, 1, 3_600_000
            ),
            delivery_visibility_timeout_ms=_bounded_int(
                env, "VERIFY_DELIVERY_VISIBILITY_TIMEOUT_MS", 60_000, 100, 3_600_000
            ),
            log_level=_log_level(env.get("VERIFY_LOG_LEVEL") or "INFO"),
            log_format=_log_format(env.get("VERIFY_LOG_FORMAT") or "text"),
            ready_max_outbox_age_seconds=_bounded_int(
                env, "VERIFY_READY_MAX_OUTBOX_AGE_SECONDS", 300, 1, 86_400
            ),
            sms_providers=_providers(env, Channel.SMS),
            call_providers=_providers(env, Channel.CALL),
            email_providers=_providers(env, Channel.EMAIL),
            whatsapp_providers=_providers(env, Channel.WHATSAPP),
            routes=_routes(env.get("VERIFY_ROUTES_FILE") or None),
            attempt_retention_days=_bounded_int(env, "VERIFY_ATTEMPT_RETENTION_DAYS", 30, 1, 400),
            audit_max_entries=_bounded_int(
                env, "VERIFY_AUDIT_MAX_ENTRIES", 100_000, 100, 100_000_000
            ),
            mfa_activity_max_entries=_bounded_int(
                env, "VERIFY_MFA_ACTIVITY_MAX_ENTRIES", 100_000, 100, 100_000_000
            ),
            console_secure_cookie=_console_secure_cookie(env, embedded=redis_url is None),
            console_idle_timeout_seconds=_bounded_int(
                env, "VERIFY_CONSOLE_IDLE_TIMEOUT_SECONDS", 900, 60, 86_400
            ),
            console_session_lifetime_seconds=_bounded_int(
                env, "VERIFY_CONSOLE_SESSION_LIFETIME_SECONDS", 28_800, 300, 604_800
            ),
            console_max_login_failures=_bounded_int(
                env, "VERIFY_CONSOLE_MAX_LOGIN_FAILURES", 5, 1, 100
            ),
            trusted_proxies=_trusted_proxies(env),
            destination_lookups_per_hour=_bounded_int(
                env,
                "VERIFY_DESTINATION_LOOKUPS_PER_HOUR",
                DEFAULT_LOOKUPS_PER_HOUR,
                MIN_LOOKUPS_PER_HOUR,
                MAX_LOOKUPS_PER_HOUR,
            ),
            allow_redis_eviction=_boolean(env, "VERIFY_ALLOW_REDIS_EVICTION", default=False),
            console_time_zone=_time_zone(env),
            redis_wait_replicas=wait_replicas,
            redis_wait_timeout_ms=wait_timeout_ms,
            **_metrics_settings(env, auth_token),
            event_tries=_bounded_int(env, "VERIFY_EVENT_TRIES", 10, 1, 30),
            event_backoff_ms=_bounded_int(env, "VERIFY_EVENT_BACKOFF_MS", 1_000, 1, 600_000),
            event_max_backoff_ms=_bounded_int(
                env, "VERIFY_EVENT_MAX_BACKOFF_MS", 300_000, 1, 3_600_000
            ),
            event_visibility_timeout_ms=_bounded_int(
                env, "VERIFY_EVENT_VISIBILITY_TIMEOUT_MS", 60_000, 1_000, 3_600_000
            ),
            event_senders=_bounded_int(env, "VERIFY_EVENT_SENDERS", 8, 1, 64),
            webhook_allowed_networks=_webhook_allowed_networks(env),
            email_senders=_email_senders(env),
            templates_dir=(env.get("VERIFY_TEMPLATES_DIR") or "").strip() or None,
        )

    def key_ring(self) -> list[tuple[str, bytes]]:
        """(id, secret) pairs, primary first: `secret_keys`, else `k0:secret_key`."""
        return list(self.secret_keys) or [(LEGACY_KEY_ID, self.secret_key)]

    def __repr__(self) -> str:  # never print secrets
        store = "embedded" if self.embedded else "redis"
        return f"Settings(account_sid={self.account_sid!r}, store={store!r})"


def _redis_url(url: str | None) -> str | None:
    """`VERIFY_REDIS_URL`: redis://, rediss://, unix://, redis+sentinel:// (checked
    here, so a malformed Sentinel URL stops the start with the reason), or a Redis
    Cluster's redis+cluster:// / rediss+cluster://."""
    if url is None:
        return None
    scheme = urlsplit(url).scheme
    if scheme == "redis+sentinel":
        try:
            parse_sentinel_url(url)
        except SentinelUrlError as exc:
            raise ConfigError(f"VERIFY_REDIS_URL: {exc}") from None
        return url
    if scheme not in REDIS_URL_SCHEMES:
        raise ConfigError(
            "VERIFY_REDIS_URL must be a redis://, rediss://, unix://, redis+sentinel://, "
            "redis+cluster:// or rediss+cluster:// URL"
        )
    return url


def _replica_wait(
    env: Mapping[str, str], redis_url: str | None, redis_timeout_seconds: float
) -> tuple[int, int]:
    """`VERIFY_REDIS_WAIT_REPLICAS` and `VERIFY_REDIS_WAIT_TIMEOUT_MS`. The wait must end
    before the socket timeout, or a slow replica would turn every check into a 503."""
    replicas = _bounded_int(env, "VERIFY_REDIS_WAIT_REPLICAS", 0, 0, MAX_WAIT_REPLICAS)
    longest_ms = max(int(redis_timeout_seconds * 1000) // 2, 1)
    timeout_ms = _bounded_int(
        env,
        "VERIFY_REDIS_WAIT_TIMEOUT_MS",
        min(DEFAULT_WAIT_TIMEOUT_MS, longest_ms),
        1,
        longest_ms,
    )
    if replicas and redis_url is None:
        raise ConfigError(
            "VERIFY_REDIS_WAIT_REPLICAS needs VERIFY_REDIS_URL (a Redis with replicas)"
        )
    if replicas and redis_url is not None and "cluster" in urlsplit(redis_url).scheme:
        raise ConfigError("VERIFY_REDIS_WAIT_REPLICAS is not supported on Redis Cluster")
    return replicas, timeout_ms


def _outbox(value: str | None) -> str | None:
    """`VERIFY_CONSOLE_OUTBOX`: a file path; unset or `-` means standard output."""
    return None if value in (None, "", "-") else value


def _required(name: str, value: str | None) -> str:
    if value is None:
        raise ConfigError(f"{name} is required when VERIFY_REDIS_URL is set")
    return value


def _public_url(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise ConfigError("VERIFY_PUBLIC_URL must be an absolute http(s) URL")
    return value.rstrip("/")


def _key_ring(text: str | None, single: str | None) -> list[tuple[str, bytes]]:
    """`VERIFY_SECRET_KEYS` (docs/key-rotation.md); the error names the entry, not its secret."""
    if text is None:
        return []
    if single is not None:
        raise ConfigError("set VERIFY_SECRET_KEYS or VERIFY_SECRET_KEY, not both")
    try:
        return parse_ring(text)
    except KeyRingError as exc:
        raise ConfigError(f"VERIFY_SECRET_KEYS: {exc}") from None


def _check_credentials(account_sid: str, auth_token: str, secret: str) -> None:
    if not _ACCOUNT_SID.fullmatch(account_sid):
        raise ConfigError("VERIFY_ACCOUNT_SID must be AC followed by 32 lower-case hex digits")
    if len(auth_token) < MIN_AUTH_TOKEN_LENGTH:
        raise ConfigError(
            f"VERIFY_AUTH_TOKEN must have at least {MIN_AUTH_TOKEN_LENGTH} characters"
        )
    if len(secret.encode("utf-8")) < MIN_SECRET_KEY_BYTES:
        raise ConfigError(f"VERIFY_SECRET_KEY must have at least {MIN_SECRET_KEY_BYTES} bytes")


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _providers(env: Mapping[str, str], channel: Channel) -> tuple[ProviderConfig, ...]:
    """`VERIFY_<CHANNEL>_PROVIDERS`; the problem is named, the DSN (it has secrets) is not."""
    variable = PROVIDER_VARIABLES[channel]
    try:
        return parse_provider_list(channel, env.get(variable) or DEFAULT_PROVIDERS)
    except ProviderConfigError as exc:
        raise ConfigError(f"{variable} {exc}") from None


def _routes(path: str | None) -> RoutesConfig:
    if path is None:
        return NO_ROUTES
    try:
        return load_routes_file(path)
    except ProviderConfigError as exc:
        raise ConfigError(f"VERIFY_ROUTES_FILE {exc}") from None


def _log_level(value: str) -> str:
    if value.upper() not in _LOG_LEVELS:
        raise ConfigError(f"VERIFY_LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)}")
    return value.upper()


_LOG_FORMATS = ("text", "json")


def _log_format(value: str) -> str:
    if value.strip().lower() not in _LOG_FORMATS:
        raise ConfigError(f"VERIFY_LOG_FORMAT must be one of {', '.join(_LOG_FORMATS)}")
    return value.strip().lower()


def _writable_outbox(path: str | None) -> str | None:
    """Open the outbox once at start, so a bad path stops the process, not every send."""
    if path is not None:
        try:
            with open(path, "a", encoding="utf-8"):
                pass
        except OSError as exc:
            raise ConfigError(
                f"VERIFY_CONSOLE_OUTBOX cannot be opened for appending ({exc.strerror})"
            ) from None
    return path


def _bounded_int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = env.get(name)
    if not text:
        return default
    if not text.strip().isdigit() or not low <= int(text) <= high:
        raise ConfigError(f"{name} must be a whole number from {low} to {high}")
    return int(text)


def _boolean(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    value = (env.get(name) or str(default)).strip().lower()
    if value not in ("true", "false"):
        raise ConfigError(f"{name} must be true or false")
    return value == "true"


def unknown_variables(env: Mapping[str, str]) -> list[str]:
    """A warning for each `VERIFY_*` name in `env` that the service does not read (a typo
    would silently leave the setting at its default), with the closest known name."""
    warnings = []
    for name in sorted(env):
        if not name.startswith("VERIFY_") or name in KNOWN_VARIABLES | TOOLING_VARIABLES:
            continue
        # Compared without the prefix every name shares, which would make all look alike.
        known = {known[len("VERIFY_") :]: known for known in sorted(KNOWN_VARIABLES)}
        closest = difflib.get_close_matches(name[len("VERIFY_") :], known, n=1, cutoff=0.6)
        hint = f" (did you mean {known[closest[0]]}?)" if closest else ""
        warnings.append(f"unknown variable {name} is ignored{hint}")
    return warnings


def _time_zone(env: Mapping[str, str]) -> str:
    """`VERIFY_CONSOLE_TIME_ZONE`: an IANA name (`Europe/Berlin`); default UTC."""
    name = (env.get("VERIFY_CONSOLE_TIME_ZONE") or "UTC").strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigError(
            "VERIFY_CONSOLE_TIME_ZONE must be an IANA time zone name, e.g. Europe/Berlin or UTC"
        ) from None
    return name


def _email_senders(env: Mapping[str, str]) -> EmailSenderPolicy:
    """`VERIFY_EMAIL_SENDERS`: the `From` addresses (`otp@example.com`) and domains
    (`@example.com`) a start may choose; none by default."""
    try:
        return EmailSenderPolicy.parse(env.get("VERIFY_EMAIL_SENDERS") or "")
    except ValueError as exc:
        raise ConfigError(f"VERIFY_EMAIL_SENDERS: {exc}") from None


def _trusted_proxies(env: Mapping[str, str]) -> tuple[IPNetwork, ...]:
    """`VERIFY_TRUSTED_PROXIES`: comma-separated addresses or networks of the reverse proxies
    in front of the service; none by default (X-Forwarded-For is then never read)."""
    try:
        return parse_networks(env.get("VERIFY_TRUSTED_PROXIES") or "")
    except ValueError as exc:
        raise ConfigError(f"VERIFY_TRUSTED_PROXIES: {exc}") from None


def _console_secure_cookie(env: Mapping[str, str], embedded: bool) -> bool:
    """`Secure` console cookies, except by default on the embedded store (`make run` on
    http://127.0.0.1), where the console then answers loopback clients only."""
    default = "false" if embedded else "true"
    value = (env.get("VERIFY_CONSOLE_SECURE_COOKIE") or default).strip().lower()
    if value not in ("true", "false"):
        raise ConfigError("VERIFY_CONSOLE_SECURE_COOKIE must be true or false")
    return value == "true"


class _MetricsSettings(TypedDict):
    metrics_token: str | None
    metrics_dir: str | None
    worker_metrics_port: int | None
    worker_metrics_host: str


def _metrics_settings(env: Mapping[str, str], auth_token: str) -> _MetricsSettings:
    """`VERIFY_METRICS_TOKEN` (its own credential: at least 16 characters, never the auth
    token), `VERIFY_METRICS_DIR`, `VERIFY_WORKER_METRICS_PORT` and `_HOST`."""
    token = env.get("VERIFY_METRICS_TOKEN") or None
    if token is not None:
        if len(token) < MIN_METRICS_TOKEN_LENGTH or not token.isprintable() or " " in token:
            raise ConfigError(
                f"VERIFY_METRICS_TOKEN must be at least {MIN_METRICS_TOKEN_LENGTH} printable "
                "characters without spaces"
            )
        if secrets.compare_digest(token.encode("utf-8"), auth_token.encode("utf-8")):
            raise ConfigError("VERIFY_METRICS_TOKEN must not be the auth token")
    port_text = env.get("VERIFY_WORKER_METRICS_PORT") or None
    port = _bounded_int(env, "VERIFY_WORKER_METRICS_PORT", 0, 1, 65535) if port_text else None
    host = (env.get("VERIFY_WORKER_METRICS_HOST") or "127.0.0.1").strip()
    return {
        "metrics_token": token,
        "metrics_dir": env.get("VERIFY_METRICS_DIR") or None,
        "worker_metrics_port": port,
        "worker_metrics_host": host,
    }


def _webhook_allowed_networks(env: Mapping[str, str]) -> tuple[IPNetwork, ...]:
    """`VERIFY_WEBHOOK_ALLOWED_NETWORKS`: comma-separated CIDRs (docs/webhooks.md)."""
    try:
        return parse_allowed_networks(env.get("VERIFY_WEBHOOK_ALLOWED_NETWORKS") or "")
    except ValueError as exc:
        raise ConfigError(f"VERIFY_WEBHOOK_ALLOWED_NETWORKS: {exc}") from None
