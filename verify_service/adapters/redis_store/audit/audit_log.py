"""The audit log in Redis: a stream bounded by MAXLEN, and a head record naming the newest
entry's hash (docs/audit-log.md).

An append reads the head, links and MACs the entry against it in Python under the ring's
primary audit key (the key never reaches Redis; the entry stores its id as `k`), and runs
`append_audit_entry.lua`, which adds the entry only if the head is still the one read
(compare-and-set) and moves the head in the same step. A concurrent append makes it read
the new head and try again, so entries form one chain in stream order.
Appends from the threads of one process take turns (a lock): compare-and-set then only
races other processes, and many threads of one process never starve each other into
`TooManyConcurrentRequests` (a busy support desk's audited look-ups, say).

The head is read only when this process has not seen one yet: an append links against the
head this process saw last (its own last append, a compare-and-set's answer, or a read
riding in another round trip just before: `queue_head_read` / `note_head`, see the MFA
challenges). That saves the read's round trip whenever nobody appended since; when
somebody did, the script refuses and answers the head, exactly as after a race. The chain
rests on the script's compare-and-set alone, never on the head read being fresh.
"""

from __future__ import annotations

import hmac
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

import redis

from verify_service.adapters.redis_store.errors import fail_closed
from verify_service.adapters.redis_store.keys import AuditKeys
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.application.audit.audit import AuditRecord, audit_record
from verify_service.application.audit.ports import AuditEntry
from verify_service.application.secrets.ports import Progress, ResealCount
from verify_service.domain.audit_chain import (
    CHECKPOINT_ACTION,
    GENESIS,
    ChainHead,
    ChainRecord,
    ChainReport,
    ChainVerifier,
    checkpoint_reason,
    entry_mac,
    legacy_links_digest,
    parse_body,
    seal_entry,
)
from verify_service.domain.errors import TooManyConcurrentRequests
from verify_service.domain.keyring import LEGACY_KEY_ID

APPEND_ATTEMPTS = 20
# Refused appends retried at once against the head the script answered, before backing off.
IMMEDIATE_RETRIES = 4
PAGE = 500


def _text(value: bytes | None) -> str:
    return "" if value is None else value.decode("utf-8", "replace")


def _seq(value: bytes | None) -> int:
    text = _text(value)
    return int(text) if text.isdigit() else 0


def _record(entry_id: bytes, fields: dict[bytes, bytes]) -> ChainRecord:
    return ChainRecord(
        entry_id=_text(entry_id),
        body=fields.get(b"entry", b""),
        prev=_text(fields.get(b"prev")),
        hash=_text(fields.get(b"hash")),
        key_id=_text(fields[b"k"]) if b"k" in fields else None,
        mac=_text(fields.get(b"mac")),
    )


