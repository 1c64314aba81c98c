"""The webhook target rules (SSRF): URL syntax, schemes, address classes, odd spellings."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

from verify_service.adapters.webhooks.resolver import TargetResolver
from verify_service.domain.webhooks.targets import (
    AddressClass,
    TargetRefused,
    TargetUnresolved,
    check_target,
    classify,
    parse_allowed_networks,
    parse_target,
)

LOOPBACK = parse_allowed_networks("127.0.0.0/8,::1/128")


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("http://127.1/", "127.0.0.1"),
        ("http://2130706433/", "127.0.0.1"),
        ("http://0x7f.1/", "127.0.0.1"),
        ("http://0x7f000001/", "127.0.0.1"),
        ("http://0177.0.0.1/", "127.0.0.1"),
        ("http://127.0.0.1./", "127.0.0.1"),
        ("https://169.254.43518/", "169.254.169.254"),
        ("https://0251.0376.0251.0376/", "169.254.169.254"),
        ("https://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1"),
        ("https://8.8.8.8:8443/x", "8.8.8.8"),
    ],
)
def test_a_host_spelled_as_a_number_is_read_as_the_address_it_reaches(
    url: str, address: str
) -> None:
    """Browsers and inet_aton read `127.1` as 127.0.0.1; so does the policy."""
    assert parse_target(url).address == ipaddress.ip_address(address)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("8.8.8.8", AddressClass.PUBLIC),
        ("2606:4700:4700::1111", AddressClass.PUBLIC),
        ("127.0.0.1", AddressClass.LOOPBACK),
        ("::1", AddressClass.LOOPBACK),
        ("::ffff:127.0.0.1", AddressClass.LOOPBACK),
        ("::ffff:10.1.2.3", AddressClass.PRIVATE),
        ("10.1.2.3", AddressClass.PRIVATE),
        ("172.16.0.1", AddressClass.PRIVATE),
        ("192.168.1.1", AddressClass.PRIVATE),
        ("100.64.0.1", AddressClass.SHARED),
        ("169.254.169.254", AddressClass.LINK_LOCAL),
        ("fe80::1", AddressClass.LINK_LOCAL),
        ("fd00::1", AddressClass.UNIQUE_LOCAL),
        ("0.0.0.0", AddressClass.UNSPECIFIED),  # noqa: S104 (an address to refuse)
        ("0.1.2.3", AddressClass.UNSPECIFIED),
        ("::", AddressClass.UNSPECIFIED),
        ("224.0.0.1", AddressClass.MULTICAST),
        ("ff02::1", AddressClass.MULTICAST),
        ("240.0.0.1", AddressClass.RESERVED),
        ("255.255.255.255", AddressClass.RESERVED),
        ("192.0.2.1", AddressClass.RESERVED),
        ("198.18.0.1", AddressClass.RESERVED),
        ("::7f00:1", AddressClass.RESERVED),  # IPv4-compatible ::127.0.0.1
        ("2002:7f00:1::", AddressClass.LOOPBACK),  # 6to4 of 127.0.0.1
        ("2002:a9fe:a9fe::", AddressClass.LINK_LOCAL),  # 6to4 of 169.254.169.254
        ("64:ff9b::a9fe:a9fe", AddressClass.LINK_LOCAL),  # NAT64 of 169.254.169.254
        ("2001:db8::1", AddressClass.RESERVED),
    ],
)
def test_each_address_is_classified(address: str, kind: AddressClass) -> None:
    """Every non-public range of the brief has its class; embedded IPv4 is judged too."""
    assert classify(ipaddress.ip_address(address)) is kind


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.1/",
        "https://192.168.0.10/",
        "https://100.64.1.1/",
        "https://127.0.0.1/",
        "http://127.0.0.1/",
        "http://127.1/",
        "http://2130706433/",
        "http://0x7f.1/",
        "https://[::1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://[::ffff:169.254.169.254]/",
        "https://[fe80::1]/",
        "https://[fd12::1]/",
        "https://0.0.0.0/",
        "https://[::]/",
    ],
)
def test_a_non_public_address_is_refused_without_an_allow_list(url: str) -> None:
    """Loopback, private, link-local, metadata… in every spelling, refused by default."""
    with pytest.raises(TargetRefused, match="address"):
        check_target(url, ())


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://example.com/hook", "https"),
        ("http://8.8.8.8/hook", "https"),
        ("http://10.0.0.1/", "https"),
        ("ftp://example.com/", "https"),
        ("file:///etc/passwd", "https"),
        ("gopher://127.0.0.1:6379/_FLUSHALL", "https"),
        ("dict://127.0.0.1:6379/", "https"),
        ("javascript:alert(1)", "https"),
        ("example.com/hook", "https"),
        ("https://user:pw@example.com/", "user name"),
        ("https://user@example.com/", "user name"),
        ("https://example.com@127.0.0.1/", "user name"),
        ("https://example.com/#frag", "fragment"),
        ("https:///path", "host"),
        ("https://exa mple.com/", "spaces"),
        ("https://example.com\\@evil/", "backslash"),
        ("https://example.com:99999/", "a port from 1 to 65535"),
        ("https://example.com:0/", "a port from 1 to 65535"),
        ("https://example.com:x/", "a port from 1 to 65535"),
        ("https://[fe80::1%25eth0]/", "zone"),
        ("https://[not-v6]/", "URL"),
        ("https://[1.2.3.4]/", "URL"),
        ("https://ex_ample.com/", "host name"),
        ("https://-bad.example.com/", "host name"),
        ("https://example..com/", "host name"),
        ("https://example.com../", "host name"),
        ("https://ёxample.com/", "ASCII"),
        ("https://1.2.3.4.5/", "IPv4"),
        ("https://256.1.1.1/", "IPv4"),
        ("https://1.2.3.0x100/", "IPv4"),
        ("https://09.1.1.1/", "IPv4"),
        ("https://example.com/" + "a" * 2048, "2048"),
        ("https://%31%32%37.0.0.1/", "IPv4"),
        ("https://ex%61mple.com/", "host name"),
        ("https://127。0。0。1/", "ASCII"),
        ("https://.example.com/", "host name"),
        ("https://" + "a" * 60 + ("." + "a" * 60) * 4 + "/", "host name"),
        ("https://exa\tmple.com/", "spaces"),
        ("https://example.com/\n", "spaces"),
    ],
)
def test_a_malformed_or_unsafe_url_is_refused_with_its_reason(url: str, reason: str) -> None:
    """Each rule refuses with a reason naming the rule, never echoing the URL."""
    with pytest.raises(TargetRefused, match=reason) as refused:
        check_target(url, ())
    assert url not in str(refused.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/hook",
        "https://Example.COM./hook?x=1",
        "https://8.8.8.8/",
        "https://[2606:4700:4700::1111]:8443/",
        "http://localhost:8080/hook",
        "http://receiver.localhost/",
        "https://xn--e1afmkfd.xn--p1ai/",
    ],
)
def test_a_well_formed_url_passes_the_syntax_rules(url: str) -> None:
    """https to a public name or address, http to a localhost name (its answers are checked
    on lookup)."""
    target = check_target(url, ())
    assert target.host == target.host.lower().rstrip(".")


def test_the_allow_list_admits_loopback_http_and_only_what_it_names() -> None:
    """An operator's allow-list opens exactly its networks, still https-only elsewhere."""
    assert check_target("http://127.0.0.1:8080/hook", LOOPBACK).port == 8080
    assert check_target("http://127.1/", LOOPBACK).address == ipaddress.ip_address("127.0.0.1")
    assert check_target("https://[::1]/", LOOPBACK).address == ipaddress.ip_address("::1")
    with pytest.raises(TargetRefused):
        check_target("https://10.0.0.1/", LOOPBACK)
    private = parse_allowed_networks("10.0.0.0/8")
    assert check_target("https://10.1.2.3/", private).host == "10.1.2.3"
    with pytest.raises(TargetRefused, match="https"):
        check_target("http://10.1.2.3/", private)


