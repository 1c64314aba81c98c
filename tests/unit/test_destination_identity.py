"""A destination's identity: every spelling of one mailbox is one identity; the address a
message goes to is left as given; a client address counts by its network."""

from __future__ import annotations

import pytest

from verify_service.domain.destination_identity import Destination, destination_identity
from verify_service.domain.destinations import normalize_email
from verify_service.domain.protection.client_network import client_network
from verify_service.domain.service import Service


@pytest.mark.parametrize(
    ("spelling", "identity"),
    [
        ("victim@example.com", "victim@example.com"),
        ("Victim@Example.COM", "victim@example.com"),
        ("VICTIM@EXAMPLE.COM", "victim@example.com"),
        ("victim+shop@example.com", "victim@example.com"),
        ("Victim+Shop+2@Example.com", "victim@example.com"),
        ("victim+@example.com", "victim@example.com"),
        ("+ops@example.com", "+ops@example.com"),  # nothing would be left without the +
        ("v.ictim@example.com", "v.ictim@example.com"),  # dots mean something elsewhere
        ("v.i.c.t.i.m@gmail.com", "victim@gmail.com"),
        ("V.ictim+1@GoogleMail.com", "victim@gmail.com"),
        ("Ünïcode+x@bücher.de", "ünïcode@bücher.de"),
        ("+14155552671", "+14155552671"),  # a phone number is its own identity
    ],
)
def test_identity_folds_the_spellings_of_one_mailbox(spelling: str, identity: str) -> None:
    """Case, a +tag sub-address and (at Gmail) dots do not make another destination."""
    assert destination_identity(normalize_email(spelling) if "@" in spelling else spelling) == (
        identity
    )


def test_the_address_a_message_goes_to_keeps_its_spelling() -> None:
    """The identity is counted; the address is where the message goes (domain lower-cased)."""
    destination = Destination.of(normalize_email("Victim+Shop@Example.COM"))
    assert destination.address == "Victim+Shop@example.com"
    assert destination.identity == "victim@example.com"


def test_different_mailboxes_keep_different_identities() -> None:
    """Folding never merges two local parts that differ in more than case, tag or Gmail dots."""
    spellings = ["alice@example.com", "alicia@example.com", "alice@example.org", "a.lice@x.com"]
    assert len({destination_identity(s) for s in spellings}) == len(spellings)


def test_a_test_destination_is_recognised_in_any_spelling() -> None:
    """A test mailbox's fixed code answers its every spelling, as its pending verification does."""
    service = Service(
        sid="VA" + "0" * 32,
        friendly_name="Acme",
        date_created_ms=0,
        date_updated_ms=0,
        test_destinations=(("qa@example.com", "0000"),),
    )
    assert service.test_code_for("QA+run7@Example.COM") == "0000"
    assert service.test_code_for("qa2@example.com") is None


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("::FFFF:cb00:7107", "203.0.113.7"),
        ("2001:db8:1:2::5", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("2001:0DB8:0001:0002:0000:0000:0000:0006", "2001:db8:1:2::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        ("64:ff9b::203.0.113.7", "203.0.113.7"),  # NAT64: one client per IPv4 host
        ("64:ff9b::198.51.100.9", "198.51.100.9"),
        ("2002:cb00:7107:1234::1", "203.0.113.7"),  # 6to4: all its /64s are one host
        ("2002:cb00:7107:ffff::9", "203.0.113.7"),
        ("unknown", "unknown"),
    ],
)
def test_a_client_address_counts_by_its_network(address: str, network: str) -> None:
    """IPv4 as itself; IPv4-mapped, NAT64 and 6to4 IPv6 as their IPv4 host; other IPv6 per
    /64."""
    assert client_network(address) == network


def test_neighbouring_ipv6_networks_stay_apart() -> None:
    """Two /64s next to each other are two clients."""
    assert client_network("2001:db8:1:2::1") != client_network("2001:db8:1:3::1")