class RedisAuditLog:
    """`AuditLog` (append) and `AuditTrail` (read, verify) on one stream."""

    def __init__(
        self,
        client: redis.Redis,
        scripts: ScriptBook,
        keys: AuditKeys,
        chain_key: bytes | Mapping[str, bytes],
        max_entries: int,
        kind: str = "audit log",
    ) -> None:
        """`chain_key`: the ring's audit keys by id, the primary first (a bare key is the
        one-key ring `k0`). `kind`: the log's name in `verify-service secrets` (the audit
        log, or the MFA activity log: same rules, its own keys and bound)."""
        ring = {LEGACY_KEY_ID: chain_key} if isinstance(chain_key, bytes) else dict(chain_key)
        if not ring or not all(ring.values()):
            raise ValueError("the audit chain needs a key")
        self._client = client
        self._scripts = scripts
        self._keys = keys
        self._ring = ring
        self._key_id, self._chain_key = next(iter(ring.items()))
        self._max_entries = max_entries
        self.kind = kind
        self._appending = threading.Lock()
        # (hash, seq) of the newest head this process has seen: a hint, checked by the script.
        self._head: tuple[str, int] | None = None

    # -- AuditLog ----------------------------------------------------------------------------

    @fail_closed
    def append(self, entry: AuditEntry) -> None:
        with self._appending:
            self._append(entry)

    def queue_head_read(self, pipe: Any) -> None:
        """Read the head in a pipeline of another round trip (an append follows it)."""
        pipe.hmget(self._keys.head, ["hash", "seq"])

    def note_head(self, raw: list[bytes | None]) -> None:
        """What `queue_head_read` answered: the head the next append links against."""
        self._head = (_text(raw[0]), _seq(raw[1]))

    def _read_head(self) -> tuple[str, int]:
        raw: list[bytes | None] = self._client.hmget(  # type: ignore[assignment]
            self._keys.head, ["hash", "seq"]
        )
        self.note_head(raw)
        return _text(raw[0]), _seq(raw[1])

    def _append(self, entry: AuditEntry) -> None:
        head = self._head or self._read_head()
        for attempt in range(APPEND_ATTEMPTS):
            current, seq = head
            prev = current or GENESIS
            body, digest, mac = seal_entry(
                self._key_id, self._chain_key, prev, _fields(entry, seq + 1)
            )
            result = self._scripts.run(
                self._client,
                "append_audit_entry",
                [self._keys.log, self._keys.head],
                [current, digest, seq + 1, body, prev, self._max_entries, self._key_id, mac],
            )
            if int(result[0]) == 1:
                self._head = (digest, seq + 1)
                return
            # The head moved (another process appended, or the one seen here was old): the
            # script answered the head as it is now; chain onto it at once.
            head = self._head = (_text(result[1]), _seq(result[2]))
            if attempt + 1 >= IMMEDIATE_RETRIES:
                # Still racing: back off (exponential, full jitter, ≤ 64 ms). The head the
                # script answered is old by the time the sleep ends: read it again.
                time.sleep(random.uniform(0, 0.001 * 2 ** min(attempt, 6)))  # noqa: S311
                head = self._read_head()
        raise TooManyConcurrentRequests("the audit log's head kept moving")

    # -- AuditTrail --------------------------------------------------------------------------

    @fail_closed
    def newest(
        self, limit: int, before: str | None = None, skip: int = 0
    ) -> tuple[list[AuditRecord], bool]:
        upper = f"({before}" if before is not None else "+"
        raw: list[Any] = self._client.xrevrange(  # type: ignore[assignment]
            self._keys.log, max=upper, min="-", count=skip + limit + 1
        )
        page = raw[skip:]
        records = []
        for entry_id, fields in page[:limit]:
            stored = _record(entry_id, fields)
            found = audit_record(stored)
            records.append(found if found is not None else _unreadable(stored))
        return records, len(page) > limit

    def records(self, after: str | None = None) -> Iterator[ChainRecord]:
        cursor = f"({after}" if after is not None else "-"
        while True:
            page = self._page(cursor)
            yield from (_record(entry_id, fields) for entry_id, fields in page)
            if len(page) < PAGE:
                return
            cursor = f"({_text(page[-1][0])}"

    @fail_closed
    def _page(self, cursor: str) -> list[Any]:
        page: list[Any] = self._client.xrange(  # type: ignore[assignment]
            self._keys.log, min=cursor, max="+", count=PAGE
        )
        return page

    @fail_closed
    def verify(self) -> ChainReport:
        """Page through the stream oldest first; the last page and the head are read in one
        MULTI, so appends running meanwhile are either checked or not yet in the head."""
        return self._check()[0]

    @fail_closed
    def _check(self) -> tuple[ChainReport, ChainVerifier]:
        verifier = ChainVerifier(self._ring, self._legacy_links())
        cursor = "-"
        while True:
            pipe = self._client.pipeline(transaction=True)
            pipe.xrange(self._keys.log, min=cursor, max="+", count=PAGE)
            pipe.hmget(self._keys.head, ["hash", "seq"])
            page, head = pipe.execute()
            for entry_id, fields in page:
                if not verifier.feed(_record(entry_id, fields)):
                    return verifier.finish(None), verifier
            if len(page) < PAGE:
                found = None if head[0] is None else ChainHead(_text(head[0]), _seq(head[1]))
                return verifier.finish(found), verifier
            cursor = f"({_text(page[-1][0])}"

    @fail_closed
    def _legacy_links(self) -> dict[str, str]:
        raw: dict[bytes, bytes] = self._client.hgetall(self._keys.legacy_links)  # type: ignore[assignment]
        return {_text(entry): _text(link) for entry, link in raw.items()}

    # -- rotation (`Resealable`) ----------------------------------------------------------

    def _needing(self) -> tuple[Counter[str], int]:
        """How many entries each key id is needed for, and how many entries a checkpoint
        under the primary would newly vouch for.

        A checkpoint vouches, through the links, for every entry before it, so an entry
        followed by one needs only the key of the *last* such checkpoint (an entry from
        before key ids: of the last checkpoint that names the legacy links). An entry is
        settled only when that key (or its own, when no checkpoint follows it) is the
        primary: a checkpoint under an older key leaves its entries needing that key."""
        linked: Counter[str] = Counter()  # entries since the last checkpoint, by key id
        covered, covered_by = 0, ""  # entries before the last checkpoint, and its key
        legacy, legacy_by = 0, LEGACY_KEY_ID  # entries from before key ids, and their key
        for record in self.records():
            if record.key_id is None:
                legacy += 1
                continue
            linked[record.key_id] += 1
            try:
                fields = parse_body(record.body)
            except ValueError:
                continue
            if fields["action"] == CHECKPOINT_ACTION and self._genuine(record):
                covered, covered_by = covered + sum(linked.values()), record.key_id
                linked.clear()
                if "legacy links" in (fields["reason"] or ""):
                    legacy_by = record.key_id
        counts = Counter(linked)
        counts[covered_by] += covered
        counts[legacy_by] += legacy
        unvouched = sum(n for key_id, n in counts.items() if key_id != self._key_id)
        return +counts, unvouched

    def _genuine(self, record: ChainRecord) -> bool:
        """Whether a checkpoint's MAC checks (one under a key not on the ring cannot be
        checked: it counts, and its entries show as needing that key)."""
        key = self._ring.get(record.key_id or "")
        if key is None:
            return True
        expected = entry_mac(key, record.key_id or "", record.hash)
        return hmac.compare_digest(expected, record.mac)

    def key_ids(self) -> Counter[str]:
        return self._needing()[0]

    def reseal(self, progress: Progress, now_ms: int) -> ResealCount:
        """Append a checkpoint MAC'd under the primary when entries are not yet vouched for
        by one, after checking the whole chain under the full ring (a chain that does not
        check gets no checkpoint: it would vouch for tampering). The checkpoint is chained
        onto the very head that was checked (compare-and-set; checked again if an append
        moved it), so it vouches for nothing unchecked. Entries from before key ids: the
        links this check computed are written with the checkpoint, in one script, and the
        checkpoint names the digest of the table they make (refused if Redis holds another
        link for one of them)."""
        count = ResealCount(self.kind)
        counts, unvouched = self._needing()
        count.looked_at = sum(counts.values())
        progress(self.kind, count.looked_at)
        if not unvouched:
            count.already_primary = count.looked_at
            return count
        for _attempt in range(APPEND_ATTEMPTS):
            report, verifier = self._check()
            if report.first_break is not None:
                count.unreadable = unvouched
                count.notes.append(
                    f"the chain does not check ({report.first_break.entry_id}: "
                    f"{report.first_break.problem}): no checkpoint appended"
                )
                return count
            table = self._legacy_links()
            changed = [
                entry
                for entry, link in verifier.checked_legacy_links.items()
                if entry in table and not hmac.compare_digest(table[entry], link)
            ]
            if changed:
                count.unreadable = unvouched
                count.notes.append(
                    f"{len(changed)} legacy links in Redis differ from the entries they "
                    "name: no checkpoint appended (with k0 still on the ring, delete the "
                    "legacy-link table and run it again)"
                )
                return count
            table.update(verifier.checked_legacy_links)
            appended = self._append_checkpoint(report, table, now_ms)
            if appended == 1:
                count.resealed = unvouched
                count.already_primary = count.looked_at - unvouched
                return count
            if appended == -1:
                count.raced = unvouched
                count.notes.append(
                    "the legacy links changed in Redis during the reseal: no checkpoint "
                    "appended (run it again)"
                )
                return count
        raise TooManyConcurrentRequests("the audit log's head kept moving")

    @fail_closed
    def _append_checkpoint(self, report: ChainReport, table: dict[str, str], now_ms: int) -> int:
        """Chain a checkpoint onto `report`'s head: 1 done, 0 the head moved since, -1 the
        legacy-link table in Redis is not `table` (nothing written)."""
        head = report.head or ""
        seq = report.trimmed + report.checked
        digest = legacy_links_digest(table) if table else None
        entry = AuditEntry(
            actor="cli",
            role="admin",
            action=CHECKPOINT_ACTION,
            target="audit",
            outcome="ok",
            time_ms=now_ms,
            reason=checkpoint_reason(head or GENESIS, digest),
        )
        prev = head or GENESIS
        body, link, mac = seal_entry(self._key_id, self._chain_key, prev, _fields(entry, seq + 1))
        args: list[str | bytes | int] = [head, link, seq + 1, body, prev, self._max_entries]
        args += [self._key_id, mac, len(table)]
        args += [item for pair in sorted(table.items()) for item in pair]
        with self._appending:
            result = self._scripts.run(
                self._client,
                "append_audit_checkpoint",
                [self._keys.log, self._keys.head, self._keys.legacy_links],
                args,
            )
        return int(result[0])


def _fields(entry: AuditEntry, seq: int) -> dict[str, Any]:
    return {
        "seq": seq,
        "actor": entry.actor,
        "role": entry.role,
        "action": entry.action,
        "target": entry.target,
        "outcome": entry.outcome,
        "time_ms": entry.time_ms,
        "reason": entry.reason,
    }


def _unreadable(record: ChainRecord) -> AuditRecord:
    """A record whose body is malformed (`audit verify` names it): shown, not hidden."""
    entry = AuditEntry(actor="", role="", action="(malformed)", target="", outcome="", time_ms=0)
    return AuditRecord(record.entry_id, 0, entry, record.prev, record.hash)
