"""Provider DSNs: `VERIFY_*_PROVIDERS` failover lists, parsed at start, secrets never echoed."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from verify_service.adapters.delivery.providers.console import ConsoleConfig
from verify_service.adapters.delivery.providers.dsn import ProviderConfigError
from verify_service.adapters.delivery.providers.registry import (
    build_providers,
    close_providers,
    parse_provider_list,
    providers_by_channel,
)
from verify_service.adapters.delivery.providers.smtp import SmtpConfig
from verify_service.adapters.delivery.providers.twilio import TWILIO_API_URL, TwilioConfig
from verify_service.adapters.delivery.providers.vonage import VONAGE_API_URL, VonageConfig, is_gsm7
from verify_service.adapters.delivery.providers.webhook import (
    WebhookConfig,
    verify_webhook_signature,
    webhook_signature,
)
from verify_service.domain.models import Channel
from verify_service.settings import PROVIDER_VARIABLES, ConfigError, Settings

USER = "AC" + "5e1f" * 8  # a user part: must never be echoed either
SECRET = "s3cr3t-Token-9f8e7d6c"
TWILIO = f"twilio://{USER}:{SECRET}@default?from=+14155550100"
WEBHOOK_SECRET = "whsec-" + "7a" * 12


def providers(channel: Channel, value: str) -> tuple[object, ...]:
    variable = PROVIDER_VARIABLES[channel]
    return Settings.from_env({variable: value}).providers_for(channel)


# -- what parses --------------------------------------------------------------------------


def test_every_channel_defaults_to_the_console() -> None:
    """Unset or empty variables mean `console://`, the development outbox."""
    settings = Settings.from_env({"VERIFY_SMS_PROVIDERS": ""})
    for channel in Channel:
        assert settings.providers_for(channel) == (ConsoleConfig(),)
    assert Settings.from_env({}).whatsapp_providers == (ConsoleConfig(),)


def test_twilio_dsn_keeps_account_token_sender_and_default_host() -> None:
    """`default` is Twilio's public API; `+` in from= stays a plus."""
    (config,) = providers(Channel.SMS, TWILIO)
    assert config == TwilioConfig(
        account_sid=USER, auth_token=SECRET, sender="+14155550100", base_url=TWILIO_API_URL
    )


def test_twilio_dsn_may_point_at_a_loopback_stand_in_over_http() -> None:
    """`twilio+http://` is for a local stand-in; any other host replaces api.twilio.com."""
    (local,) = providers(
        Channel.CALL, f"twilio+http://{USER}:{SECRET}@127.0.0.1:8081?from=+1415&timeout=0.5"
    )
    assert isinstance(local, TwilioConfig)
    assert local.base_url == "http://127.0.0.1:8081"
    assert local.timeout_seconds == 0.5
    (regional,) = providers(
        Channel.SMS, f"twilio://{USER}:{SECRET}@api.dublin.ie1.twilio.com?from=X"
    )
    assert isinstance(regional, TwilioConfig)
    assert regional.base_url == "https://api.dublin.ie1.twilio.com"


@pytest.mark.parametrize("host", ["localhost", "127.0.0.9", "[::1]"])
def test_every_loopback_host_may_use_plain_http(host: str) -> None:
    """127.0.0.0/8, ::1 and localhost count as loopback."""
    (config,) = providers(Channel.SMS, f"vonage+http://key:{SECRET}@{host}:9000?from=Acme")
    assert isinstance(config, VonageConfig)
    assert config.base_url == f"http://{host}:9000"


def test_vonage_dsn_keeps_key_secret_and_sender() -> None:
    """Percent-encoded characters in the secret are decoded."""
    (config,) = providers(Channel.SMS, "vonage://abcd1234:p%40ss%2Fword@default?from=Acme")
    assert config == VonageConfig(
        api_key="abcd1234", api_secret="p@ss/word", sender="Acme", base_url=VONAGE_API_URL
    )


def test_smtp_dsn_keeps_relay_sender_and_starttls() -> None:
    """starttls=true on smtp:// defaults the port to 587 (submission)."""
    value = (
        f"smtp://mailer:{SECRET}@mail.example.com?from=otp@example.com"
        "&from_name=Acme%20Security&starttls=true"
    )
    (config,) = providers(Channel.EMAIL, value)
    assert config == SmtpConfig(
        host="mail.example.com",
        port=587,
        sender="otp@example.com",
        sender_name="Acme Security",
        starttls=True,
        username="mailer",
        password=SECRET,
    )


