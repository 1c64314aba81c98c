"""The audit log's hash chain: canonical encoding, the links, the keyed MACs, and checking a
sequence (docs/audit-log.md).

Each entry is stored as its canonical JSON body, the previous entry's hash (`prev`), its own
`hash = SHA-256(prev ‖ 0x0a ‖ body)` (an unkeyed link, like git's), the id `k` of the ring
key that made it, and `mac = HMAC-SHA256(k_audit[k], k ‖ 0x00 ‖ hash)`. The links make the
chain a plain hash chain, so a MAC'd entry commits to every entry before it. Whoever can
only write to Redis cannot forge an entry, nor alter one a MAC'd entry follows. Entries made
under a key that has since left the ring are checked through the links up to the next
checkpoint (`CHECKPOINT_ACTION`, appended by a rotation's reseal after checking the whole
chain under the full ring) whose MAC checks and whose "through" head is its own `prev`; an
entry under a key not on the ring that no checkpoint follows is a break (someone who can
write to Redis could have made it).

Entries from before key ids have no `k`: their `hash` is `HMAC-SHA256(k_audit[k0], prev ‖
0x0a ‖ body)` and they are checked under `k0` while it is on the ring. Once it is not, each is
checked through its *legacy link* (`hash` → `SHA-256(prev ‖ 0x0a ‖ body)`, written by the
reseal that checked them under `k0`) and the table of those links must be the one a later
checkpoint names by its digest (`legacy_links_digest`). The body carries a
sequence number (`seq`, 1 for the first entry ever), so a check can say how many entries a
gap lost.

No I/O here: the Redis adapter reads, this module judges.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from verify_service.domain.keyring import LEGACY_KEY_ID

# `prev` of the first entry ever appended.
GENESIS = "0" * 64
# What a rotation's reseal appends: an entry MAC'd under the primary that vouches, through
# the links, for the entries before it made under keys that may later leave the ring.
CHECKPOINT_ACTION = "secrets.reseal"

# The body's fields and the types they must have (`reason` may be null).
FIELDS: Mapping[str, tuple[type, ...]] = {
    "seq": (int,),
    "actor": (str,),
    "role": (str,),
    "action": (str,),
    "target": (str,),
    "outcome": (str,),
    "time_ms": (int,),
    "reason": (str, type(None)),
}


class MalformedEntry(ValueError):
    """A stored body that is not the canonical JSON of a complete entry."""


def canonical(body: Mapping[str, Any]) -> bytes:
    """The one encoding that is hashed: sorted keys, no spaces, UTF-8, no NaN."""
    return json.dumps(
        dict(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def entry_hash(key: bytes, prev: str, body: bytes) -> str:
    """HMAC-SHA256(key, prev ‖ 0x0a ‖ body) in hex; `prev` is 64 hex digits (no newline), so
    the concatenation is unambiguous."""
    return hmac.new(key, prev.encode("utf-8") + b"\n" + body, hashlib.sha256).hexdigest()


def seal(key: bytes, prev: str, fields: Mapping[str, Any]) -> tuple[bytes, str]:
    """The body and keyed hash of an entry in the form from before key ids (reading only;
    tests build old logs with it)."""
    body = canonical(fields)
    parse_body(body)  # refuse to write what a check would reject
    return body, entry_hash(key, prev, body)


_LEGACY_LINKS = re.compile(r"legacy links ([0-9a-f]{64})")
_THROUGH = re.compile(r"vouches for entries through ([0-9a-f]{64})")


def legacy_links_digest(links: Mapping[str, str]) -> str:
    """SHA-256 over the sorted `hash:link` lines of the legacy-link table: what a checkpoint
    names (`legacy links <digest>` in its reason) to vouch for the whole table."""
    lines = "".join(f"{entry}:{link}\n" for entry, link in sorted(links.items()))
    return hashlib.sha256(lines.encode("ascii")).hexdigest()


def checkpoint_reason(head: str, legacy_digest: str | None) -> str:
    reason = f"vouches for entries through {head}"
    return reason if legacy_digest is None else f"{reason}; legacy links {legacy_digest}"


def link_hash(prev: str, body: bytes) -> str:
    """SHA-256(prev ‖ 0x0a ‖ body) in hex: the unkeyed link the next entry's `prev` names."""
    return hashlib.sha256(prev.encode("utf-8") + b"\n" + body).hexdigest()


