"""The composition root: `create_app(settings)` builds every dependency, connects nothing
at import time, and is the one place that knows the concrete adapters."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import redis
from flask import Flask, Response, request

from verify_service import console
from verify_service.adapters.argon2_hasher import PROFILES, Argon2CodeHasher
from verify_service.adapters.clock import SystemClock
from verify_service.adapters.delivery.providers.registry import providers_by_channel
from verify_service.adapters.delivery.providers.routes import providers_by_route
from verify_service.adapters.delivery.receipts import (
    receipt_checkers,
    receipt_sender,
    receipt_url,
)
from verify_service.adapters.destination_cipher import DestinationCipher
from verify_service.adapters.events.http_sender import HttpEventSender
from verify_service.adapters.metrics.exposition import exposition
from verify_service.adapters.metrics.prometheus_metrics import PrometheusMetrics
from verify_service.adapters.password_hasher import Argon2PasswordHasher
from verify_service.adapters.redis_connection import connect, embedded
from verify_service.adapters.redis_preflight import readiness_problem
from verify_service.adapters.redis_store.access.api_key_store import RedisApiKeyStore
from verify_service.adapters.redis_store.attempts.attempt_history import RedisAttemptHistory
from verify_service.adapters.redis_store.attempts.attempt_reseal import AttemptHistorySeals
from verify_service.adapters.redis_store.audit.audit_log import RedisAuditLog
from verify_service.adapters.redis_store.delivery.delivery_queue import RedisDeliveryQueue
from verify_service.adapters.redis_store.delivery.fallback_schedule import RedisFallbackSchedule
from verify_service.adapters.redis_store.delivery.worker_heartbeats import RedisWorkerHeartbeats
from verify_service.adapters.redis_store.errors import UNAVAILABLE
from verify_service.adapters.redis_store.events.event_outbox import RedisEventOutbox
from verify_service.adapters.redis_store.events.expiry_schedule import RedisExpirySchedule
from verify_service.adapters.redis_store.keys import (
    ApiKeyKeys,
    AuditKeys,
    EventOutboxKeys,
    ExpiryKeys,
    FallbackKeys,
    FraudGuardKeys,
    HistoryKeys,
    KeySpace,
    MfaKeys,
    OutboxKeys,
    WebhookKeys,
)
from verify_service.adapters.redis_store.mfa.factor_secret_reseal import FactorSecretSeals
from verify_service.adapters.redis_store.mfa.mfa_store import RedisMfaStore
from verify_service.adapters.redis_store.mfa.passkey_store import RedisPasskeyStore
from verify_service.adapters.redis_store.protection.fraud_guard_store import RedisFraudGuardStore
from verify_service.adapters.redis_store.protection.rate_limit_store import RedisRateLimitStore
from verify_service.adapters.redis_store.protection.rate_limiter import LimitsRateLimiter
from verify_service.adapters.redis_store.protection.safe_list_store import RedisSafeListStore
from verify_service.adapters.redis_store.replica_wait import ReplicaWait
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.adapters.redis_store.services.service_store import RedisServiceStore
from verify_service.adapters.redis_store.support.staff_user_store import (
    RedisStaffUserStore,
    StaffKeys,
)
from verify_service.adapters.redis_store.templates.template_store import (
    RedisTemplateStore,
    TemplateKeys,
)
from verify_service.adapters.redis_store.verifications.verification_store import (
    RedisVerificationStore,
)
from verify_service.adapters.redis_store.webhooks.webhook_store import RedisWebhookStore
from verify_service.adapters.template_files import TemplateFileError, load_template_dir
from verify_service.adapters.webhooks.resolver import TargetResolver
from verify_service.application.access.access import AccountCredentials, Authenticator
from verify_service.application.access.api_keys import ApiKeyCredentials, ApiKeys
from verify_service.application.access.destination_lookups import DestinationLookups
from verify_service.application.attempts.attempts import DAY_MS, Attempts
from verify_service.application.audit.audit import (
    AUDIT_LOG,
    MFA_ACTIVITY_LOG,
    Auditor,
)
from verify_service.application.audit.ports import AuditLog
from verify_service.application.delivery.channel_fallback import ChannelFallback
from verify_service.application.delivery.delivery_receipts import DeliveryAttempts
from verify_service.application.delivery.delivery_worker import DeliveryWorker, RetryPolicy
from verify_service.application.delivery.ports import DeliveryProvider
from verify_service.application.delivery.supervision import DeliveryHealthCheck
from verify_service.application.events.event_delivery import (
    BACKLOG_CAP,
    EventDeliveryWorker,
    EventRetryPolicy,
    Signer,
)
from verify_service.application.events.ports import EventSender
from verify_service.application.events.publisher import EventPublisher, NoWebhooks
from verify_service.application.metrics.ports import NO_METRICS, Metrics, QueueProbe
from verify_service.application.mfa.passkeys import Passkeys
from verify_service.application.mfa.use_cases import MfaUseCases
from verify_service.application.ports import Clock
from verify_service.application.protection.abuse_protection import AbuseProtection
from verify_service.application.protection.fraud_guard_blocks import FraudGuardBlocks
from verify_service.application.protection.rate_limit_catalog import RateLimitCatalog
from verify_service.application.protection.safe_list import SafeList
from verify_service.application.routing.messaging_configurations import MessagingConfigurations
from verify_service.application.secrets.ports import Resealable
from verify_service.application.services.service_catalog import ServiceCatalog
from verify_service.application.support.factor_support import FactorSupport
from verify_service.application.support.staff_users import SessionPolicy, StaffUsers
from verify_service.application.support.support_console import SupportConsole
from verify_service.application.templates.choice import TemplateChoice
from verify_service.application.templates.directory import TemplateDirectory
from verify_service.application.templates.templates import Templates
from verify_service.application.verifications.verifications import Verifications
from verify_service.application.webhooks.directory import CachedWebhookDirectory
from verify_service.application.webhooks.webhooks import Webhooks
from verify_service.console.views import wire_outcome
from verify_service.domain.keyring import Keyring
from verify_service.domain.models import Channel
from verify_service.http import attempts_api, health, services_api, verifications_api
from verify_service.http.access import keys_api
from verify_service.http.access.auth import authenticate_request
from verify_service.http.access.destination_lookups import DESTINATION_LOOKUPS_KEY
from verify_service.http.audit import audit_api, audit_hooks
from verify_service.http.delivery import delivery_attempts_api, delivery_receipts_api
from verify_service.http.error_codes import register_error_handlers
from verify_service.http.health import HEALTH_ENDPOINTS
from verify_service.http.metrics import metrics_api
from verify_service.http.metrics.metrics_api import METRICS_ENDPOINT
from verify_service.http.mfa import challenges_api, entities_api, factors_api, passkeys_api
from verify_service.http.mfa.mfa_wiring import MFA_KEY, MfaComponents
from verify_service.http.protection import fraud_guard_api, rate_limits_api, safe_list_api
from verify_service.http.request_ids import RequestIds
from verify_service.http.routing import messaging_configurations_api
from verify_service.http.templates import templates_api
from verify_service.http.webhooks import webhooks_api
from verify_service.http.wiring import EXTENSION_KEY, Components
from verify_service.settings import ConfigError, Settings

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 64 * 1024
CONTAINER_KEY = "verify_service.container"


ProviderMap = Mapping[Channel, Sequence[DeliveryProvider]]


@dataclass(frozen=True, slots=True)
class Container:
    """Every long-lived object of one process, built once."""

    settings: Settings
    redis: redis.Redis
    catalog: ServiceCatalog
    verifications: Verifications
    authenticator: Authenticator
    outbox: RedisDeliveryQueue
    verification_store: RedisVerificationStore
    clock: Clock
    providers: ProviderMap | None = None
    fallback: ChannelFallback | None = None
    protection: AbuseProtection | None = None
    fraud_guard: RedisFraudGuardStore | None = None
    rate_limits: RateLimitCatalog | None = None
    safe_list: SafeList | None = None
    api_keys: ApiKeys | None = None
    audit: AuditLog | None = None  # RedisAuditLog in build_container (docs/audit-log.md)
    attempts: Attempts | None = None  # the attempt history (/v2/Attempts)
    # Look-ups by destination by whoever sees destinations masked: audited and limited.
    lookups: DestinationLookups | None = None
    keyring: Keyring | None = None
    mfa: MfaUseCases | None = None  # entities, factors, challenges (docs/mfa.md)
    passkeys: Passkeys | None = None  # passkey factors and sign-ins (docs/mfa.md, "Passkeys")
    # Challenges created and answered: their own log (docs/audit-log.md, "Two logs").
    mfa_activity: AuditLog | None = None
    # Prometheus counters (VERIFY_METRICS_TOKEN set) or nothing (docs/operations.md).
    metrics: Metrics = NO_METRICS

    def queue_probes(self) -> list[QueueProbe]:
        """The queues whose backlog a scrape reads from Redis (`verify_outbox_*`)."""
        if self.event_outbox is None:
            return [self.outbox]
        return [self.outbox, self.event_outbox]

    # Webhook events (docs/webhooks.md): published by the use cases, sent by the worker.
    events: EventPublisher | None = None
    event_outbox: RedisEventOutbox | None = None
    expiries: RedisExpirySchedule | None = None
    # Webhooks (docs/webhooks.md): the resource's use cases, the read side event publishing
    # and delivery use (cached per process for at most a second), and the target check
    # (SSRF rules, DNS included) the sender runs again before each send.
    webhooks: Webhooks | None = None
    webhook_directory: CachedWebhookDirectory | None = None
    # A service's per-country routes (docs/messages.md, "Routing by country").
    messaging_configurations: MessagingConfigurations | None = None
    # The routes' providers by sid (built by the worker; None: built on first use).
    route_providers: Mapping[str, ProviderMap] | None = None
    webhook_targets: TargetResolver | None = None
    # Message templates (docs/messages.md, "Templates"): `/v2/Templates`.
    templates: Templates | None = None

    def audit_logs(self) -> dict[str, RedisAuditLog]:
        """The hash-chained logs by name (`audit`, `mfa-activity`), for reading and
        checking (`verify-service audit`, `GET /v2/Audit/Entries?Log=`)."""
        logs = {AUDIT_LOG: self.audit, MFA_ACTIVITY_LOG: self.mfa_activity}
        return {name: log for name, log in logs.items() if isinstance(log, RedisAuditLog)}

    def resealables(self) -> list[Resealable]:
        """Every kind of long-lived value a rotation must move to the primary key
        (`verify-service secrets`, docs/key-rotation.md). Staff users and sessions hold
        nothing keyed by the ring (argon2id password hashes, SHA-256 session ids)."""
        keyring = self.keyring or Keyring(self.settings.key_ring())
        found: list[Resealable] = []
        if self.api_keys is not None:
            found.append(self.api_keys)
        if self.safe_list is not None:
            found.append(self.safe_list)
        found.append(self.outbox)
        if self.event_outbox is not None:  # event deliveries (IncludeDestination's `to`)
            found.append(self.event_outbox)
        if self.expiries is not None:  # the tags of watched expiries
            found.append(self.expiries)
        found.append(
            AttemptHistorySeals(
                self.redis,
                ScriptBook(),
                HistoryKeys(self.settings.key_prefix),
                ring_cipher(keyring, "destination_encryption_key"),
            )
        )
        found.extend(self.audit_logs().values())
        found.append(
            FactorSecretSeals(
                self.redis,
                ScriptBook(),
                MfaKeys(self.settings.key_prefix),
                ring_cipher(keyring, "factor_secret_key"),
            )
        )
        return found

    def _receipt_url(self, provider: DeliveryProvider, attempt_sid: str) -> str | None:
        """Where `provider` posts the attempt's delivery receipt (needs VERIFY_PUBLIC_URL)."""
        return receipt_url(self.settings.public_url, provider, attempt_sid)

    def delivery_worker(
        self,
        consumer: str,
        policy: RetryPolicy | None = None,
        on_turn: Callable[[], None] | None = None,
    ) -> DeliveryWorker:
        """A worker over this container's outbox; providers are built on first use."""
        providers = self.providers or providers_by_channel(self.settings)
        return DeliveryWorker(
            queue=self.outbox,
            liveness=self.verification_store,
            providers=providers,
            clock=self.clock,
            policy=policy
            or RetryPolicy(
                tries_per_provider=self.settings.delivery_tries_per_provider,
                base_delay_ms=self.settings.delivery_backoff_ms,
                max_delay_ms=self.settings.delivery_max_backoff_ms,
                visibility_timeout_ms=self.settings.delivery_visibility_timeout_ms,
            ),
            consumer=consumer,
            callback_url=self._receipt_url,
            receipt_sender=receipt_sender,
            fallback=self.fallback,
            metrics=self.metrics,
            on_turn=on_turn,
            events=self.events,
            routes=self.route_providers
            or providers_by_route(self.settings.routes, self.settings.console_outbox),
            route_book=self.settings.route_book(),
        )

    def event_worker(
        self,
        consumer: str,
        policy: EventRetryPolicy | None = None,
        sender: EventSender | None = None,
        senders: int | None = None,
        backlog_cap: int = BACKLOG_CAP,
    ) -> EventDeliveryWorker:
        """The events loop over this container's event outbox (docs/webhooks.md). Sends
        re-check every target with the webhooks' resolver (the operator's allow-list)."""
        if self.event_outbox is None or self.events is None:
            raise RuntimeError("this container has no event outbox")
        settings = self.settings
        keyring = self.keyring or Keyring(settings.key_ring())
        return EventDeliveryWorker(
            outbox=self.event_outbox,
            directory=self.webhook_directory or NoWebhooks(),
            sender=sender or HttpEventSender(self.target_resolver()),
            signer=Signer(keyring.webhook_signing_token(), keyring.primary_id),
            clock=self.clock,
            policy=policy
            or EventRetryPolicy(
                max_tries=settings.event_tries,
                base_delay_ms=settings.event_backoff_ms,
                max_delay_ms=settings.event_max_backoff_ms,
                visibility_timeout_ms=settings.event_visibility_timeout_ms,
            ),
            consumer=consumer,
            account_sid=settings.account_sid,
            expiries=self.expiries,
            publisher=self.events,
            metrics=self.metrics,  # verify_verifications_expired_total
            senders=senders or settings.event_senders,
            backlog_cap=backlog_cap,
        )

    def target_resolver(self) -> TargetResolver:
        """The SSRF target rules at send time, with the operator's allow-list (the same
        resolver the Webhooks resource checks a URL with when it is saved)."""
        return self.webhook_targets or TargetResolver(self.settings.webhook_allowed_networks)

    # -- supervision (docs/operations.md, "Health and supervision") ---------------------

    def worker_heartbeats(self) -> RedisWorkerHeartbeats:
        """The workers' heartbeats in Redis (written by workers, read by `/readyz`)."""
        return RedisWorkerHeartbeats(
            self.redis, ScriptBook(), OutboxKeys(self.settings.key_prefix).worker_heartbeats
        )

    def delivery_health(self) -> DeliveryHealthCheck:
        """`/readyz`'s delivery section: live workers, outbox depth, oldest message age."""
        return DeliveryHealthCheck(
            self.worker_heartbeats(), self.outbox, self.settings.ready_max_outbox_age_seconds
        )


