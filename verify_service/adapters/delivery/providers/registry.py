"""From a `VERIFY_*_PROVIDERS` value to configs (at start) and from configs to providers.

A value is an ordered failover list: `dsn || dsn || ...`. Each kind declares the channels it
can serve; a DSN for any other channel is a configuration error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeAlias

from verify_service.adapters.delivery.providers.console import ConsoleConfig, ConsoleProvider
from verify_service.adapters.delivery.providers.dsn import ProviderConfigError, parse_dsn
from verify_service.adapters.delivery.providers.smtp import SmtpConfig, SmtpProvider
from verify_service.adapters.delivery.providers.twilio import TwilioConfig, TwilioProvider
from verify_service.adapters.delivery.providers.vonage import VonageConfig, VonageProvider
from verify_service.adapters.delivery.providers.webhook import WebhookConfig, WebhookProvider
from verify_service.domain.delivery.delivery import DeliveryReceipt, DeliveryRequest
from verify_service.domain.models import Channel

FAILOVER_SEPARATOR = "||"
DEFAULT_PROVIDERS = "console://"

ProviderConfig: TypeAlias = ConsoleConfig | SmtpConfig | TwilioConfig | VonageConfig | WebhookConfig
ConfigClass: TypeAlias = (
    type[ConsoleConfig]
    | type[SmtpConfig]
    | type[TwilioConfig]
    | type[VonageConfig]
    | type[WebhookConfig]
)

# The scheme's part before any `+transport`.
KINDS: dict[str, ConfigClass] = {
    "console": ConsoleConfig,
    "smtp": SmtpConfig,
    "smtps": SmtpConfig,
    "twilio": TwilioConfig,
    "vonage": VonageConfig,
    "webhook": WebhookConfig,
}


def parse_provider_list(channel: Channel, value: str) -> tuple[ProviderConfig, ...]:
    """Parse `dsn || dsn ...` for one channel, in failover order.

    Raises `ProviderConfigError` naming the entry (1-based) and the problem, never a secret.
    """
    configs: list[ProviderConfig] = []
    for position, entry in enumerate(value.split(FAILOVER_SEPARATOR), start=1):
        try:
            configs.append(_parse_entry(channel, entry))
        except ProviderConfigError as exc:
            raise ProviderConfigError(f"entry {position}: {exc}") from None
    return tuple(configs)


def _parse_entry(channel: Channel, entry: str) -> ProviderConfig:
    dsn = parse_dsn(entry)
    config_class = KINDS.get(dsn.kind)
    if config_class is None:
        known = ", ".join(f"{kind}://" for kind in KINDS)
        raise ProviderConfigError(f"unknown provider kind {dsn.kind!r} (known: {known})")
    try:
        config = config_class.from_dsn(dsn)
    except ProviderConfigError as exc:
        raise ProviderConfigError(f"{dsn.kind}:// {exc}") from None
    _check_channel(config, channel)
    return config


def _check_channel(config: ProviderConfig, channel: Channel) -> None:
    if channel not in config.CHANNELS:
        served = ", ".join(sorted(c.value for c in config.CHANNELS))
        raise ProviderConfigError(
            f"{config.KIND}:// cannot deliver {channel.value} messages (it serves {served})"
        )


class ManagedProvider(Protocol):
    """A `DeliveryProvider` (the application's port) that also holds connections to close."""

    @property
    def name(self) -> str: ...

    def deliver(self, request: DeliveryRequest) -> DeliveryReceipt: ...

    def close(self) -> None:
        """Release pooled connections; call once, when no delivery is running."""
        ...


def build_providers(
    channel: Channel,
    configs: Sequence[ProviderConfig],
    *,
    console_outbox: str | None = None,
) -> list[ManagedProvider]:
    """One provider per config, in failover order. Call each one's `close()` when done.

    `console_outbox` is `Settings.console_outbox` (None: standard output). Raises
    `ProviderConfigError` for an empty list or a config whose kind cannot serve `channel`.
    """
    if not configs:
        raise ProviderConfigError(f"no provider for {channel.value} messages")
    providers: list[ManagedProvider] = []
    for position, config in enumerate(configs, start=1):
        try:
            _check_channel(config, channel)
        except ProviderConfigError as exc:
            raise ProviderConfigError(f"entry {position}: {exc}") from None
        providers.append(_build(config, console_outbox))
    return providers


class ProviderSettings(Protocol):
    """What `providers_by_channel` reads (`Settings` has it): configuration depends on this
    module, never the other way round."""

    @property
    def console_outbox(self) -> str | None: ...

    def providers_for(self, channel: Channel) -> Sequence[ProviderConfig]: ...


def providers_by_channel(settings: ProviderSettings) -> dict[Channel, list[ManagedProvider]]:
    """Every channel's failover list from the settings, ready for the delivery worker."""
    return {
        channel: build_providers(
            channel, settings.providers_for(channel), console_outbox=settings.console_outbox
        )
        for channel in Channel
    }


def close_providers(providers: dict[Channel, list[ManagedProvider]]) -> None:
    for channel_providers in providers.values():
        for provider in channel_providers:
            provider.close()


def _build(config: ProviderConfig, console_outbox: str | None) -> ManagedProvider:
    match config:
        case ConsoleConfig():
            return ConsoleProvider(console_outbox)
        case SmtpConfig():
            return SmtpProvider(config)
        case TwilioConfig():
            return TwilioProvider(config)
        case VonageConfig():
            return VonageProvider(config)
        case WebhookConfig():
            return WebhookProvider(config)