def test_smtp_sender_domain_is_kept_in_its_idna_form() -> None:
    """An internationalized sender domain is stored as plain SMTP carries it."""
    (config,) = providers(Channel.EMAIL, "smtp://h?from=otp@b%C3%BCcher.example")
    assert isinstance(config, SmtpConfig)
    assert config.sender == "otp@xn--bcher-kva.example"


def test_smtps_dsn_uses_implicit_tls_on_465() -> None:
    """smtps:// is TLS from the first byte (RFC 8314); credentials are optional."""
    (config,) = providers(Channel.EMAIL, "smtps://mail.example.com?from=otp@example.com")
    assert isinstance(config, SmtpConfig)
    assert (config.implicit_tls, config.port, config.username) == (True, 465, None)


def test_webhook_dsn_keeps_url_without_the_secret() -> None:
    """The secret option signs; it is not part of the URL the gateway receives."""
    value = f"webhook+https://gw.example.com:8443/otp/send?secret={WEBHOOK_SECRET}&timeout=3"
    (config,) = providers(Channel.WHATSAPP, value)
    assert config == WebhookConfig(
        url="https://gw.example.com:8443/otp/send", secret=WEBHOOK_SECRET, timeout_seconds=3.0
    )


def test_failover_list_keeps_its_order() -> None:
    """`||` separates entries; spaces around it are ignored."""
    value = (
        f"{TWILIO}  ||vonage://k:{SECRET}@default?from=Acme || "
        f"webhook+https://gw.example.com/sms?secret={WEBHOOK_SECRET}||console://"
    )
    configs = providers(Channel.SMS, value)
    kinds = [type(config) for config in configs]
    assert kinds == [TwilioConfig, VonageConfig, WebhookConfig, ConsoleConfig]


def test_each_channel_reads_its_own_variable() -> None:
    """SMS, call, email and WhatsApp each have their list."""
    settings = Settings.from_env(
        {
            "VERIFY_SMS_PROVIDERS": TWILIO,
            "VERIFY_CALL_PROVIDERS": TWILIO,
            "VERIFY_EMAIL_PROVIDERS": "smtp://127.0.0.1:2525?from=otp@example.com",
            "VERIFY_WHATSAPP_PROVIDERS": f"console:// || {TWILIO}",
        }
    )
    assert isinstance(settings.sms_providers[0], TwilioConfig)
    assert isinstance(settings.call_providers[0], TwilioConfig)
    assert isinstance(settings.email_providers[0], SmtpConfig)
    assert [type(c) for c in settings.whatsapp_providers] == [ConsoleConfig, TwilioConfig]


def test_config_reprs_hold_no_secret() -> None:
    """Configs end up in tracebacks and debug output: tokens and secrets stay out."""
    configs = providers(
        Channel.SMS,
        f"{TWILIO} || vonage://k:{SECRET}@default?from=A"
        f" || webhook+https://gw.example.com/?secret={WEBHOOK_SECRET}",
    )
    email = providers(Channel.EMAIL, f"smtps://u:{SECRET}@mail.example.com?from=a@example.com")
    text = repr(configs) + repr(email)
    assert SECRET not in text
    assert WEBHOOK_SECRET not in text
    assert USER not in text


# -- what does not ------------------------------------------------------------------------