@pytest.mark.parametrize("text", ["10.0.0.1/8", "nonsense", "10.0.0.0/33", "fe80::/ten"])
def test_an_allow_list_entry_that_is_not_a_network_is_an_error_naming_it(text: str) -> None:
    """A typo in VERIFY_WEBHOOK_ALLOWED_NETWORKS is never guessed at."""
    with pytest.raises(ValueError, match=repr(text).replace("[", r"\[")):
        parse_allowed_networks(f"127.0.0.0/8, {text}")


def test_an_empty_allow_list_is_no_networks() -> None:
    """Unset or blank means nothing beyond public addresses."""
    assert parse_allowed_networks(" , ") == ()
    assert parse_allowed_networks("127.0.0.1, ::1") == (
        ipaddress.ip_network("127.0.0.1/32"),
        ipaddress.ip_network("::1/128"),
    )


def _dns(table: dict[str, list[str]]) -> Any:
    def getaddrinfo(host: str, port: int, *_: object) -> list[tuple[Any, ...]]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (a, port),
            )
            for a in table[host]
        ]

    return getaddrinfo


def test_a_name_is_refused_if_any_answer_is_not_public() -> None:
    """One private answer among public ones refuses the name: the sender could reach it."""
    resolver = TargetResolver((), _dns({"mixed.example": ["8.8.8.8", "169.254.169.254"]}))
    with pytest.raises(TargetRefused, match="link-local"):
        resolver.resolve("https://mixed.example/hook")


