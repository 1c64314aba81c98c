"""The composition root: `create_app(settings)` builds every dependency, connects nothing
at import time, and is the one place that knows the concrete adapters."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import redis
from flask import Flask, Response, request

from verify_service.adapters.argon2_hasher import PROFILES, Argon2CodeHasher
from verify_service.adapters.clock import SystemClock
from verify_service.adapters.delivery.receipts import receipt_checkers, receipt_url
from verify_service.adapters.delivery.registry import providers_by_channel
from verify_service.adapters.destination_cipher import DestinationCipher
from verify_service.adapters.redis_connection import connect, embedded
from verify_service.adapters.redis_store import RedisServiceStore, RedisVerificationStore
from verify_service.adapters.redis_store.delivery_queue import RedisDeliveryQueue
from verify_service.adapters.redis_store.errors import UNAVAILABLE
from verify_service.adapters.redis_store.fallback_schedule import RedisFallbackSchedule
from verify_service.adapters.redis_store.fraud_guard_store import RedisFraudGuardStore
from verify_service.adapters.redis_store.keys import (
    FallbackKeys,
    FraudGuardKeys,
    KeySpace,
    OutboxKeys,
)
from verify_service.adapters.redis_store.rate_limit_store import RedisRateLimitStore
from verify_service.adapters.redis_store.rate_limiter import LimitsRateLimiter
from verify_service.adapters.redis_store.safe_list_store import RedisSafeListStore
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.application.abuse_protection import AbuseProtection
from verify_service.application.access import AccountCredentials, Authenticator
from verify_service.application.channel_fallback import ChannelFallback
from verify_service.application.delivery_receipts import DeliveryAttempts
from verify_service.application.delivery_worker import DeliveryWorker, RetryPolicy
from verify_service.application.fraud_guard_blocks import FraudGuardBlocks
from verify_service.application.ports import Clock, DeliveryProvider
from verify_service.application.rate_limit_catalog import RateLimitCatalog
from verify_service.application.safe_list import SafeList
from verify_service.application.service_catalog import ServiceCatalog
from verify_service.application.verifications import Verifications
from verify_service.domain.keyring import Keyring
from verify_service.domain.models import Channel
from verify_service.http import (
    delivery_attempts_api,
    delivery_receipts_api,
    fraud_guard_api,
    health,
    rate_limits_api,
    safe_list_api,
    services_api,
    verifications_api,
)
from verify_service.http.auth import authenticate_request
from verify_service.http.error_codes import register_error_handlers
from verify_service.http.health import HEALTH_ENDPOINTS
from verify_service.http.wiring import EXTENSION_KEY, Components
from verify_service.settings import Settings

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 64 * 1024
CONTAINER_KEY = "verify_service.container"


ProviderMap = Mapping[Channel, Sequence[DeliveryProvider]]
# Delivery attempts' status records outlive their verification, for support and receipts.
ATTEMPT_STATUS_TTL_MS = 24 * 3600 * 1000


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

    def _receipt_url(self, provider: DeliveryProvider, attempt_sid: str) -> str | None:
        """Where `provider` posts the attempt's delivery receipt (needs VERIFY_PUBLIC_URL)."""
        return receipt_url(self.settings.public_url, provider, attempt_sid)

    def delivery_worker(self, consumer: str, policy: RetryPolicy | None = None) -> DeliveryWorker:
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
            fallback=self.fallback,
        )


def build_container(
    settings: Settings,
    *,
    clock: Clock | None = None,
    providers: ProviderMap | None = None,
    redis_client: redis.Redis | None = None,
) -> Container:
    """Wire the use cases to their adapters (the app, the worker and the CLI share this)."""
    client = redis_client or (
        embedded()
        if settings.embedded
        else connect(settings.redis_url or "", settings.redis_timeout_seconds)
    )
    clock = clock or SystemClock()
    keyring = Keyring.from_secret(settings.secret_key)
    scripts = ScriptBook()
    keys = KeySpace(settings.key_prefix)
    outbox = RedisDeliveryQueue(
        client,
        scripts,
        OutboxKeys(settings.key_prefix),
        DestinationCipher(keyring.outbox_encryption_key),
        ATTEMPT_STATUS_TTL_MS,
    )
    fallbacks = RedisFallbackSchedule(client, scripts, FallbackKeys(settings.key_prefix))
    fraud_guard = RedisFraudGuardStore(client, scripts, FraudGuardKeys(settings.key_prefix))
    store = RedisVerificationStore(
        client,
        scripts,
        keys,
        DestinationCipher(keyring.destination_encryption_key),
        outbox,
        fallbacks,
        fraud_guard,
    )
    protection = AbuseProtection(
        LimitsRateLimiter(client, scripts, settings.key_prefix, clock),
        fraud_guard,
        keyring,
        settings.allow_test_destinations,
    )
    catalog = ServiceCatalog(
        RedisServiceStore(client, scripts, keys), clock, settings.allow_test_destinations
    )
    verifications = Verifications(
        store=store,
        hasher=Argon2CodeHasher(keyring, PROFILES[settings.argon2_profile]),
        keyring=keyring,
        clock=clock,
        protection=protection,
    )
    authenticator = Authenticator([AccountCredentials(settings.account_sid, settings.auth_token)])
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
    )


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    providers: ProviderMap | None = None,
    redis_client: redis.Redis | None = None,
    container: Container | None = None,
) -> Flask:
    """Build the app. `clock`, `providers` and `redis_client` replace the defaults in tests;
    the container is kept on the app (`app.extensions[CONTAINER_KEY]`) for the CLI and tests."""
    container = container or build_container(
        settings, clock=clock, providers=providers, redis_client=redis_client
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
    )
    app.extensions[CONTAINER_KEY] = container
    register_error_handlers(app)

    @app.before_request
    def authenticate() -> Response | None:
        if request.endpoint in HEALTH_ENDPOINTS:
            return None
        if request.endpoint in delivery_receipts_api.RECEIPT_ENDPOINTS:
            return None  # authenticated by the provider's signature instead
        return authenticate_request(authenticator)

    def ping() -> bool:
        try:
            return bool(client.ping())
        except UNAVAILABLE:
            return False

    health.init_app(app, ping)
    app.register_blueprint(services_api.blueprint)
    app.register_blueprint(verifications_api.blueprint)
    app.register_blueprint(rate_limits_api.blueprint)
    app.register_blueprint(safe_list_api.blueprint)
    app.extensions[delivery_attempts_api.DELIVERY_ATTEMPTS_KEY] = DeliveryAttempts(
        container.outbox,
        container.verifications,
        receipt_checkers(settings.providers_for),
        container.clock,
        container.fallback.receipt_failed if container.fallback is not None else None,
    )
    app.register_blueprint(delivery_attempts_api.blueprint)
    app.register_blueprint(delivery_receipts_api.blueprint)
    if container.fraud_guard is not None:
        app.extensions[fraud_guard_api.FRAUD_GUARD_KEY] = FraudGuardBlocks(
            container.fraud_guard, container.catalog, container.clock
        )
        app.register_blueprint(fraud_guard_api.blueprint)
    return app
