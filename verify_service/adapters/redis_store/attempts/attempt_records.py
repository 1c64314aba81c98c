"""Send attempts' records in Redis: the attempt history's storage, and the delivery status
the worker and the providers' receipts change.

An attempt lives in the bucket of its service and UTC day, which its `VL` sid names
(domain/sids.py), under one hash tag (keys.HistoryKeys):

- `…:r`, a stream: one entry per attempt, its id the creation time, its one field `d` the
  packed record (attempt key, verification sid, channel, country, the destination sealed with
  AES-256-GCM and the attempt sid as associated data). Streams keep entries in listpacks with
  ids delta-encoded and the field name written once per node: ~10 bytes beside the record.
- `…:s`, a hash: the attempt key → its delivery status, which changes (see
  record_attempt.lua for the format), and `va` → the service sid.

Both keys get one TTL when the bucket is created (the end of its day plus the retention),
so retention is whole buckets expiring: nothing is trimmed, nothing refreshed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import redis

from verify_service.adapters.destination_cipher import DestinationCipher
from verify_service.adapters.redis_store.errors import fail_closed
from verify_service.adapters.redis_store.keys import HistoryKeys
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.domain import sids

DEFAULT_RETENTION_MS = 30 * 24 * 3600 * 1000
_SEPARATOR = b"\x1f"
# Inside the provider field: `<provider name>\x1e<receipt sender>` (the fingerprint of the
# account that sent the attempt, adapters/delivery/receipts.py), then `\x1e<route sid>` when
# the attempt went through a route (an `MG` sid, VERIFY_ROUTES_FILE); records from before
# either have the name only, or no route.
_SENDER_SEPARATOR = "\x1e"
_SID_MARKERS = {"SM": 1, "MM": 2, "CA": 3}
_MARKER_PREFIXES = {marker: prefix for prefix, marker in _SID_MARKERS.items()}
# The entry's time in the status: ms after the bucket's start in 6 base-36 digits (25 days).
_ENTRY_MS_LIMIT = 36**6
_TWILIO_SID = re.compile(r"[A-Z]{2}[0-9a-f]{32}")
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


def pack_message_id(value: str) -> bytes:
    """A provider message id as the status keeps it: a Twilio-style sid (two letters, 32 hex
    digits) in 17 bytes (SM, MM, CA) or 19, anything else as its text (never starting with a
    marker byte)."""
    if _TWILIO_SID.fullmatch(value):
        marker = _SID_MARKERS.get(value[:2])
        head = bytes([marker]) if marker else b"\x04" + value[:2].encode("ascii")
        return head + bytes.fromhex(value[2:])
    return value.lstrip("\x01\x02\x03\x04").encode("utf-8")


def unpack_message_id(value: bytes) -> str:
    if len(value) == 17 and value[0] in _MARKER_PREFIXES:
        return _MARKER_PREFIXES[value[0]] + value[1:].hex()
    if len(value) == 19 and value[0] == 4:
        return value[1:3].decode("ascii", "replace") + value[3:].hex()
    return value.decode("utf-8", "replace")


def decode_status(raw: bytes, day_start_ms: int) -> dict[str, str]:
    """The status value (record_attempt.lua) as the fields of the former per-attempt status
    hash, times in epoch ms: status, ca, ua, t_<status>, provider, pmid, err, `rs`, the
    receipt sender of the provider that sent it (absent in records from before it), and
    `mg`, the route it went through (absent for the global list)."""
    status = _LETTER_STATUS.get(raw[:1].decode("ascii", "replace"))
    parts = raw[8:].split(_SEPARATOR, 6)
    if status is None or len(parts) != 7 or raw[7:8] != _SEPARATOR:
        return {}
    _seq, queued, sent, final, provider, err, pmid = parts
    try:
        created = day_start_ms + int(raw[1:7], 36)
        times = {"t_queued": created + int(queued, 36) if queued else created}
        if sent:
            times["t_sent"] = created + int(sent, 36)
        if final:
            times[f"t_{status}"] = created + int(final, 36)
    except ValueError:
        return {}
    fields = {name: str(value) for name, value in times.items()}
    # The last change is the latest of the status times (each change stamps its own).
    fields.update(ca=str(created), ua=str(max(times.values())), status=status)
    name, _, rest = provider.decode("utf-8", "replace").partition(_SENDER_SEPARATOR)
    sender, _, route = rest.partition(_SENDER_SEPARATOR)
    error = err.decode("utf-8", "replace")
    for field, text in (("provider", name), ("rs", sender), ("mg", route), ("err", error)):
        if text:
            fields[field] = text
    if pmid:
        fields["pmid"] = unpack_message_id(pmid)
    return fields


def entry_seq(raw: bytes) -> int:
    """The stream entry's sequence number in a status value."""
    seq = raw[8:].split(_SEPARATOR, 1)[0]
    return int(seq) if seq.isdigit() else 0


