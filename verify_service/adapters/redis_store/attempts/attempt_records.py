"""Send attempts' records in Redis: the attempt history's storage, and the delivery status
the worker and the providers' receipts change.

An attempt lives in the bucket of its service and UTC hour, which its `VL` sid names
(domain/sids.py), under one hash tag (keys.HistoryKeys):

- `…:r`, a stream: one entry per attempt, its id the creation time, its one field `d` the
  packed record (attempt key, verification sid, channel, country, the destination sealed with
  AES-256-GCM and the attempt sid as associated data). Streams keep entries in listpacks with
  ids delta-encoded and the field name written once per node: ~10 bytes beside the record.
- `…:s`, a hash: the attempt key → its delivery status, which changes (see
  record_attempt.lua for the format), and `va` → the service sid.

Both keys get one TTL when the bucket is created (the end of its hour plus the retention),
so retention is whole buckets expiring: nothing is trimmed, nothing refreshed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis

from verify_service.adapters.destination_cipher import DestinationCipher
from verify_service.adapters.redis_store.errors import fail_closed
from verify_service.adapters.redis_store.keys import HistoryKeys
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.domain import sids

DEFAULT_RETENTION_MS = 30 * 24 * 3600 * 1000
_SEPARATOR = "\x1f"
_STATUS_RANK = {"queued": 0, "sent": 1, "delivered": 2, "undelivered": 2, "failed": 2}
_STATUS_LETTER = {"queued": "q", "sent": "s", "delivered": "d", "undelivered": "u", "failed": "f"}
_LETTER_STATUS = {letter: status for status, letter in _STATUS_LETTER.items()}
# Channels by one byte in the packed record (a new channel needs a new byte here).
_CHANNEL_BYTE = {"sms": b"s", "call": b"c", "email": b"e", "whatsapp": b"w"}
_BYTE_CHANNEL = {code[0]: channel for channel, code in _CHANNEL_BYTE.items()}
_KEY_BYTES = sids.ATTEMPT_KEY_HEX_DIGITS // 2
_SID_BYTES = 16


def attempt_context(attempt_sid: str) -> bytes:
    """The associated data an attempt's destination is sealed with."""
    return f"attempt:{attempt_sid}".encode("ascii")


@dataclass(frozen=True, slots=True)
class AttemptRow:
    """One attempt as stored: the record (sealed destination) and its delivery status."""

    sid: str
    service_sid: str
    verification_sid: str
    channel: str
    country: str | None
    sealed_to: bytes
    created_ms: int
    entry_seq: int
    status: dict[str, str]

    @property
    def updated_ms(self) -> int:
        return int(self.status.get("ua", self.created_ms))


@dataclass(frozen=True, slots=True)
class PackedRecord:
    """A stream entry's record, before its delivery status is read."""

    key: str
    verification_sid: str
    channel: str
    country: str | None
    sealed_to: bytes


def pack_record(
    key: str, verification_sid: str, channel: str, country: str | None, sealed: bytes
) -> bytes:
    """Attempt key (7 bytes), VE sid (16), channel (1), country (2, or two NULs), sealed `To`."""
    code = _CHANNEL_BYTE.get(channel)
    if code is None:
        raise ValueError(f"no record byte for channel {channel!r}")
    where = (country or "").encode("ascii")[:2].ljust(2, b"\x00")
    return bytes.fromhex(key) + bytes.fromhex(verification_sid[2:]) + code + where + sealed


def unpack_record(blob: bytes) -> PackedRecord | None:
    head = _KEY_BYTES + _SID_BYTES
    if len(blob) < head + 3:
        return None
    channel = _BYTE_CHANNEL.get(blob[head])
    if channel is None:
        return None
    country = blob[head + 1 : head + 3].rstrip(b"\x00").decode("ascii") or None
    return PackedRecord(
        key=blob[:_KEY_BYTES].hex(),
        verification_sid="VE" + blob[_KEY_BYTES:head].hex(),
        channel=channel,
        country=country,
        sealed_to=blob[head + 3 :],
    )


def decode_status(raw: bytes, hour_start_ms: int) -> dict[str, str]:
    """The status value as the fields of the former status hash (times in epoch ms)."""
    parts = raw.decode("utf-8").split(_SEPARATOR)
    if len(parts) != 11:
        return {}
    entry_ms, _seq, rank, letter, updated, queued, sent, final, provider, pmid, err = parts
    status = _LETTER_STATUS.get(letter, "queued")
    fields = {
        "ca": str(hour_start_ms + int(entry_ms)),
        "status": status,
        "rank": rank,
        "ua": str(hour_start_ms + int(updated)),
    }
    for name, offset in (("t_queued", queued), ("t_sent", sent)):
        if offset:
            fields[name] = str(hour_start_ms + int(offset))
    if final:
        fields[f"t_{status}"] = str(hour_start_ms + int(final))
    for name, value in (("provider", provider), ("pmid", pmid), ("err", err)):
        if value:
            fields[name] = value
    return fields