MALFORMED = [
    ("VERIFY_SMS_PROVIDERS", f"sendgrid://{USER}:{SECRET}@default", "unknown provider kind"),
    ("VERIFY_SMS_PROVIDERS", f"twilio://{USER}:{SECRET}@default", "needs a from= option"),
    ("VERIFY_SMS_PROVIDERS", f"twilio://{USER}:{SECRET}@default?from=", "needs a from= option"),
    ("VERIFY_SMS_PROVIDERS", f"twilio://{USER}@default?from=+1415", "user:password"),
    ("VERIFY_SMS_PROVIDERS", f"twilio://XY{SECRET}:{SECRET}@default?from=1", "account SID"),
    ("VERIFY_SMS_PROVIDERS", f"{TWILIO}&form=+1", "unknown option 'form'"),
    ("VERIFY_SMS_PROVIDERS", f"{TWILIO}&from=+2", "given twice"),
    ("VERIFY_SMS_PROVIDERS", f"{TWILIO}&timeout=0", "timeout="),
    ("VERIFY_SMS_PROVIDERS", f"{TWILIO}&timeout=soon", "timeout="),
    ("VERIFY_SMS_PROVIDERS", f"twilio://{USER}:{SECRET}@default:8080?from=1", "default"),
    ("VERIFY_SMS_PROVIDERS", f"twilio://{USER}:{SECRET}@host/path?from=1", "no path"),
    ("VERIFY_SMS_PROVIDERS", f"twilio://{USER}:{SECRET}@host:99999?from=1", "host or port"),
    ("VERIFY_SMS_PROVIDERS", f"twilio+http://{USER}:{SECRET}@api.twilio.com?from=1", "loopback"),
    ("VERIFY_SMS_PROVIDERS", f"vonage+http://key:{SECRET}@10.0.0.7?from=A", "loopback"),
    ("VERIFY_SMS_PROVIDERS", f"vonage+ftp://key:{SECRET}@default?from=A", "transport"),
    ("VERIFY_SMS_PROVIDERS", f"twilio {USER}:{SECRET}", "not a DSN"),
    ("VERIFY_SMS_PROVIDERS", "console:// || ", "entry 2: is empty"),
    ("VERIFY_SMS_PROVIDERS", f"|| {TWILIO}", "entry 1: is empty"),
    ("VERIFY_SMS_PROVIDERS", f"{TWILIO} |||| console://", "entry 2: is empty"),
    ("VERIFY_SMS_PROVIDERS", f"console://{USER}:{SECRET}@host", "takes no host"),
    ("VERIFY_EMAIL_PROVIDERS", TWILIO, "cannot deliver email"),
    ("VERIFY_CALL_PROVIDERS", f"vonage://k:{SECRET}@default?from=A", "cannot deliver call"),
    ("VERIFY_WHATSAPP_PROVIDERS", f"vonage://k:{SECRET}@default?from=A", "cannot deliver"),
    ("VERIFY_SMS_PROVIDERS", "smtp://mail.example.com?from=a@example.com", "cannot deliver sms"),
    ("VERIFY_EMAIL_PROVIDERS", f"smtp://u:{SECRET}@mail.example.com?from=a@b.c", "over TLS"),
    ("VERIFY_EMAIL_PROVIDERS", f"smtp://{USER}@mail.example.com?from=a@b.c", "both user"),
    ("VERIFY_EMAIL_PROVIDERS", "smtp://mail.example.com", "needs a from= option"),
    ("VERIFY_EMAIL_PROVIDERS", "smtp://mail.example.com?from=not-an-address", "e-mail address"),
    ("VERIFY_EMAIL_PROVIDERS", "smtp://mail.example.com?from=a@b.c&starttls=maybe", "true or"),
    ("VERIFY_EMAIL_PROVIDERS", "smtps://mail.example.com?from=a@b.c&starttls=true", "already"),
    ("VERIFY_EMAIL_PROVIDERS", "smtp://?from=a@b.c", "needs a host"),
    ("VERIFY_EMAIL_PROVIDERS", "smtp://h?from=a@b.c&from_name=A%0D%0ABcc:x", "control char"),
    ("VERIFY_EMAIL_PROVIDERS", "smtp://h?from=j%C3%BCrgen@b.example", "e-mail address"),
    ("VERIFY_SMS_PROVIDERS", f"webhook://gw.example.com/?secret={SECRET}", "webhook+https"),
    ("VERIFY_SMS_PROVIDERS", f"webhook+http://gw.example.com/?secret={SECRET}", "loopback"),
    ("VERIFY_SMS_PROVIDERS", "webhook+https://gw.example.com/?secret=short", "16 characters"),
    ("VERIFY_SMS_PROVIDERS", "webhook+https://gw.example.com/hook", "needs a secret="),
    ("VERIFY_SMS_PROVIDERS", f"webhook+https://{USER}:{SECRET}@gw.example.com/", "no user"),
    ("VERIFY_SMS_PROVIDERS", f"webhook+https://gw.example.com/?secret={SECRET}#x", "fragment"),
]