def _clean(value: str) -> str:
    """A value written into the status (never a separator)."""
    return value.replace(_SEPARATOR.decode(), "").replace(_SENDER_SEPARATOR, "")


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
            self._keys.records(location.service_locator, location.day),
            self._keys.statuses(location.service_locator, location.day),
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
        if not 0 <= now_ms - location.day_start_ms < _ENTRY_MS_LIMIT // 2:
            raise ValueError("the VL sid names another day (sids.new_attempt_sid makes them)")
        records, statuses = self.bucket_keys(location)
        sealed = self._cipher.seal(to, attempt_context(attempt_sid))
        # The bucket lives until its day ends plus the retention (relative to the caller's
        # clock, like every TTL here; at least 1 ms for a sid from another day).
        ttl_ms = max(1, location.day_start_ms + sids.DAY_MS + self.retention_ms - now_ms)
        pipe.evalsha(
            self._scripts.sha("record_attempt"),
            2,
            records,
            statuses,
            now_ms,
            location.day_start_ms,
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
        sender: str = "",
        route_sid: str = "",
    ) -> bool:
        """True when recorded; False when the status would have moved backwards (or the
        attempt is not in the history). `sender` is the receipt sender of the provider that
        sent it: receipts are checked against that account only. `route_sid`: the route
        whose list sent it, or failed to ('' for the global list)."""
        location = sids.attempt_location(attempt_sid)
        if location is None:
            return False
        named = _clean(provider)
        if sender or route_sid:
            named = f"{named}{_SENDER_SEPARATOR}{_clean(sender)}"
        if route_sid:
            named = f"{named}{_SENDER_SEPARATOR}{_clean(route_sid)}"
        done = self._scripts.run(
            self._client,
            "record_attempt_status",
            [self.bucket_keys(location)[1]],
            [
                bytes.fromhex(location.key),
                now_ms,
                location.day_start_ms,
                _STATUS_LETTER[status],
                named,
                _clean(error_code),
                pack_message_id(provider_message_id) if provider_message_id else b"",
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
            [bytes.fromhex(location.key), now_ms, location.day_start_ms],
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
            [bytes.fromhex(location.key), location.day_start_ms],
        )
        if not reply:
            return None
        raw_status, service_sid, blob = reply
        record = unpack_record(blob)
        if record is None:
            return None
        status = decode_status(raw_status, location.day_start_ms)
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
            entry_seq=entry_seq(raw_status),
            status=status,
        )

    def fields(self, attempt_sid: str) -> dict[str, str]:
        """The attempt as flat fields (ve, va, ch, ca, ua, status, provider, pmid, err,
        t_<status>), never its destination; {} when the history does not hold it."""
        row = self.read(attempt_sid)
        if row is None:
            return {}
        return {**row.status, "ve": row.verification_sid, "va": row.service_sid, "ch": row.channel}
