"""Where a webhook may send events (SSRF policy), checked when it is saved and at every send.

Rules (docs/webhooks.md, "Target rules"):
- `https` only; plain `http` only to a loopback address (`127.0.0.0/8`, `::1`, `localhost`).
- No user:password in the URL, no fragment, a host always, at most `MAX_URL_LENGTH` characters.
- ASCII only (a path or query percent-encoded, a host in punycode): an HTTP request line
  carries bytes, and a URL the sender cannot put on the wire is refused when saved, not
  retried at every send.
- Every address the connection may reach must be public, unless the operator's allow-list
  (`VERIFY_WEBHOOK_ALLOWED_NETWORKS`) contains it. Not public: loopback, RFC 1918, link-local
  (incl. the cloud metadata address 169.254.169.254), CGNAT 100.64.0.0/10, unique-local
  fc00::/7, unspecified, multicast, reserved and documentation ranges, and the IPv6 forms
  that embed an IPv4 address (mapped, compatible, 6to4, Teredo, NAT64) of any of those.
- A host spelled like a number is read as an IPv4 address the way browsers and `inet_aton`
  read it (`127.1`, `2130706433`, `0x7f.1`, `0177.0.0.1` are all 127.0.0.1), so an odd spelling
  is judged by the address it reaches.

Pure: no I/O. A host name's addresses are checked by `adapters/webhooks/resolver.py` with
`check_address`, which is also the check for an address literal here."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL_LENGTH = 2048  # bytes a URL may have; longer ones are refused, never cut
_DEFAULT_PORTS = {"https": 443, "http": 80}
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_NUMBER_PART = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]")
_MAX_HOST_LENGTH = 253  # a DNS name's longest text form (RFC 1035 §2.3.4)
_LOOPBACK_NAMES = ("localhost",)  # and every `*.localhost` (RFC 6761 §6.3)


class TargetRefused(Exception):
    """A webhook URL (or an address its host resolves to) breaks the target rules; `reason`
    says which rule, without repeating the URL."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class TargetUnresolved(TargetRefused):
    """The URL's host name has no address (or DNS could not answer): nothing to check, so
    nothing is sent. At save time a 400; at send time a failure worth retrying."""


class AddressClass(StrEnum):
    PUBLIC = "public"
    LOOPBACK = "loopback"
    PRIVATE = "private"  # RFC 1918
    SHARED = "shared"  # CGNAT, RFC 6598
    LINK_LOCAL = "link-local"  # incl. 169.254.169.254 (cloud metadata)
    UNIQUE_LOCAL = "unique-local"  # fc00::/7
    UNSPECIFIED = "unspecified"
    MULTICAST = "multicast"
    RESERVED = "reserved"  # everything else not globally routable (documentation, 240/4, …)


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """A webhook URL that passed the syntax rules; `address` is set when the host is an IP
    address (in any spelling), `host` is what a name lookup, TLS and `Host:` use."""

    url: str
    scheme: str  # "https" | "http"
    host: str  # lower case, without a trailing dot or IPv6 brackets
    port: int
    address: IPAddress | None


def parse_allowed_networks(text: str) -> tuple[IPNetwork, ...]:
    """`VERIFY_WEBHOOK_ALLOWED_NETWORKS`: comma-separated CIDRs (a bare address is a /32 or
    /128). Raises ValueError naming the entry that is not a network (host bits set included:
    `10.0.0.1/8` is a typo for something, so it is refused rather than guessed)."""
    networks: list[IPNetwork] = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=True))
        except ValueError as exc:
            raise ValueError(f"{entry!r} is not a CIDR network ({exc})") from None
    return tuple(networks)


_BAD_PORT = "must have a port from 1 to 65535"


def parse_target(url: str) -> WebhookTarget:
    """Check a URL's syntax, scheme and credentials; read its host (a name or an address)."""
    if len(url.encode("utf-8")) > MAX_URL_LENGTH:
        raise TargetRefused(f"must be at most {MAX_URL_LENGTH} bytes")
    if _CONTROL_OR_SPACE.search(url) or "\\" in url:
        raise TargetRefused("must not contain spaces, control characters or backslashes")
    if not url.isascii():
        raise TargetRefused(
            "must be ASCII: percent-encode the path and query, spell the host in punycode"
        )
    try:
        parts = urlsplit(url)
    except ValueError:
        raise TargetRefused("is not a valid URL") from None
    try:
        port = parts.port
    except ValueError:
        raise TargetRefused(_BAD_PORT) from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise TargetRefused("must be an https URL (plain http only to a loopback address)")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise TargetRefused("must not contain a user name or password")
    if parts.fragment or url.endswith("#"):
        raise TargetRefused("must not contain a fragment (#…): it is never sent")
    if not parts.netloc.startswith("[") and "[" in parts.netloc:
        raise TargetRefused("is not a valid URL")
    raw_host = parts.hostname or ""
    if port == 0:
        raise TargetRefused(_BAD_PORT)
    host, address = _read_host(raw_host, bracketed=parts.netloc.startswith("["))
    target = WebhookTarget(
        url=url,
        scheme=scheme,
        host=host,
        port=port if port is not None else _DEFAULT_PORTS[scheme],
        address=address,
    )
    if scheme == "http" and not _may_be_loopback(target):
        raise TargetRefused("must be an https URL (plain http only to a loopback address)")
    return target


def check_target(url: str, allowed: tuple[IPNetwork, ...]) -> WebhookTarget:
    """`parse_target`, then, for an address literal, `check_address`. A host name still needs
    its addresses checked (`adapters/webhooks/resolver.py`)."""
    target = parse_target(url)
    if target.address is not None:
        check_address(target.address, target.scheme, allowed)
    return target


