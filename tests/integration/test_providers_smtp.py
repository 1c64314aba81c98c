"""The smtp:// and smtps:// providers against a real SMTP server in-process (aiosmtpd)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.support.smtp_server import SmtpServer
from tests.support.tls_certificate import LoopbackCertificate
from verify_service.adapters.delivery.providers.registry import build_providers, parse_provider_list
from verify_service.adapters.delivery.providers.smtp import SmtpConfig, SmtpProvider
from verify_service.domain.delivery.delivery import (
    DeliveryError,
    DeliveryRequest,
    PermanentDeliveryError,
    RenderedMessage,
    TransientDeliveryError,
)
from verify_service.domain.models import Channel

CODE = "640218"
TO = "jeanne.durand@example.org"
SENDER = "no-reply@acme.example"
USER, PASSWORD = "mailer", "smtp-pass-9c2e1a"
SUBJECT = f"Votre code de vérification Acme : {CODE}"
TEXT = f"Votre code de vérification Acme est : {CODE}\nNe le communiquez à personne."
HTML = f"<p>Votre code de vérification Acme est : <strong>{CODE}</strong></p>"


def request(html: str | None = HTML) -> DeliveryRequest:
    message = RenderedMessage(Channel.EMAIL, "fr", TEXT, subject=SUBJECT, html=html)
    return DeliveryRequest(TO, message, "VA" + "1" * 32, "VE" + "2" * 32, "VL" + "3" * 32)


def provider_for(dsn: str) -> SmtpProvider:
    (provider,) = build_providers(Channel.EMAIL, parse_provider_list(Channel.EMAIL, dsn))
    assert isinstance(provider, SmtpProvider)
    return provider


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    with SmtpServer(credentials=(USER, PASSWORD)) as running:
        yield running


@pytest.fixture
def provider(server: SmtpServer) -> SmtpProvider:
    return provider_for(
        f"smtp://{USER}:{PASSWORD}@127.0.0.1:{server.port}"
        f"?from={SENDER}&from_name=Sécurité%20Acme&timeout=0.3"
    )


def parts(message: EmailMessage) -> dict[str, EmailMessage]:
    found = {}
    for part in message.iter_parts():
        assert isinstance(part, EmailMessage)
        found[part.get_content_type()] = part
    return found


def test_message_carries_the_code_in_a_text_and_an_html_part(
    server: SmtpServer, provider: SmtpProvider
) -> None:
    """multipart/alternative: text/plain then text/html, both UTF-8 quoted-printable."""
    provider.deliver(request())

    (mail,) = server.received
    message = mail.message
    assert message.get_content_type() == "multipart/alternative"
    alternatives = parts(message)
    assert list(alternatives) == ["text/plain", "text/html"]
    for part in alternatives.values():
        assert part.get_content_charset() == "utf-8"
        assert part["Content-Transfer-Encoding"] == "quoted-printable"
        assert CODE in part.get_content()
    assert alternatives["text/plain"].get_content().rstrip("\n") == TEXT
    assert alternatives["text/html"].get_content().rstrip("\n") == HTML
    assert mail.raw.isascii()  # no reliance on the relay's 8BITMIME


def test_headers_name_sender_recipient_subject_and_message_id(
    server: SmtpServer, provider: SmtpProvider
) -> None:
    """From with from_name, localized Subject (RFC 2047), Message-ID = the receipt id."""
    receipt = provider.deliver(request())

    (mail,) = server.received
    message = mail.message
    assert (mail.mail_from, mail.rcpt_tos) == (SENDER, [TO])
    assert message["Subject"] == SUBJECT
    assert "=?utf-8?" in mail.raw.decode("ascii").split("\r\n\r\n")[0]  # encoded on the wire
    (sender,) = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Sécurité Acme", SENDER)
    assert message["To"] == TO
    assert message["Date"] is not None
    assert message["Message-ID"].endswith("@acme.example>")
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Content-Language"] == "fr"
    assert receipt.provider == f"smtp://127.0.0.1:{server.port}"
    assert receipt.provider_message_id == message["Message-ID"]


def test_credentials_from_the_dsn_log_in(server: SmtpServer, provider: SmtpProvider) -> None:
    """user:password become SMTP AUTH."""
    provider.deliver(request())
    assert server.received[0].login == USER


def test_without_html_the_message_is_plain_text(server: SmtpServer, provider: SmtpProvider) -> None:
    """No HTML rendered: a single text/plain body."""
    provider.deliver(request(html=None))
    message = server.received[0].message
    assert message.get_content_type() == "text/plain"
    assert message.get_content().rstrip("\n") == TEXT


def assert_says_nothing_secret(error: DeliveryError) -> None:
    text = f"{error} {error!r} {error.args}"
    for secret in (CODE, PASSWORD, TO):
        assert secret not in text


@pytest.mark.parametrize(
    ("stage", "reply", "error_class"),
    [
        ("RCPT", "550 5.1.1 No such user", PermanentDeliveryError),
        ("RCPT", "450 4.2.1 Mailbox busy, try later", TransientDeliveryError),
        ("DATA", "451 4.3.0 Local error", TransientDeliveryError),
        ("DATA", "554 5.7.1 Message rejected as spam", PermanentDeliveryError),
    ],
)
def test_smtp_replies_are_classified_by_class(
    server: SmtpServer,
    provider: SmtpProvider,
    stage: str,
    reply: str,
    error_class: type[DeliveryError],
) -> None:
    """4xx replies are transient, 5xx permanent; the reply code is the error code."""
    server.refuse_next(stage, reply)
    with pytest.raises(DeliveryError) as raised:
        provider.deliver(request())
    assert type(raised.value) is error_class
    assert raised.value.error_code == reply[:3]
    assert_says_nothing_secret(raised.value)
    assert server.received == []


def test_an_address_that_cannot_be_a_header_is_permanent(
    server: SmtpServer, provider: SmtpProvider
) -> None:
    """A line break in the recipient would inject headers: refused before connecting."""
    bad = DeliveryRequest(f"{TO}\r\nBcc: x@example.com", request().message, "VA", "VE", "VL")
    with pytest.raises(PermanentDeliveryError, match="headers"):
        provider.deliver(bad)
    assert server.received == []


@pytest.mark.parametrize(
    "name", ["=?utf-8?q?=0AX-Injected:yes?=", "=?utf-8?q?a=0D=0Ab?=", "=?utf-8?q?evil=2Ecom?="]
)
def test_a_subject_with_an_encoded_word_is_permanent_never_decoded(
    server: SmtpServer, provider: SmtpProvider, name: str
) -> None:
    """A name stored before the API refused MIME encoded words: the mail library would
    decode `=0A` into a line break and a header; the message is refused before connecting."""
    message = RenderedMessage(Channel.EMAIL, "en", TEXT, subject=f"Your {name} verification code")
    with pytest.raises(PermanentDeliveryError, match="headers"):
        provider.deliver(DeliveryRequest(TO, message, "VA", "VE", "VL"))
    assert server.received == []


def test_a_wrong_password_is_permanent(server: SmtpServer) -> None:
    """535 authentication failed: retrying the same credentials cannot help."""
    wrong = provider_for(f"smtp://{USER}:nope-{PASSWORD}@127.0.0.1:{server.port}?from={SENDER}")
    with pytest.raises(PermanentDeliveryError) as raised:
        wrong.deliver(request())
    assert raised.value.error_code == "535"
    assert PASSWORD not in str(raised.value)


def test_a_server_slower_than_the_timeout_is_transient(
    server: SmtpServer, provider: SmtpProvider
) -> None:
    """The server stalls after DATA longer than timeout=0.3; the client gives up."""
    server.stall_seconds = 5.0
    started = time.monotonic()
    with pytest.raises(TransientDeliveryError) as raised:
        provider.deliver(request())
    assert time.monotonic() - started < 2
    assert_says_nothing_secret(raised.value)


def test_an_unreachable_server_is_transient() -> None:
    """Connection refused: nothing listens."""
    with SmtpServer() as stopped:
        port = stopped.port
    unreachable = provider_for(f"smtp://127.0.0.1:{port}?from={SENDER}&timeout=0.3")
    with pytest.raises(TransientDeliveryError, match="could not be reached"):
        unreachable.deliver(request())


# -- TLS -----------------------------------------------------------------------------------


@pytest.fixture
def certificate(tmp_path: Path) -> LoopbackCertificate:
    return LoopbackCertificate.create(tmp_path)


def tls_provider(dsn: str, certificate: LoopbackCertificate | None) -> SmtpProvider:
    (config,) = parse_provider_list(Channel.EMAIL, dsn)
    assert isinstance(config, SmtpConfig)
    return SmtpProvider(config, ssl_context=certificate.client_context() if certificate else None)


def test_starttls_upgrades_before_logging_in(certificate: LoopbackCertificate) -> None:
    """starttls=true: the server refuses AUTH and mail before TLS, and receives both."""
    context = certificate.server_context()
    with SmtpServer(credentials=(USER, PASSWORD), tls_context=context) as server:
        dsn = f"smtp://{USER}:{PASSWORD}@127.0.0.1:{server.port}?from={SENDER}&starttls=true"
        tls_provider(dsn, certificate).deliver(request())
        (mail,) = server.received
    assert mail.login == USER
    assert CODE in parts(mail.message)["text/plain"].get_content()


def test_smtps_is_tls_from_the_first_byte(certificate: LoopbackCertificate) -> None:
    """smtps:// (RFC 8314 implicit TLS) delivers to a TLS-only listener."""
    context = certificate.server_context()
    with SmtpServer(credentials=(USER, PASSWORD), tls_context=context, implicit_tls=True) as server:
        dsn = f"smtps://{USER}:{PASSWORD}@127.0.0.1:{server.port}?from={SENDER}"
        receipt = tls_provider(dsn, certificate).deliver(request())
        (mail,) = server.received
    assert receipt.provider == f"smtps://127.0.0.1:{server.port}"
    assert mail.login == USER


