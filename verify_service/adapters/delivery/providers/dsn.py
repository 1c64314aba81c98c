"""Splitting one provider DSN into its parts, and the checks every kind shares.

Nothing here echoes the user:password part or an option's value: every problem is a
`ProviderConfigError` whose message is safe to print at start-up.
"""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

# `kind` or `kind+transport`, e.g. `twilio`, `webhook+https`.
_SCHEME = re.compile(r"^[a-z][a-z0-9]*(?:\+[a-z]+)?$")
_OPTION_NAME = re.compile(r"^[a-z_]{1,32}$")
DEFAULT_TIMEOUT_SECONDS = 10.0  # connect and read each; well under a worker's visibility timeout
MIN_TIMEOUT_SECONDS = 0.05
MAX_TIMEOUT_SECONDS = 60.0
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


class ProviderConfigError(ValueError):
    """A provider DSN is malformed. The message names the problem, never a secret;
    `Settings` prefixes it with the variable's name and raises `ConfigError`."""


@dataclass(frozen=True, slots=True)
class Dsn:
    """The parts of one DSN, percent-decoded. `transport` is what follows `+` in the scheme."""

    kind: str
    transport: str | None
    user: str | None
    password: str | None
    host: str | None
    port: int | None
    path: str
    options: tuple[tuple[str, str], ...]

    def __repr__(self) -> str:  # the parts that may be secret stay out of tracebacks
        return f"Dsn(kind={self.kind!r}, host={self.host!r}, port={self.port!r})"

    def option(self, name: str) -> str | None:
        return dict(self.options).get(name)

    def check_options(self, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> None:
        """Unknown options are errors (a typo must not silently fall back to a default)."""
        for name, _ in self.options:
            if name not in allowed:
                raise ProviderConfigError(
                    f"unknown option {name!r} (allowed: {', '.join(sorted(allowed))})"
                )
        for name in required:
            if not self.option(name):
                raise ProviderConfigError(f"needs a {name}= option")

    def check_no_path(self) -> None:
        if self.path not in ("", "/"):
            raise ProviderConfigError("takes no path after the host")

    def credentials(self, what: str) -> tuple[str, str]:
        """The user:password part, both required; `what` names them in the error."""
        if not self.user or not self.password:
            raise ProviderConfigError(f"needs {what} as user:password before the @")
        return self.user, self.password

    def timeout_seconds(self) -> float:
        text = self.option("timeout")
        if text is None:
            return DEFAULT_TIMEOUT_SECONDS
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not MIN_TIMEOUT_SECONDS <= value <= MAX_TIMEOUT_SECONDS:
            raise ProviderConfigError(
                f"timeout= must be a number of seconds from {MIN_TIMEOUT_SECONDS} "
                f"to {MAX_TIMEOUT_SECONDS:g}"
            )
        return value

    def flag(self, name: str, default: bool) -> bool:
        text = self.option(name)
        if text is None:
            return default
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ProviderConfigError(f"{name}= must be true or false")

    def netloc(self) -> str:
        """`host[:port]` as it goes in a URL (IPv6 literals in brackets)."""
        host = self.host or ""
        if ":" in host:
            host = f"[{host}]"
        return host if self.port is None else f"{host}:{self.port}"


def parse_dsn(text: str) -> Dsn:
    """Split `kind[+transport]://[user[:password]@]host[:port][/path][?name=value&...]`.

    Option values are percent-decoded but `+` stays a plus (phone numbers start with one).
    """
    text = text.strip()
    if not text:
        raise ProviderConfigError("is empty")
    scheme, separator, _ = text.partition("://")
    scheme = scheme.lower()
    if not separator or not _SCHEME.fullmatch(scheme):
        raise ProviderConfigError("is not a DSN of the form kind://...")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ProviderConfigError("has a malformed host or port") from None
    if parts.fragment:
        raise ProviderConfigError("must not contain a # fragment (percent-encode it as %23)")
    kind, _, transport = scheme.partition("+")
    return Dsn(
        kind=kind,
        transport=transport or None,
        user=_decoded(parts.username),
        password=_decoded(parts.password),
        host=parts.hostname or None,
        port=port,
        path=unquote(parts.path),
        options=_options(parts.query),
    )


def _decoded(value: str | None) -> str | None:
    return None if value is None else unquote(value)


def _options(query: str) -> tuple[tuple[str, str], ...]:
    options: dict[str, str] = {}
    for piece in query.split("&"):
        if not piece:
            continue
        raw_name, equals, raw_value = piece.partition("=")
        name = unquote(raw_name)
        if not _OPTION_NAME.fullmatch(name):
            raise ProviderConfigError("has a malformed option name")
        if not equals:
            raise ProviderConfigError(f"option {name!r} needs a value ({name}=...)")
        if name in options:
            raise ProviderConfigError(f"option {name!r} is given twice")
        options[name] = unquote(raw_value)
    return tuple(options.items())


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or `localhost`: the only hosts plain http may reach."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def http_base_url(dsn: Dsn, default_url: str) -> str:
    """The API root for `kind[+http|+https]://…@host[:port]`; host `default` is `default_url`.

    https unless `+http` is asked for, which only a loopback host may use (a local stand-in).
    """
    if dsn.transport not in (None, "http", "https"):
        raise ProviderConfigError(f"{dsn.kind}+{dsn.transport}:// is not a known transport")
    if not dsn.host:
        raise ProviderConfigError("needs a host (or `default`) after the @")
    if dsn.host == "default":
        if dsn.port is not None or dsn.transport == "http":
            raise ProviderConfigError("host `default` takes no port and no +http")
        return default_url
    if dsn.transport == "http" and not is_loopback(dsn.host):
        raise ProviderConfigError("plain http is allowed only to a loopback host")
    return f"{dsn.transport or 'https'}://{dsn.netloc()}"