def ring_cipher(keyring: Keyring, purpose: str) -> DestinationCipher:
    """An AES-GCM cipher over every ring entry's `purpose` key, sealing under the primary."""
    return DestinationCipher(keyring.by_purpose(purpose), keyring.primary_id)


def build_container(
    settings: Settings,
    *,
    clock: Clock | None = None,
    providers: ProviderMap | None = None,
    redis_client: redis.Redis | None = None,
    webhook_targets: TargetResolver | None = None,
) -> Container:
    """Wire the use cases to their adapters (the app, the worker and the CLI share this).
    `webhook_targets` replaces the webhook URL check (its DNS look-ups) in tests."""
    client = redis_client or (
        embedded()
        if settings.embedded
        else connect(settings.redis_url or "", settings.redis_timeout_seconds)
    )
    clock = clock or SystemClock()
    keyring = Keyring(settings.key_ring())
    scripts = ScriptBook(
        ReplicaWait(settings.redis_wait_replicas, settings.redis_wait_timeout_ms)
        if settings.redis_wait_replicas
        else None
    )
    keys = KeySpace(settings.key_prefix)
    history = RedisAttemptHistory(
        client,
        scripts,
        keys,
        HistoryKeys(settings.key_prefix),
        ring_cipher(keyring, "destination_encryption_key"),
        settings.attempt_retention_days * DAY_MS,
    )
    outbox = RedisDeliveryQueue(
        client,
        scripts,
        OutboxKeys(settings.key_prefix),
        ring_cipher(keyring, "outbox_encryption_key"),
        # Attempts' delivery status lives in their attempt history records.
        history.records,
    )
    fallbacks = RedisFallbackSchedule(client, scripts, FallbackKeys(settings.key_prefix))
    # Webhook events: an outbox of their own (sharded like the delivery queue's), and the
    # expiry schedule (docs/webhooks.md, "Delivery").
    event_outbox = RedisEventOutbox(
        client,
        scripts,
        EventOutboxKeys(settings.key_prefix),
        ring_cipher(keyring, "outbox_encryption_key"),
    )
    expiries = RedisExpirySchedule(
        client,
        scripts,
        ExpiryKeys(settings.key_prefix),
        keys,
        ring_cipher(keyring, "destination_encryption_key"),  # a watch's tags, sealed
    )
    webhook_store = RedisWebhookStore(client, scripts, WebhookKeys(settings.key_prefix))
    webhook_directory = CachedWebhookDirectory(webhook_store, clock)
    events = EventPublisher(webhook_directory, event_outbox, settings.account_sid)
    fraud_guard = RedisFraudGuardStore(client, scripts, FraudGuardKeys(settings.key_prefix))
    limiter = LimitsRateLimiter(client, scripts, settings.key_prefix, clock)
    store = RedisVerificationStore(
        client,
        scripts,
        keys,
        ring_cipher(keyring, "destination_encryption_key"),
        outbox,
        fallbacks,
        fraud_guard,
        history=history,
        limiter=limiter,  # a check counts its per-destination limit with its reservation
        expiries=expiries,  # a creating start's expiry watch rides in its pipeline
    )
    metrics: Metrics = PrometheusMetrics() if settings.metrics_token else NO_METRICS
    protection = AbuseProtection(
        limiter,
        fraud_guard,
        keyring,
        settings.allow_test_destinations,
        events=events,
        metrics=metrics,  # verify_fraud_guard_trips_total
    )
    service_store = RedisServiceStore(client, scripts, keys)
    audit = RedisAuditLog(
        client,
        scripts,
        AuditKeys(settings.key_prefix),
        keyring.by_purpose("audit_chain_key"),
        settings.audit_max_entries,
    )
    mfa_activity = RedisAuditLog(
        client,
        scripts,
        AuditKeys(settings.key_prefix, MFA_ACTIVITY_LOG),
        keyring.by_purpose("mfa_activity_chain_key"),
        settings.mfa_activity_max_entries,
        kind="mfa activity log",
    )
    # A challenge's entry (in the MFA activity log) links against that log's head, read in
    # the challenge's own round trip.
    mfa_store = RedisMfaStore(
        client, scripts, MfaKeys(settings.key_prefix), audit_head=mfa_activity
    )
    passkey_store = RedisPasskeyStore(client, scripts, MfaKeys(settings.key_prefix))

    webhook_targets = webhook_targets or TargetResolver(settings.webhook_allowed_networks)
    webhooks = Webhooks(
        webhook_store, service_store, webhook_targets, clock, listener=webhook_directory
    )

    def delete_service_children(service_sid: str) -> None:  # MFA records, webhooks
        mfa_store.delete_service_entities(service_sid)
        passkey_store.delete_service(service_sid)  # its credential index
        webhooks.delete_service(service_sid)

    catalog = ServiceCatalog(
        service_store,
        clock,
        settings.allow_test_destinations,
        after_delete=delete_service_children,
        routes=settings.route_book(),
    )
    verifications = Verifications(
        store=store,
        hasher=Argon2CodeHasher(keyring, PROFILES[settings.argon2_profile]),
        keyring=keyring,
        clock=clock,
        protection=protection,
        metrics=metrics,
        events=events,
    )
    templates = _wire_templates(client, scripts, settings, clock, catalog, verifications)
    api_key_store = RedisApiKeyStore(client, scripts, ApiKeyKeys(settings.key_prefix))
    # The account credentials first (local, constant time); a key costs one Redis read.
    authenticator = Authenticator(
        [
            AccountCredentials(settings.account_sid, settings.auth_token),
            ApiKeyCredentials(api_key_store, keyring, settings.account_sid),
        ]
    )
    fallback = ChannelFallback(fallbacks, store, verifications, clock)
    rate_limits = RateLimitCatalog(RedisRateLimitStore(client, scripts, keys), clock)
    safe_list = SafeList(RedisSafeListStore(client, scripts, keys), keyring, clock)
    return Container(
        settings,
        client,
        catalog,
        verifications,
        authenticator,
        outbox,
        store,
        clock,
        providers,
        fallback,
        protection,
        fraud_guard,
        rate_limits=rate_limits,
        safe_list=safe_list,
        # No audit log here: HTTP key changes are audited by the audit hook (one entry per
        # call); the CLI, which has no hook, uses `api_keys.audited(audit)`.
        api_keys=ApiKeys(api_key_store, keyring, clock),
        audit=audit,
        attempts=Attempts(history, keyring, clock, settings.attempt_retention_days),
        lookups=DestinationLookups(
            limiter, Auditor(audit, clock), clock, settings.destination_lookups_per_hour
        ),
        keyring=keyring,
        mfa=MfaUseCases.build(
            mfa_store,
            service_store,
            ring_cipher(keyring, "factor_secret_key"),
            clock,
            Auditor(audit, clock),
            Auditor(mfa_activity, clock),
            events=events,
        ),
        passkeys=Passkeys(mfa_store, passkey_store, catalog, clock, events=events),
        mfa_activity=mfa_activity,
        metrics=metrics,
        events=events,
        event_outbox=event_outbox,
        expiries=expiries,
        webhooks=webhooks,
        webhook_directory=webhook_directory,
        webhook_targets=webhook_targets,
        messaging_configurations=MessagingConfigurations(
            service_store, clock, settings.route_book()
        ),
        templates=templates,
    )