def test_an_untrusted_certificate_is_permanent(certificate: LoopbackCertificate) -> None:
    """The system trust store does not know the self-signed certificate: no retry helps."""
    context = certificate.server_context()
    with SmtpServer(tls_context=context, implicit_tls=True) as server:
        dsn = f"smtps://127.0.0.1:{server.port}?from={SENDER}&timeout=1"
        with pytest.raises(PermanentDeliveryError, match="not trusted"):
            tls_provider(dsn, None).deliver(request())
        assert server.received == []


def test_starttls_against_a_server_without_it_is_permanent(server: SmtpServer) -> None:
    """A relay that does not offer STARTTLS is never sent the password in the clear."""
    dsn = f"smtp://{USER}:{PASSWORD}@127.0.0.1:{server.port}?from={SENDER}&starttls=true"
    with pytest.raises(PermanentDeliveryError, match="STARTTLS"):
        provider_for(dsn).deliver(request())
    assert server.received == []


def test_a_starts_chosen_sender_is_the_from_header_and_the_envelope_stays_the_dsns(
    server: SmtpServer, provider: SmtpProvider
) -> None:
    """ChannelConfiguration's from/from_name (checked at the start) write From; MAIL FROM stays
    the DSN's from= (bounces reach the operator; see docs/providers.md, SMTP)."""
    base = request()
    chosen = replace(
        base,
        message=replace(base.message, sender="alerts@brand.example", sender_name="Sécurité"),
    )
    provider.deliver(chosen)
    (mail,) = server.received
    (author,) = mail.message["From"].addresses
    assert (author.display_name, author.addr_spec) == ("Sécurité", "alerts@brand.example")
    assert mail.mail_from == SENDER