def test_a_name_gives_the_checked_addresses_to_connect_to() -> None:
    """The sender connects to exactly these (no second lookup to rebind)."""
    resolver = TargetResolver(
        (), _dns({"hooks.example": ["8.8.8.8", "8.8.8.8", "2606:4700:4700::1111"]})
    )
    resolved = resolver.resolve("https://hooks.example:8443/x")
    assert resolved.addresses == (
        ipaddress.ip_address("8.8.8.8"),
        ipaddress.ip_address("2606:4700:4700::1111"),
    )
    assert (resolved.target.host, resolved.target.port) == ("hooks.example", 8443)


def test_localhost_is_loopback_and_needs_the_allow_list() -> None:
    """`localhost` resolves to loopback: refused by default, admitted (with http) when listed."""
    dns = _dns({"localhost": ["127.0.0.1", "::1"]})
    with pytest.raises(TargetRefused, match="loopback"):
        TargetResolver((), dns).resolve("http://localhost:8080/")
    assert TargetResolver(LOOPBACK, dns).resolve("http://localhost:8080/").addresses == (
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    )


def test_http_to_a_localhost_name_answering_publicly_is_refused() -> None:
    """Plain http is for loopback only, whatever the name says."""
    resolver = TargetResolver(LOOPBACK, _dns({"evil.localhost": ["8.8.8.8"]}))
    with pytest.raises(TargetRefused, match="https"):
        resolver.resolve("http://evil.localhost/")


def test_a_name_that_does_not_resolve_is_unresolved() -> None:
    """No address, nothing to check: refused (a 400 at save time, a retry at send time)."""
    with pytest.raises(TargetUnresolved, match="does not resolve"):
        TargetResolver((), _dns({})).resolve("https://nowhere.example/")


def test_an_address_literal_is_not_looked_up() -> None:
    """An IP literal is checked as is: no DNS query that could answer something else."""

    def no_dns(*_: object) -> list[Any]:
        raise AssertionError("looked up")

    resolved = TargetResolver(LOOPBACK, no_dns).resolve("http://[::ffff:127.0.0.1]:9/")
    assert resolved.addresses == (ipaddress.ip_address("127.0.0.1"),)