def _wire_templates(
    client: redis.Redis,
    scripts: ScriptBook,
    settings: Settings,
    clock: Clock,
    catalog: ServiceCatalog,
    verifications: Verifications,
) -> Templates:
    """Template files (checked: a bad one stops start-up), the store, the cached directory
    a start reads, and the checks of `DefaultTemplateSid` and `TemplateSid`."""
    try:
        files = load_template_dir(settings.templates_dir)
    except TemplateFileError as exc:
        raise ConfigError(f"VERIFY_TEMPLATES_DIR: {exc}") from None
    store = RedisTemplateStore(client, scripts, TemplateKeys(settings.key_prefix))
    directory = TemplateDirectory(store, clock, files)
    templates = Templates(store, directory, clock)
    catalog.template_exists = templates.exists
    verifications.templates = TemplateChoice(directory)
    return templates


def build_staff_users(container: Container) -> StaffUsers:
    """The support console's users and sessions (the app and `verify-service user`)."""
    settings = container.settings
    scripts = ScriptBook()
    return StaffUsers(
        RedisStaffUserStore(container.redis, scripts, StaffKeys(settings.key_prefix)),
        Argon2PasswordHasher(),
        LimitsRateLimiter(container.redis, scripts, settings.key_prefix, container.clock),
        Keyring(settings.key_ring()),
        container.clock,
        SessionPolicy(
            idle_timeout_seconds=settings.console_idle_timeout_seconds,
            lifetime_seconds=settings.console_session_lifetime_seconds,
            max_failures=settings.console_max_login_failures,
        ),
    )


