"""The client behind the operator's reverse proxies (`VERIFY_TRUSTED_PROXIES`).

A proxy appends the address it received a request from to `X-Forwarded-For`; whatever the
client itself wrote in that header comes before. So the list is read from the right: the
peer, then each address a trusted proxy vouched for, until the first address that is not a
trusted proxy. That one is the client. A peer that is not a trusted proxy is the client
itself, and its header is ignored (anyone can write one). An entry that is not an IP address
ends the walk at the last trusted hop (the proxy that passed it on), never at a name the
client chose.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """`10.0.0.0/8, 2001:db8::/32, 192.0.2.7`: networks or single addresses, comma-separated.
    Raises ValueError naming the position of the first malformed entry (never its value)."""
    networks = []
    for position, entry in enumerate((e.strip() for e in text.split(",")), start=1):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"entry {position} is not an IP address or network") from None
    return tuple(networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip().split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_address(peer: str, forwarded_for: Sequence[str], trusted: tuple[IPNetwork, ...]) -> str:
    """The client's address: `peer` unless it is a trusted proxy, else the right-most address
    of `forwarded_for` (every value of the header, in order) that is not one."""
    current = _address(peer)
    if not trusted or current is None or not any(current in net for net in trusted):
        return peer
    hops = [hop for value in forwarded_for for hop in value.split(",")]
    client = peer
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return client  # the last trusted hop: the proxy that passed the entry on
        client = str(address)
        if not any(address in net for net in trusted):
            return client
    return client