def check_address(address: IPAddress, scheme: str, allowed: tuple[IPNetwork, ...]) -> IPAddress:
    """Refuse an address the rules forbid; return the address to connect to (an IPv4-mapped
    IPv6 address comes back as its IPv4 address, which is what the kernel would reach)."""
    address = _unmapped(address)
    kind = classify(address)
    if scheme == "http" and kind is not AddressClass.LOOPBACK:
        raise TargetRefused("must be an https URL (plain http only to a loopback address)")
    if kind is not AddressClass.PUBLIC and not any(address in net for net in allowed):
        raise TargetRefused(
            f"reaches a {kind} address, which is refused unless"
            " VERIFY_WEBHOOK_ALLOWED_NETWORKS contains it"
        )
    return address


def classify(address: IPAddress) -> AddressClass:
    """What kind of address this is; an IPv6 form embedding an IPv4 address is judged by the
    IPv4 address too (the worse of the two wins)."""
    address = _unmapped(address)
    own = _classify_one(address)
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        inner = _classify_one(embedded) if embedded is not None else AddressClass.PUBLIC
        if inner is not AddressClass.PUBLIC:
            return inner
    return own


def _classify_one(address: IPAddress) -> AddressClass:
    for kind, applies in _CLASS_RULES:
        if applies(address):
            return kind
    return AddressClass.PUBLIC


def _is_v4_in(*networks: str) -> Callable[[IPAddress], bool]:
    parsed = tuple(ipaddress.IPv4Network(n) for n in networks)
    return lambda a: isinstance(a, ipaddress.IPv4Address) and any(a in n for n in parsed)


def _is_v6_in(*networks: str) -> Callable[[IPAddress], bool]:
    parsed = tuple(ipaddress.IPv6Network(n) for n in networks)
    return lambda a: isinstance(a, ipaddress.IPv6Address) and any(a in n for n in parsed)


# First match wins; what no rule names and Python's `is_global` calls global is public.
_CLASS_RULES: tuple[tuple[AddressClass, Callable[[IPAddress], bool]], ...] = (
    (AddressClass.UNSPECIFIED, lambda a: a.is_unspecified),
    (AddressClass.UNSPECIFIED, _is_v4_in("0.0.0.0/8")),  # "this network" (RFC 791)
    (AddressClass.LOOPBACK, lambda a: a.is_loopback),
    (AddressClass.LINK_LOCAL, lambda a: a.is_link_local),
    (AddressClass.MULTICAST, lambda a: a.is_multicast),
    (AddressClass.SHARED, _is_v4_in("100.64.0.0/10")),
    (AddressClass.PRIVATE, _is_v4_in("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")),
    (AddressClass.UNIQUE_LOCAL, _is_v6_in("fc00::/7")),
    # Deprecated IPv4-compatible `::a.b.c.d` (RFC 4291 §2.5.5.1) and site-local fec0::/10.
    (AddressClass.RESERVED, _is_v6_in("::/96", "fec0::/10")),
    (AddressClass.RESERVED, lambda a: a.is_reserved or a.is_private or not a.is_global),
)


_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))


def _unmapped(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address a 6to4, Teredo or NAT64 address leads to (traffic to it may be
    relayed there)."""
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if any(address in net for net in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _read_host(raw: str, *, bracketed: bool) -> tuple[str, IPAddress | None]:
    host = raw.lower()
    if not host:
        raise TargetRefused("must name a host")
    if bracketed:
        if "%" in host:
            raise TargetRefused("must not carry an IPv6 zone (%…)")
        try:
            return host, ipaddress.IPv6Address(host)
        except ValueError:
            raise TargetRefused("has an invalid IPv6 address") from None
    if not host.isascii():
        raise TargetRefused("must spell its host in ASCII (punycode, xn--…)")
    if host.endswith("."):
        host = host[:-1]
    if not host or host.endswith(".") or len(host) > _MAX_HOST_LENGTH:
        raise TargetRefused("has an invalid host name")
    labels = host.split(".")
    if _NUMBER_PART.match(labels[-1]):
        # WHATWG URL "ends in a number": the host is an IPv4 address, or invalid.
        return host, _read_ipv4(labels)
    if not all(_LABEL.match(label) for label in labels):
        raise TargetRefused("has an invalid host name")
    return host, None


def _read_ipv4(labels: list[str]) -> ipaddress.IPv4Address:
    """An IPv4 address in the spellings `inet_aton` accepts: 1 to 4 parts, each decimal,
    octal (leading 0) or hex (0x); the last part fills the remaining bytes."""
    if len(labels) > 4:
        raise TargetRefused("has an invalid IPv4 address")
    numbers: list[int] = []
    for label in labels:
        if not _NUMBER_PART.match(label):
            raise TargetRefused("has an invalid IPv4 address")
        if label.startswith("0x"):
            numbers.append(int(label[2:] or "0", 16))
        elif len(label) > 1 and label.startswith("0"):
            if not set(label) <= set("01234567"):
                raise TargetRefused("has an invalid IPv4 address")
            numbers.append(int(label, 8))
        else:
            numbers.append(int(label))
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        raise TargetRefused("has an invalid IPv4 address")
    value = last
    for index, number in enumerate(head):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _may_be_loopback(target: WebhookTarget) -> bool:
    """For plain http: an address literal must be loopback (checked by `check_address`); a
    name only if it is `localhost` or under it (its answers are checked again on lookup)."""
    if target.address is not None:
        return True
    return target.host in _LOOPBACK_NAMES or target.host.endswith(".localhost")