def _clean(value: str) -> str:
    """A value written into the status (never the separator)."""
    return value.replace(_SEPARATOR, "")


class RedisAttemptRecords:
    """Create, update and read send attempts' records, by `VL` sid."""

    def __init__(
        self,
        client: redis.Redis,
        scripts: ScriptBook,
        keys: HistoryKeys,
        cipher: DestinationCipher,
        retention_ms: int = DEFAULT_RETENTION_MS,
    ) -> None:
        self._client = client
        self._scripts = scripts
        self._keys = keys
        self._cipher = cipher
        self.retention_ms = retention_ms

    def bucket_keys(self, location: sids.AttemptLocation) -> tuple[str, str]:
        """(records stream, statuses hash) of a bucket."""
        return (
            self._keys.records(location.service_locator, location.hour),
            self._keys.statuses(location.service_locator, location.hour),
        )

    def open_destination(self, row: AttemptRow) -> str | None:
        return self._cipher.open(row.sealed_to, attempt_context(row.sid))

    # -- writing ------------------------------------------------------------------------

    def queue_creation(
        self,
        pipe: Any,
        attempt_sid: str,
        service_sid: str,
        verification_sid: str,
        channel: str,
        to: str,
        country: str | None,
        now_ms: int,
    ) -> None:
        """Record a new attempt, status `queued` (one EVALSHA in the caller's pipeline)."""
        location = sids.attempt_location(attempt_sid)
        if location is None:
            raise ValueError("not a VL sid")
        records, statuses = self.bucket_keys(location)
        sealed = self._cipher.seal(to, attempt_context(attempt_sid))
        # The bucket lives until its hour ends plus the retention (relative to the caller's
        # clock, like every TTL here; at least 1 ms for a sid from another hour).
        ttl_ms = max(1, location.hour_start_ms + sids.HOUR_MS + self.retention_ms - now_ms)
        pipe.evalsha(
            self._scripts.sha("record_attempt"),
            2,
            records,
            statuses,
            now_ms,
            location.hour_start_ms,
            bytes.fromhex(location.key),
            pack_record(location.key, verification_sid, channel, country, sealed),
            ttl_ms,
            service_sid,
        )

    @fail_closed
    def record_status(
        self,
        attempt_sid: str,
        status: str,
        now_ms: int,
        provider: str = "",
        provider_message_id: str = "",
        error_code: str = "",
    ) -> bool:
        """True when recorded; False when the status would have moved backwards (or the
        attempt is not in the history)."""
        location = sids.attempt_location(attempt_sid)
        if location is None:
            return False
        done = self._scripts.run(
            self._client,
            "record_attempt_status",
            [self.bucket_keys(location)[1]],
            [
                bytes.fromhex(location.key),
                now_ms,
                location.hour_start_ms,
                _STATUS_LETTER[status],
                _STATUS_RANK[status],
                _clean(provider),
                _clean(provider_message_id),
                _clean(error_code),
            ],
        )
        return bool(done)

    @fail_closed
    def reopen(self, attempt_sid: str, now_ms: int) -> bool:
        """A failed attempt is queued again (a dead letter requeued)."""
        location = sids.attempt_location(attempt_sid)
        if location is None:
            return False
        done = self._scripts.run(
            self._client,
            "reopen_attempt_status",
            [self.bucket_keys(location)[1]],
            [bytes.fromhex(location.key), now_ms, location.hour_start_ms],
        )
        return bool(done)

    # -- reading ------------------------------------------------------------------------

    @fail_closed
    def read(self, attempt_sid: str) -> AttemptRow | None:
        """The attempt, in one round trip; None when the history does not hold it."""
        location = sids.attempt_location(attempt_sid)
        if location is None:
            return None
        records, statuses = self.bucket_keys(location)
        reply = self._scripts.run(
            self._client,
            "read_attempt",
            [statuses, records],
            [bytes.fromhex(location.key), location.hour_start_ms],
        )
        if not reply:
            return None
        raw_status, service_sid, blob = reply
        record = unpack_record(blob)
        if record is None:
            return None
        status = decode_status(raw_status, location.hour_start_ms)
        if not status:
            return None
        return AttemptRow(
            sid=attempt_sid,
            service_sid=service_sid.decode(),
            verification_sid=record.verification_sid,
            channel=record.channel,
            country=record.country,
            sealed_to=record.sealed_to,
            created_ms=int(status["ca"]),
            entry_seq=int(raw_status.split(b"\x1f", 2)[1]),
            status=status,
        )

    def fields(self, attempt_sid: str) -> dict[str, str]:
        """The attempt as flat fields (ve, va, ch, ca, ua, status, provider, pmid, err,
        t_<status>), never its destination; {} when the history does not hold it."""
        row = self.read(attempt_sid)
        if row is None:
            return {}
        return {**row.status, "ve": row.verification_sid, "va": row.service_sid, "ch": row.channel}