def entry_mac(key: bytes, key_id: str, link: str) -> str:
    """HMAC-SHA256(k_audit[key_id], key_id ‖ 0x00 ‖ hash) in hex."""
    message = key_id.encode("ascii") + b"\x00" + link.encode("ascii")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def seal_entry(
    key_id: str, key: bytes, prev: str, fields: Mapping[str, Any]
) -> tuple[bytes, str, str]:
    """The stored body of a new entry, its link hash (chained to `prev`) and its MAC."""
    body = canonical(fields)
    parse_body(body)  # refuse to write what a check would reject
    link = link_hash(prev, body)
    return body, link, entry_mac(key, key_id, link)


def parse_body(raw: bytes | str) -> dict[str, Any]:
    """The entry's fields from its stored body; `MalformedEntry` unless the body is exactly
    the canonical encoding of a complete entry."""
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    try:
        fields = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise MalformedEntry("not JSON") from None
    if not isinstance(fields, dict) or set(fields) != set(FIELDS):
        raise MalformedEntry("fields missing or unexpected")
    for name, types in FIELDS.items():
        value = fields[name]
        if isinstance(value, bool) or not isinstance(value, types):
            raise MalformedEntry(f"{name} has the wrong type")
    if canonical(fields) != data:
        raise MalformedEntry("not in canonical form")
    return fields


@dataclass(frozen=True, slots=True)
class ChainRecord:
    """One stored entry as read back: its stream id, body, `prev` and `hash`."""

    entry_id: str
    body: bytes
    prev: str
    hash: str
    key_id: str | None = None  # None: an entry from before key ids
    mac: str = ""


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The head record: the newest entry's hash and sequence number."""

    hash: str
    seq: int


@dataclass(frozen=True, slots=True)
class ChainBreak:
    entry_id: str  # the stream id of the first entry that does not check, or "head"
    problem: str


@dataclass(frozen=True, slots=True)
class ChainReport:
    """What a check found. `anchor` is the first retained entry's `prev` (GENESIS while
    nothing was trimmed); `trimmed` counts the older entries the retention bound removed."""

    checked: int
    head: str | None
    anchor: str | None
    trimmed: int
    first_break: ChainBreak | None

    @property
    def ok(self) -> bool:
        return self.first_break is None


