"""The network a client address is counted by, for every per-client-address limit.

One person holds many addresses: an IPv6 subscriber or host is given a whole /64 (RFC 6177,
RFC 7421), so counting per exact IPv6 address lets one machine rotate through 2^64 of them.
An IPv4-mapped IPv6 address (`::ffff:1.2.3.4`, as a dual-stack socket reports an IPv4 peer)
is the IPv4 address. So:

- IPv4 → the address itself (`203.0.113.7`);
- IPv4-mapped IPv6 → its IPv4 address;
- any other IPv6 → its /64 (`2001:db8:1:2::/64`), the zone (`%eth0`) dropped;
- anything that is not an IP address → itself, unchanged (an unknown peer still counts).
"""

from __future__ import annotations

import ipaddress

IPV6_PREFIX_LENGTH = 64


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
    network = ipaddress.IPv6Network((ip, IPV6_PREFIX_LENGTH), strict=False)
    return str(network)
