"""A webhook URL's host, resolved and checked against the target rules (domain/webhooks/targets.py).

Used when a webhook is saved and again before every send. Every answer DNS gives is checked
(one non-public answer not in the allow-list refuses the whole name: a resolver may pick any
of them), and the caller connects to exactly the addresses returned here, with the URL's host
kept for TLS (SNI, certificate) and `Host:`; so a name that answers differently a moment later
(DNS rebinding) reaches nothing unchecked.

`getaddrinfo` is injectable: tests pass a table instead of the network."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from verify_service.domain.webhooks.targets import (
    IPAddress,
    IPNetwork,
    TargetRefused,
    TargetUnresolved,
    WebhookTarget,
    check_address,
    parse_target,
)

# socket.getaddrinfo's shape: (host, port, family, type, proto, flags) -> [(family, type,
# proto, canonname, sockaddr)]; sockaddr[0] is the address text.
GetAddrInfo = Callable[..., Sequence[tuple[Any, Any, Any, Any, tuple[Any, ...]]]]


@dataclass(frozen=True, slots=True)
class ResolvedTarget:
    """A checked target: connect to one of `addresses` (in order), port `target.port`, and
    send `Host: target.host` (TLS server name `target.host` too)."""

    target: WebhookTarget
    addresses: tuple[IPAddress, ...]


class TargetResolver:
    """Resolves and checks webhook URLs against the operator's allow-list."""

    def __init__(
        self,
        allowed_networks: tuple[IPNetwork, ...] = (),
        getaddrinfo: GetAddrInfo = socket.getaddrinfo,
    ) -> None:
        self._allowed = allowed_networks
        self._getaddrinfo = getaddrinfo

    @property
    def allowed_networks(self) -> tuple[IPNetwork, ...]:
        return self._allowed

    def resolve(self, url: str) -> ResolvedTarget:
        """Check `url` and every address its host reaches; raise `TargetRefused` (or
        `TargetUnresolved` when the name has no address) otherwise."""
        target = parse_target(url)
        if target.address is not None:
            address = check_address(target.address, target.scheme, self._allowed)
            return ResolvedTarget(target, (address,))
        try:
            answers = self._getaddrinfo(
                target.host, target.port, 0, socket.SOCK_STREAM, socket.IPPROTO_TCP
            )
        except (OSError, UnicodeError):
            raise TargetUnresolved("has a host name that does not resolve") from None
        addresses: list[IPAddress] = []
        for answer in answers:
            text = str(answer[4][0]).split("%", 1)[0]  # a zone (fe80::1%eth0) is link-local
            try:
                parsed = ipaddress.ip_address(text)
            except ValueError:
                raise TargetRefused("has a host name with an unusable address") from None
            checked = check_address(parsed, target.scheme, self._allowed)
            if checked not in addresses:
                addresses.append(checked)
        if not addresses:
            raise TargetUnresolved("has a host name that does not resolve")
        return ResolvedTarget(target, tuple(addresses))


__all__ = ["ResolvedTarget", "TargetRefused", "TargetResolver", "TargetUnresolved"]