def build_console(container: Container, delivery: DeliveryAttempts) -> console.ConsoleComponents:
    """The support console (`/console`, docs/support-console.md)."""
    support = SupportConsole(
        container.catalog,
        container.verifications,
        delivery,
        container.clock,
        attempts=container.attempts,
        audit=container.audit,
        audit_trail=container.audit_logs().get(AUDIT_LOG),
        activity_trail=container.audit_logs().get(MFA_ACTIVITY_LOG),
        api_keys=container.api_keys,
        lookups=container.lookups,
        outcome_of=wire_outcome,
    )
    staff = build_staff_users(container)
    staff.prepare_sign_in()  # the decoy hash, at start-up: no sign-in pays for building it
    factors = None
    if container.mfa is not None:  # "I lost my phone": an identity's factors, delete one
        factors = FactorSupport(
            container.catalog,
            container.mfa.entities,
            container.mfa.factors,
            Auditor(container.audit, container.clock) if container.audit is not None else None,
            container.settings.account_sid,
            outcome_of=wire_outcome,
        )
    return console.ConsoleComponents(
        staff=staff,
        support=support,
        # Its own key per ring entry: seals a search into the page's forms.
        sealer=ring_cipher(Keyring(container.settings.key_ring()), "console_search_key"),
        secure_cookie=container.settings.console_secure_cookie,
        trusted_proxies=container.settings.trusted_proxies,
        time_zone=ZoneInfo(container.settings.console_time_zone),
        factors=factors,
    )


