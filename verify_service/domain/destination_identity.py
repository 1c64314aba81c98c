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
  `victim@gmail.com`. Proton ignores `.`, `_` and `-` in user names and delivers
  `proton.me`, `protonmail.com`, `protonmail.ch` and `pm.me` to one mailbox, so those fold to
  `…@proton.me` without them. Other domains keep their dots (they may mean different
  mailboxes);
- Fastmail's subdomain addressing delivers `anything@user.fastmail.com` to
  `user@fastmail.com` (and `.fm` likewise), so such an address counts as `user@fastmail.com`.

Messages still go to the address as given (its domain lower-cased): the identity is never
an address anything is sent to.
"""

from __future__ import annotations

from dataclasses import dataclass

SUBADDRESS_SEPARATOR = "+"
# Domains of one provider whose mailboxes ignore some characters of the local part:
# domain → (the domain its identity uses, the characters dropped from the local part).
FOLDED_DOMAINS: dict[str, tuple[str, str]] = {
    "gmail.com": ("gmail.com", "."),
    "googlemail.com": ("gmail.com", "."),
    "proton.me": ("proton.me", "._-"),
    "protonmail.com": ("proton.me", "._-"),
    "protonmail.ch": ("proton.me", "._-"),
    "pm.me": ("proton.me", "._-"),
}
# Fastmail's subdomain addressing: `anything@user.<domain>` reaches `user@<domain>`.
SUBDOMAIN_ADDRESSED = ("fastmail.com", "fastmail.fm")


def destination_identity(destination: str) -> str:
    """The identity of a normalised destination (see the module's docstring)."""
    if "@" not in destination:
        return destination
    local, domain = destination.rsplit("@", 1)
    local, domain = local.lower(), domain.lower()
    cut = local.find(SUBADDRESS_SEPARATOR)
    if cut > 0:
        local = local[:cut]
    for parent in SUBDOMAIN_ADDRESSED:
        user, dot, rest = domain.partition(".")
        if dot and rest == parent and user:
            local, domain = user, parent
    folded = FOLDED_DOMAINS.get(domain)
    if folded is not None:
        domain, ignored = folded
        local = local.translate(str.maketrans("", "", ignored)) or local
    return f"{local}@{domain}"


@dataclass(frozen=True, slots=True)
class Destination:
    """Where a message goes (`address`) and who it counts as (`identity`)."""

    address: str
    identity: str

    @classmethod
    def of(cls, normalised: str) -> Destination:
        return cls(normalised, destination_identity(normalised))
