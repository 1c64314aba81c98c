"""The network a client address is counted by, for every per-client-address limit.

One person holds many addresses: an IPv6 subscriber or host is given a whole /64 (RFC 6177,
RFC 7421), so counting per exact IPv6 address lets one machine rotate through 2^64 of them.
An IPv4-mapped IPv6 address (`::ffff:1.2.3.4`, as a dual-stack socket reports an IPv4 peer)
is the IPv4 address. So:

- IPv4 → the address itself (`203.0.113.7`);
- IPv4-mapped IPv6 → its IPv4 address;
- an IPv6 address that carries an IPv4 host → that IPv4 address: NAT64's well-known prefix
  `64:ff9b::/96` (RFC 6052: every IPv4 host behind a NAT64 would otherwise share one /64)
  and 6to4's `2002::/16` (RFC 3056: each IPv4 host owns 65 536 /64s there);
- any other IPv6 → its /64 (`2001:db8:1:2::/64`), the zone (`%eth0`) dropped;
- anything that is not an IP address → itself, unchanged (an unknown peer still counts).
"""

from __future__ import annotations

import ipaddress

IPV6_PREFIX_LENGTH = 64
NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")


def client_network(address: str) -> str:
    """The key a per-client-address limit counts `address` under."""
    text = address.strip()
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv4Address):
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    if ip in NAT64_WELL_KNOWN:
        return str(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip.sixtofour is not None:
        return str(ip.sixtofour)
    network = ipaddress.IPv6Network((ip, IPV6_PREFIX_LENGTH), strict=False)
    return str(network)
