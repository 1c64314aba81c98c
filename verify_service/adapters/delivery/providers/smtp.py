"""`smtp://user:pass@host:port?from=...&from_name=...&starttls=true` and `smtps://…`: e-mail.

One multipart/alternative message per code: the plain-text part and the HTML part of the
`RenderedMessage`, both UTF-8 in quoted-printable, with its subject, a `From` carrying
`from_name` (or the start's `ChannelConfiguration.from`/`from_name`; the envelope sender is
always the DSN's `from=`), a `Message-ID` (the receipt id) and
`Auto-Submitted: auto-generated` (RFC 3834, so vacation responders stay quiet). Connection
errors, timeouts and 4xx replies are transient; 5xx replies are permanent.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import ClassVar

from verify_service.adapters.delivery.providers.dsn import Dsn, ProviderConfigError, is_loopback
from verify_service.adapters.delivery.providers.wire_encoding import smtp_address
from verify_service.domain.delivery.delivery import (
    DeliveryError,
    DeliveryReceipt,
    DeliveryRequest,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from verify_service.domain.models import Channel

SMTP_PORT = 25
SUBMISSION_PORT = 587  # RFC 6409, with STARTTLS
SMTPS_PORT = 465  # RFC 8314, implicit TLS


@dataclass(frozen=True, slots=True, repr=False)
class SmtpConfig:
    """An SMTP relay; credentials travel only inside TLS (or to a loopback host)."""

    KIND: ClassVar[str] = "smtp"
    CHANNELS: ClassVar[frozenset[Channel]] = frozenset({Channel.EMAIL})

    host: str
    port: int
    sender: str
    sender_name: str | None = None
    implicit_tls: bool = False
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    timeout_seconds: float = 10.0

    @classmethod
    def from_dsn(cls, dsn: Dsn) -> SmtpConfig:
        implicit_tls = dsn.kind == "smtps"
        if dsn.transport is not None:
            raise ProviderConfigError(f"{dsn.kind}+{dsn.transport}:// is not a known transport")
        if not dsn.host:
            raise ProviderConfigError("needs a host")
        dsn.check_no_path()
        dsn.check_options(allowed=("from", "from_name", "starttls", "timeout"), required=("from",))
        starttls = dsn.flag("starttls", default=False)
        if implicit_tls and starttls:
            raise ProviderConfigError("smtps:// is already TLS; starttls= applies to smtp://")
        if (dsn.user is None) != (dsn.password is None):
            raise ProviderConfigError("needs both user and password, or neither")
        tls = implicit_tls or starttls
        if dsn.user is not None and not tls and not is_loopback(dsn.host):
            raise ProviderConfigError(
                "sends a password only over TLS: use starttls=true or smtps://"
            )
        sender = str(dsn.option("from"))
        try:
            Address(addr_spec=sender)
        except (ValueError, IndexError, HeaderParseError):
            raise ProviderConfigError("from= must be an e-mail address") from None
        if "@" not in sender:
            raise ProviderConfigError("from= must be an e-mail address")
        try:
            sender = smtp_address(sender, "from=")  # the domain in its IDNA form
        except DeliveryError:
            raise ProviderConfigError("from= must be an e-mail address") from None
        sender_name = dsn.option("from_name") or None
        if sender_name is not None and not sender_name.isprintable():
            raise ProviderConfigError("from_name= must not contain control characters")
        default_port = SMTPS_PORT if implicit_tls else SUBMISSION_PORT if starttls else SMTP_PORT
        return cls(
            host=dsn.host,
            port=dsn.port or default_port,
            sender=sender,
            sender_name=sender_name,
            implicit_tls=implicit_tls,
            starttls=starttls,
            username=dsn.user,
            password=dsn.password,
            timeout_seconds=dsn.timeout_seconds(),
        )

    def __repr__(self) -> str:
        return f"SmtpConfig(host={self.host!r}, port={self.port!r}, sender={self.sender!r})"


class SmtpProvider:
    """One SMTP session per message (verification mail is rare; no idle connections)."""

    def __init__(self, config: SmtpConfig, ssl_context: ssl.SSLContext | None = None) -> None:
        self._config = config
        self._ssl_context = ssl_context or ssl.create_default_context()
        scheme = "smtps" if config.implicit_tls else "smtp"
        host = f"[{config.host}]" if ":" in config.host else config.host
        self._name = f"{scheme}://{host}:{config.port}"
        # EHLO with the sender's domain: socket.getfqdn() can stall on a host without DNS.
        self._helo_name = config.sender.rpartition("@")[2]

    @property
    def name(self) -> str:
        return self._name

    def deliver(self, request: DeliveryRequest) -> DeliveryReceipt:
        if request.message.channel is not Channel.EMAIL:
            raise PermanentDeliveryError(
                f"{self._name} cannot deliver {request.message.channel.value} messages"
            )
        try:
            message = self.compose(request)
            data = self.wire_bytes(message)
        except ValueError:  # e.g. a line break in a header: never worth a retry
            raise PermanentDeliveryError(
                f"{self._name} cannot put the message's headers together"
            ) from None
        try:
            # The address written, never the header read back (`compose` checks they agree).
            self._send(data, smtp_address(request.to, self._name))
        # `from None`: smtplib's exceptions repeat addresses; ours say only the reply code.
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise self._refusal("RCPT", codes[0] if codes else 550) from None
        except smtplib.SMTPResponseException as exc:
            raise self._refusal("the session", exc.smtp_code) from None
        except smtplib.SMTPNotSupportedError:
            raise PermanentDeliveryError(
                f"{self._name} does not offer STARTTLS, AUTH or SMTPUTF8 as configured"
            ) from None
        except ssl.SSLCertVerificationError:
            raise PermanentDeliveryError(
                f"{self._name} presented a TLS certificate that is not trusted"
            ) from None
        except (OSError, smtplib.SMTPException) as exc:  # timeouts, refusals, disconnects
            raise TransientDeliveryError(
                f"{self._name} could not be reached ({type(exc).__name__})"
            ) from None
        return DeliveryReceipt(self._name, str(message["Message-ID"]))

    def close(self) -> None:
        """Nothing to release: each message has its own session."""

    def encode(self, request: DeliveryRequest) -> bytes:
        """The message as `deliver` sends it after DATA: 7-bit, CRLF line ends."""
        if request.message.channel is not Channel.EMAIL:
            raise PermanentDeliveryError(
                f"{self._name} cannot deliver {request.message.channel.value} messages"
            )
        try:
            return self.wire_bytes(self.compose(request))
        except ValueError:
            raise PermanentDeliveryError(
                f"{self._name} cannot put the message's headers together"
            ) from None

    def wire_bytes(self, message: EmailMessage) -> bytes:
        """`message` flattened for SMTP: headers RFC 2047-encoded, CRLF line ends."""
        return message.as_bytes(policy=policy.SMTP)

    def compose(self, request: DeliveryRequest) -> EmailMessage:
        rendered = request.message
        message = EmailMessage()
        if rendered.subject is not None:
            message["Subject"] = rendered.subject
            # The header parser decodes RFC 2047 words (`=?utf-8?q?=0A…?=`) in what it is
            # given: a subject that does not read back as written would carry text or
            # headers nobody wrote. The API refuses such names; this catches stored ones.
            if str(message["Subject"]) != rendered.subject:
                raise ValueError("the subject does not survive as written")
        # A start's ChannelConfiguration chose them (checked against VERIFY_EMAIL_SENDERS and
        # the name rules) or the DSN's from= and from_name=. The envelope sender stays the
        # DSN's from= (`_send`): bounces reach the operator's mailbox (docs/providers.md).
        message["From"] = Address(
            display_name=rendered.sender_name or self._config.sender_name or "",
            addr_spec=smtp_address(rendered.sender, self._name)
            if rendered.sender
            else self._config.sender,
        )
        # The domain in its IDNA (ASCII) form: no relay needs SMTPUTF8 for it.
        to = smtp_address(request.to, self._name)
        message["To"] = to
        # The same for the recipient: `=?utf-8?q?x?=@example.org` is a valid address that
        # the header parser reads back as x@example.org, another mailbox (the API refuses
        # `=?` in addresses; this catches stored ones). (An `Address`'s addr_spec, the From
        # above, is parsed strictly: an encoded word there raises.)
        if [address.addr_spec for address in message["To"].addresses] != [to]:
            raise ValueError("the recipient does not survive as written")
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = make_msgid(domain=self._helo_name)
        message["Auto-Submitted"] = "auto-generated"
        # Quoted-printable keeps every line 7-bit: no reliance on the relay's 8BITMIME.
        message.set_content(rendered.text, charset="utf-8", cte="quoted-printable")
        if rendered.html is not None:
            message.add_alternative(
                rendered.html, subtype="html", charset="utf-8", cte="quoted-printable"
            )
        message["Content-Language"] = rendered.locale  # after set_content, which clears Content-*
        return message

    def _send(self, data: bytes, to: str) -> None:
        config = self._config
        client: smtplib.SMTP
        if config.implicit_tls:
            client = smtplib.SMTP_SSL(
                config.host,
                config.port,
                local_hostname=self._helo_name,
                timeout=config.timeout_seconds,
                context=self._ssl_context,
            )
        else:
            client = smtplib.SMTP(
                config.host,
                config.port,
                local_hostname=self._helo_name,
                timeout=config.timeout_seconds,
            )
        try:
            if config.starttls:
                client.starttls(context=self._ssl_context)
            if config.username is not None and config.password is not None:
                client.login(config.username, config.password)
            client.sendmail(config.sender, [to], data)
            # The message was accepted: a failed QUIT must not cause a resend.
            with contextlib.suppress(OSError, smtplib.SMTPException):
                client.quit()
        finally:
            client.close()

    def _refusal(self, stage: str, code: int) -> DeliveryError:
        reason = f"{self._name} refused {stage} with {code}"
        if 500 <= code < 600:
            return PermanentDeliveryError(reason, str(code))
        return TransientDeliveryError(reason, str(code))