class ChainVerifier:
    """Checks entries fed oldest first, then the head record (`finish`).

    `keys`: the ring's audit keys by id (a bare key is the one-key ring `k0`). Detected: an
    altered body, `prev` or `hash` (the link or the MAC no longer matches; an entry under a
    key no longer on the ring through the links up to the next entry whose MAC checks); an
    entry
    removed from the middle or moved (`prev` does not name the entry before it, or `seq`
    does not follow); a head that does not name the last entry (the newest entries removed,
    or the head rewritten). Not detected, by design: entries missing from the *old* end,
    which is what the retention bound does (the first retained entry's `prev` is taken as
    the anchor). Stops at the first break.
    """

    def __init__(
        self, keys: bytes | Mapping[str, bytes], legacy_links: Mapping[str, str] | None = None
    ) -> None:
        self._keys = {LEGACY_KEY_ID: keys} if isinstance(keys, bytes) else dict(keys)
        # The first entry (id, key id) not yet vouched for by a checkpoint whose MAC checks;
        # the first entry from before key ids checked by its legacy link only.
        self._unattested: tuple[str, str] | None = None
        self._legacy_pending: str | None = None
        self._legacy_links = dict(legacy_links or {})
        self._legacy_digest = legacy_links_digest(self._legacy_links)
        # The legacy link of every entry from before key ids this check accepted (what a
        # reseal may write and name, computed here rather than read back from Redis).
        self.checked_legacy_links: dict[str, str] = {}
        self._checked = 0
        self._previous: tuple[str, int] | None = None  # (hash, seq) of the last good entry
        self._anchor: str | None = None
        self._trimmed = 0
        self._break: ChainBreak | None = None

    def feed(self, record: ChainRecord) -> bool:
        """Check one more entry; False once the chain is broken (feed no more)."""
        if self._break is not None:
            return False
        problem = self._problem(record)
        if problem is not None:
            self._break = ChainBreak(record.entry_id, problem)
            return False
        self._checked += 1
        return True

    def _problem(self, record: ChainRecord) -> str | None:
        try:
            seq: int = parse_body(record.body)["seq"]
        except MalformedEntry as exc:
            return f"malformed: {exc}"
        problem = self._hash_problem(record)
        if problem is not None:
            return problem
        previous = self._previous
        if previous is None:
            self._anchor, self._trimmed = record.prev, max(seq - 1, 0)
            if seq < 1 or (seq == 1) != (record.prev == GENESIS):
                return "bad start of the chain"
        elif record.prev != previous[0] or seq != previous[1] + 1:
            return _gap(previous[1], seq)
        self._previous = (record.hash, seq)
        return None

    def _legacy_problem(self, record: ChainRecord) -> str | None:
        legacy = self._keys.get(LEGACY_KEY_ID)
        if legacy is None:
            link = self._legacy_links.get(record.hash)
            if link is None:
                return "made before key ids, under key k0, which is not on the ring"
            if not hmac.compare_digest(link, link_hash(record.prev, record.body)):
                return "altered: its content does not match its legacy link"
            if self._legacy_pending is None:
                self._legacy_pending = record.entry_id
            self.checked_legacy_links[record.hash] = link
            return None
        if not hmac.compare_digest(entry_hash(legacy, record.prev, record.body), record.hash):
            return "altered: its hash does not match its content"
        self.checked_legacy_links[record.hash] = link_hash(record.prev, record.body)
        return None

    def _hash_problem(self, record: ChainRecord) -> str | None:
        if record.key_id is None:
            return self._legacy_problem(record)
        if not hmac.compare_digest(link_hash(record.prev, record.body), record.hash):
            return "altered: its hash does not match its content"
        key = self._keys.get(record.key_id)
        if key is None:
            if self._unattested is None:
                self._unattested = (record.entry_id, record.key_id)
            return None
        if not hmac.compare_digest(entry_mac(key, record.key_id, record.hash), record.mac):
            return "altered: its MAC does not match (or was made without the key)"
        fields = parse_body(record.body)
        if fields["action"] == CHECKPOINT_ACTION:
            # It vouches for what its reseal checked: the head it names must be its `prev`
            # (else it would vouch for entries appended between the check and it).
            through = _THROUGH.search(fields["reason"] or "")
            if through is None or not hmac.compare_digest(through.group(1), record.prev):
                return "a checkpoint that does not vouch for the entry before it"
            self._unattested = None  # a checkpoint vouches for the links before it
            named = _LEGACY_LINKS.search(fields["reason"] or "")
            if named is not None and hmac.compare_digest(named.group(1), self._legacy_digest):
                self._legacy_pending = None  # … and for the legacy links it names
        return None

    def finish(self, head: ChainHead | None) -> ChainReport:
        """The report, after comparing the last entry with the head record."""
        problem = None if self._break is not None else self._head_problem(head)
        if problem is not None:
            self._break = ChainBreak("head", problem)
        elif self._break is None and self._legacy_pending is not None:
            self._break = ChainBreak(
                self._legacy_pending,
                "made before key ids under k0, which is not on the ring, and no checkpoint "
                "vouches for its legacy link",
            )
        elif self._break is None and self._unattested is not None:
            entry_id, key_id = self._unattested
            self._break = ChainBreak(
                entry_id,
                f"made under key {key_id}, which is not on the ring, and no later entry "
                "under a ring key vouches for it",
            )
        return ChainReport(
            self._checked,
            head.hash if head is not None else None,
            self._anchor,
            self._trimmed,
            self._break,
        )

    def _head_problem(self, head: ChainHead | None) -> str | None:
        previous = self._previous
        if head is None:
            return None if previous is None else "the head record is missing"
        if previous is None:
            empty = f"the log is empty but the head names entry {head.seq}"
            return None if head.seq == 0 else empty
        if head.seq != previous[1]:
            return f"the head names entry {head.seq}, the last entry is {previous[1]}"
        if head.hash != previous[0]:
            return "the head's hash does not match the last entry"
        return None


def verify_chain(
    keys: bytes | Mapping[str, bytes],
    records: Iterable[ChainRecord],
    head: ChainHead | None,
    legacy_links: Mapping[str, str] | None = None,
) -> ChainReport:
    """Check a whole sequence (oldest first) and the head record: see `ChainVerifier`."""
    verifier = ChainVerifier(keys, legacy_links)
    for record in records:
        if not verifier.feed(record):
            break
    return verifier.finish(head)


def _gap(previous_seq: int, seq: int) -> str:
    if seq > previous_seq + 1:
        missing = seq - previous_seq - 1
        return f"{missing} entr{'y' if missing == 1 else 'ies'} removed before it"
    if seq <= previous_seq:
        return "out of order"
    return "does not follow the previous entry"
