"""A destination's identity: what its limits, its pending verification and look-ups by `To`
key on, apart from the address a message is delivered to.

A phone number is its own identity (E.164). An e-mail mailbox can be spelt many ways that
all reach it, so its identity folds the spellings (docs/abuse-protection.md, "One mailbox,
one identity"):

- the whole address is lower-cased (`Victim@Example.COM` → `victim@example.com`);
- a sub-address is dropped: the local part ends at its first `+` (RFC 5233's separator, used
  by Gmail, Outlook, iCloud, Fastmail, Proton…), so `victim+shop@example.com` → `victim@…`.
  A local part that starts with `+` keeps it (nothing would be left);
- Gmail ignores dots and treats `googlemail.com` as `gmail.com`, so at those two domains the
  dots of the local part go and the domain is `gmail.com`: `v.i.c.t.i.m@googlemail.com` →
  `victim@gmail.com`. Other domains keep their dots (they may mean different mailboxes).

Messages still go to the address as given (its domain lower-cased): the identity is never
an address anything is sent to.
"""

from __future__ import annotations

from dataclasses import dataclass

SUBADDRESS_SEPARATOR = "+"
DOTLESS_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def destination_identity(destination: str) -> str:
    """The identity of a normalised destination (see the module's docstring)."""
    if "@" not in destination:
        return destination
    local, domain = destination.rsplit("@", 1)
    local, domain = local.lower(), domain.lower()
    cut = local.find(SUBADDRESS_SEPARATOR)
    if cut > 0:
        local = local[:cut]
    canonical_domain = DOTLESS_DOMAINS.get(domain)
    if canonical_domain is not None:
        local = local.replace(".", "") or local
        domain = canonical_domain
    return f"{local}@{domain}"


@dataclass(frozen=True, slots=True)
class Destination:
    """Where a message goes (`address`) and who it counts as (`identity`)."""

    address: str
    identity: str

    @classmethod
    def of(cls, normalised: str) -> Destination:
        return cls(normalised, destination_identity(normalised))