def _misconfiguration(settings: Settings, client: redis.Redis) -> Callable[[], str | None]:
    """`/readyz`'s check of Redis's fitness: a code only, since `/readyz` is not
    authenticated. The detail (host:port, policy) goes to the log, once each time it changes,
    not at every probe of a load balancer."""
    logged: list[str | None] = [None]  # the detail this process logged last

    def misconfiguration() -> str | None:
        if settings.embedded:
            return None
        try:
            unfit = readiness_problem(client, allow_eviction=settings.allow_redis_eviction)
        except UNAVAILABLE:
            raise health.NotReachable from None  # stopped answering during the check
        detail = unfit.detail if unfit is not None else None
        if detail is not None and detail != logged[0]:
            log.error("not ready: %s", detail)
        logged[0] = detail
        return unfit.code if unfit is not None else None

    return misconfiguration


def _init_operations(app: Flask, container: Container, ping: Callable[[], bool]) -> None:
    """`/healthz`, `/readyz` (with the delivery report) and the request ids on every answer
    and log line, 404s and errors too (http/request_ids.py; docs/operations.md)."""
    health.init_app(
        app,
        ping,
        _misconfiguration(container.settings, container.redis),
        container.delivery_health().report,
    )
    app.wsgi_app = RequestIds(app.wsgi_app)  # type: ignore[method-assign]