@pytest.mark.parametrize(("variable", "value", "problem"), MALFORMED)
def test_malformed_dsn_is_a_config_error_naming_variable_and_problem(
    variable: str, value: str, problem: str
) -> None:
    """Start-up stops with the variable and the problem, never the credentials."""
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({variable: value})
    message = str(raised.value)
    assert message.startswith(f"{variable} entry ")
    assert problem in message
    assert SECRET not in message
    assert USER not in message
    assert raised.value.__cause__ is None  # no chained exception carrying the value either


def test_build_providers_follows_the_list_and_names_hold_no_secret() -> None:
    """One provider per entry, in order; names say where, never with what credentials."""
    value = (
        f"{TWILIO} || vonage+http://k:{SECRET}@127.0.0.1:9?from=A"
        f" || webhook+https://gw.example.com/path/tok?secret={WEBHOOK_SECRET} || console://"
    )
    built = build_providers(Channel.SMS, parse_provider_list(Channel.SMS, value))
    try:
        names = [provider.name for provider in built]
    finally:
        for provider in built:
            provider.close()
    assert names == [
        "twilio",
        "vonage+http://127.0.0.1:9",
        "webhook+https://gw.example.com",
        "console",
    ]


def test_providers_by_channel_builds_every_list_from_settings() -> None:
    """What the delivery worker is given: each channel's providers, in failover order."""
    settings = Settings.from_env(
        {"VERIFY_SMS_PROVIDERS": f"{TWILIO} || console://", "VERIFY_CONSOLE_OUTBOX": "-"}
    )
    built = providers_by_channel(settings)
    try:
        assert [p.name for p in built[Channel.SMS]] == ["twilio", "console"]
        assert [p.name for p in built[Channel.EMAIL]] == ["console"]
        assert set(built) == set(Channel)
    finally:
        close_providers(built)


def test_build_providers_refuses_a_config_for_another_channel() -> None:
    """A Vonage config cannot become a voice provider, even when built by hand."""
    configs = parse_provider_list(Channel.SMS, f"vonage://k:{SECRET}@default?from=A")
    with pytest.raises(ProviderConfigError, match="entry 1: vonage:// cannot deliver call"):
        build_providers(Channel.CALL, configs)
    with pytest.raises(ProviderConfigError, match="no provider"):
        build_providers(Channel.SMS, ())


# -- the webhook signature and the SMS alphabet -------------------------------------------


def test_webhook_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    """The documented scheme, recomputed with the standard library."""
    body = b'{"to":"+14155552671"}'
    expected = hmac.new(WEBHOOK_SECRET.encode(), b"1790000000." + body, hashlib.sha256)
    assert webhook_signature(WEBHOOK_SECRET, "1790000000", body) == "sha256=" + expected.hexdigest()


def test_webhook_signature_check_refuses_tampering_other_keys_and_old_requests() -> None:
    """Verification accepts the signed body once fresh, nothing else."""
    body = b'{"channel":"sms"}'
    signature = webhook_signature(WEBHOOK_SECRET, "1790000000", body)

    def check(timestamp: str, payload: bytes, secret: str, now: float) -> bool:
        return verify_webhook_signature(secret, timestamp, payload, signature, now_seconds=now)

    assert check("1790000000", body, WEBHOOK_SECRET, 1_790_000_100)
    assert not check("1790000000", body + b" ", WEBHOOK_SECRET, 1_790_000_100)
    assert not check("1790000001", body, WEBHOOK_SECRET, 1_790_000_100)
    assert not check("1790000000", body, WEBHOOK_SECRET + "x", 1_790_000_100)
    assert not check("1790000000", body, WEBHOOK_SECRET, 1_790_000_301)
    assert not check("-1", body, WEBHOOK_SECRET, 1_790_000_000)


@pytest.mark.parametrize(
    ("text", "gsm7"),
    [
        ("Your Acme verification code is: 482913", True),
        ("Código: 482913 ¿Ñ? {€} [x] ~|^\\", False),  # ó is not in GSM-7
        ("Codice: 482913 è à ù ì ò {€} [x] ~|^\\", True),
        ("Ваш код: 482913", False),
        ("Code 482913 🔐", False),
    ],
)
def test_gsm7_alphabet_decides_unicode_sms(text: str, gsm7: bool) -> None:
    """The basic table and its extension keep GSM-7; anything else needs UCS-2."""
    assert is_gsm7(text) is gsm7
