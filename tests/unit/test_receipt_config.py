"""Receipt configuration: the vonage:// signature options and the callback URLs."""

from __future__ import annotations

import pytest

from tests.support.fakes import RecordingSender
from verify_service.adapters.delivery.providers.dsn import ProviderConfigError
from verify_service.adapters.delivery.providers.registry import build_providers, parse_provider_list
from verify_service.adapters.delivery.providers.vonage import VonageConfig
from verify_service.adapters.delivery.receipts import (
    NO_RECEIPTS,
    receipt_sender,
    receipt_url,
    sender_of_config,
)
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


def _sender(channel: Channel, dsn: str) -> str | None:
    (config,) = parse_provider_list(channel, dsn)
    return sender_of_config(config)


SID_A, SID_B = "AC" + "a" * 32, "AC" + "b" * 32


def test_the_receipt_sender_names_the_account_never_its_secret() -> None:
    """One account (any token, any sender): one fingerprint; another account SID, API key,
    base URL or gateway URL: another. It holds no part of the credentials."""
    twilio = _sender(Channel.SMS, f"twilio://{SID_A}:token-one@default?from=+15005550006")
    assert twilio is not None
    assert len(twilio) == 16
    assert SID_A[2:] not in twilio
    assert twilio == _sender(Channel.SMS, f"twilio://{SID_A}:token-two@default?from=+15005550001")
    assert twilio == _sender(Channel.CALL, f"twilio://{SID_A}:t@default?from=+15005550006")
    others = {
        _sender(Channel.SMS, f"twilio://{SID_B}:token-one@default?from=+15005550006"),
        _sender(Channel.SMS, f"twilio+http://{SID_A}:token-one@127.0.0.1:9?from=+15005550006"),
        _sender(Channel.SMS, "vonage://key1:s@default?from=Acme"),
        _sender(Channel.SMS, "vonage://key2:s@default?from=Acme"),
        _sender(Channel.SMS, "webhook+https://gw.example/a?secret=0123456789abcdef"),
        _sender(Channel.SMS, "webhook+https://gw.example/b?secret=0123456789abcdef"),
    }
    assert None not in others
    assert twilio not in others
    assert len(others) == 6
    assert _sender(Channel.SMS, "webhook+https://gw.example/a?secret=fedcba9876543210") in others
    assert _sender(Channel.SMS, "console://") is None


def test_a_provider_without_receipts_records_a_sender_no_config_has() -> None:
    (console,) = build_providers(Channel.SMS, parse_provider_list(Channel.SMS, "console://"))
    assert receipt_sender(console) == NO_RECEIPTS
    assert receipt_sender(RecordingSender()) == NO_RECEIPTS
    (config,) = parse_provider_list(Channel.SMS, f"twilio://{SID_A}:t@default?from=+15005550006")
    (twilio,) = build_providers(Channel.SMS, (config,))
    try:
        assert receipt_sender(twilio) == sender_of_config(config) != NO_RECEIPTS
    finally:
        twilio.close()
        console.close()