def _register_metrics(app: Flask, container: Container) -> None:
    """`/metrics` and the request counts (before every other request hook, so that a
    request's time includes its authentication)."""
    metrics = container.metrics
    scrape = (
        exposition(metrics, container.queue_probes(), container.clock)
        if isinstance(metrics, PrometheusMetrics)
        else None
    )
    metrics_api.init_app(app, metrics, scrape, container.settings.metrics_token)


def _register_audit(app: Flask, container: Container) -> None:
    """The audit hook, the MFA activity log's auditor and `GET /v2/Audit/Entries`."""
    audit_hooks.init_app(app, container.audit, container.clock)
    if container.mfa_activity is not None:
        app.extensions[audit_hooks.MFA_ACTIVITY_AUDITOR_KEY] = Auditor(
            container.mfa_activity, container.clock
        )
    if container.audit_logs():
        app.extensions[audit_api.AUDIT_TRAILS_KEY] = container.audit_logs()
        app.register_blueprint(audit_api.blueprint)


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    providers: ProviderMap | None = None,
    redis_client: redis.Redis | None = None,
    container: Container | None = None,
    webhook_targets: TargetResolver | None = None,
) -> Flask:
    """Build the app. `clock`, `providers` and `redis_client` replace the defaults in tests;
    the container is kept on the app (`app.extensions[CONTAINER_KEY]`) for the CLI and tests."""
    container = container or build_container(
        settings,
        clock=clock,
        providers=providers,
        redis_client=redis_client,
        webhook_targets=webhook_targets,
    )
    client, authenticator = container.redis, container.authenticator
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[EXTENSION_KEY] = Components(
        container.catalog,
        container.verifications,
        settings.public_url,
        rate_limits=container.rate_limits,
        safe_list=container.safe_list,
        email_senders=settings.email_senders,
    )
    app.extensions[CONTAINER_KEY] = container
    register_error_handlers(app, page_for=console.error_page)
    _register_metrics(app, container)

    @app.before_request
    def authenticate() -> Response | None:
        if request.endpoint in HEALTH_ENDPOINTS or request.endpoint == METRICS_ENDPOINT:
            return None  # /metrics checks its own bearer token (http/metrics/metrics_api.py)
        if request.endpoint in delivery_receipts_api.RECEIPT_ENDPOINTS:
            return None  # authenticated by the provider's signature instead
        if request.blueprint == console.BLUEPRINT_NAME or console.is_console_path(request.path):
            # The console authenticates by its own session (console/guard.py); a console
            # path without a route (`/console` → 308 to `/console/`, a typo → 404) gets the
            # console's page, never a Basic challenge (a browser would pop up a password box).
            return None
        return authenticate_request(authenticator)

    def ping() -> bool:
        try:
            return bool(client.ping())
        except UNAVAILABLE:
            return False

    @app.after_request
    def never_cache(response: Response) -> Response:
        # Answers carry personal data (masked numbers, statuses, sids, a key's secret once):
        # no browser, proxy or CDN may keep one. Errors and health checks included.
        response.headers["Cache-Control"] = "no-store"
        return response

    _init_operations(app, container, ping)
    app.register_blueprint(services_api.blueprint)
    app.register_blueprint(verifications_api.blueprint)
    app.register_blueprint(rate_limits_api.blueprint)
    app.register_blueprint(safe_list_api.blueprint)
    if container.api_keys is not None:
        app.extensions[keys_api.API_KEYS_KEY] = container.api_keys
        app.register_blueprint(keys_api.blueprint)
    app.extensions[delivery_attempts_api.DELIVERY_ATTEMPTS_KEY] = DeliveryAttempts(
        container.outbox,
        container.verifications,
        receipt_checkers(settings.receipt_providers_for),
        container.clock,
        container.fallback.receipt_failed if container.fallback is not None else None,
        events=container.events,
    )
    app.register_blueprint(delivery_attempts_api.blueprint)
    app.register_blueprint(delivery_receipts_api.blueprint)
    if container.lookups is not None:
        app.extensions[DESTINATION_LOOKUPS_KEY] = container.lookups
    if container.attempts is not None:
        app.extensions[attempts_api.ATTEMPTS_KEY] = container.attempts
        app.register_blueprint(attempts_api.blueprint)
    _register_audit(app, container)
    console.init_app(
        app,
        build_console(container, app.extensions[delivery_attempts_api.DELIVERY_ATTEMPTS_KEY]),
    )
    if container.mfa is not None:
        app.extensions[MFA_KEY] = MfaComponents(container.mfa, container.clock)
        app.register_blueprint(entities_api.blueprint)
        app.register_blueprint(factors_api.blueprint)
        app.register_blueprint(challenges_api.blueprint)
    if container.passkeys is not None:
        app.extensions[passkeys_api.PASSKEYS_KEY] = container.passkeys
        app.register_blueprint(passkeys_api.blueprint)
    _register_fraud_guard(app, container)
    _register_webhooks(app, container)
    _register_routing(app, container)
    _register_templates(app, container)
    return app


