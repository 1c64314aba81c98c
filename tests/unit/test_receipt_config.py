"""Receipt configuration: the vonage:// signature options and the callback URLs."""

from __future__ import annotations

import pytest

from tests.support.fakes import RecordingSender
from verify_service.adapters.delivery.providers.dsn import ProviderConfigError
from verify_service.adapters.delivery.providers.registry import build_providers, parse_provider_list
from verify_service.adapters.delivery.providers.vonage import VonageConfig
from verify_service.adapters.delivery.receipts import receipt_url
from verify_service.domain.models import Channel

VL = "VL" + "ab" * 16


def test_vonage_dsn_takes_a_signature_secret_and_method() -> None:
    (config,) = parse_provider_list(
        Channel.SMS,
        "vonage://k:s@default?from=Acme&signature_secret=sig%26secret&signature_method=md5hash",
    )
    assert isinstance(config, VonageConfig)
    assert (config.signature_secret, config.signature_method) == ("sig&secret", "md5hash")
    assert "sig&secret" not in repr(config)
    (plain,) = parse_provider_list(Channel.SMS, "vonage://k:s@default?from=Acme")
    assert isinstance(plain, VonageConfig)
    assert (plain.signature_secret, plain.signature_method) == (None, "sha256")


def test_an_unknown_vonage_signature_method_is_a_configuration_error() -> None:
    with pytest.raises(ProviderConfigError, match="signature_method= must be one of"):
        parse_provider_list(
            Channel.SMS, "vonage://k:s@default?from=A&signature_secret=x&signature_method=crc32"
        )


@pytest.mark.parametrize(
    ("dsn", "kind"),
    [
        ("twilio://AC" + "0" * 32 + ":t@default?from=+15005550006", "Twilio"),
        ("vonage://k:s@default?from=Acme", "Vonage"),
        ("webhook+https://gw.example.com/send?secret=0123456789abcdef", "Webhook"),
    ],
)
def test_receipt_urls_name_the_kind_and_the_attempt(dsn: str, kind: str) -> None:
    (provider,) = build_providers(Channel.SMS, parse_provider_list(Channel.SMS, dsn))
    try:
        assert receipt_url("https://v.example", provider, VL) == (
            f"https://v.example/v2/DeliveryReceipts/{kind}/{VL}"
        )
        assert receipt_url(None, provider, VL) is None  # receipts need VERIFY_PUBLIC_URL
    finally:
        provider.close()


def test_providers_without_receipts_get_no_callback_url() -> None:
    (console,) = build_providers(Channel.SMS, parse_provider_list(Channel.SMS, "console://"))
    assert receipt_url("https://v.example", console, VL) is None
    assert receipt_url("https://v.example", RecordingSender(), VL) is None