def _register_fraud_guard(app: Flask, container: Container) -> None:
    """`/v2/Services/{VA}/FraudGuard/Blocks` (extension), when Fraud Guard is on."""
    if container.fraud_guard is not None:
        app.extensions[fraud_guard_api.FRAUD_GUARD_KEY] = FraudGuardBlocks(
            container.fraud_guard, container.catalog, container.clock
        )
        app.register_blueprint(fraud_guard_api.blueprint)


def _register_routing(app: Flask, container: Container) -> None:
    """`/v2/Services/{VA}/MessagingConfigurations` (docs/messages.md, "Routing by country")."""
    if container.messaging_configurations is not None:
        app.extensions[messaging_configurations_api.MESSAGING_CONFIGURATIONS_KEY] = (
            container.messaging_configurations
        )
        app.register_blueprint(messaging_configurations_api.blueprint)


def _register_webhooks(app: Flask, container: Container) -> None:
    """`/v2/Services/{VA}/Webhooks` (docs/webhooks.md)."""
    if container.webhooks is not None:
        app.extensions[webhooks_api.WEBHOOKS_KEY] = container.webhooks
        app.register_blueprint(webhooks_api.blueprint)


def _register_templates(app: Flask, container: Container) -> None:
    """`/v2/Templates` (docs/messages.md, "Templates")."""
    if container.templates is not None:
        app.extensions[templates_api.TEMPLATES_KEY] = container.templates
        app.register_blueprint(templates_api.blueprint)
