"""Use cases of the Safe List (`/v2/SafeList/Numbers`): numbers a start never refuses for
geo permissions or Fraud Guard. Account-wide, not per service.

The store never holds a number: an entry is named by a keyed digest of it
(`safe_list_field`), so a fetch or delete needs the number itself, and nothing can list
the numbers back (Twilio has no list operation either).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from collections import Counter
from dataclasses import dataclass

from verify_service.application.ports import Clock
from verify_service.application.protection.ports import SafeListRecord, SafeListStore
from verify_service.application.secrets.ports import Progress, ResealCount
from verify_service.domain import sids
from verify_service.domain.destinations import mask_destination, normalize_phone
from verify_service.domain.errors import InvalidParameter, NotFound
from verify_service.domain.keyring import LEGACY_KEY_ID, Keyring

log = logging.getLogger(__name__)

SID_PREFIX = "GN"
_TAG_PURPOSE = "safe-list"


def safe_list_fields(keyring: Keyring, e164: str) -> list[str]:
    """Every field a normalised E.164 number may be listed under: `<key id>:<keyed digest>`
    per ring key, the primary's first, then the bare digest of entries from before key ids
    while `k0` is on the ring. Never the number. A start reads them with one HMGET."""
    fields = [
        f"{key_id}:{keyring.identifier_tag(_TAG_PURPOSE, e164, key_id)}" for key_id in keyring.ids
    ]
    if keyring.keys(LEGACY_KEY_ID) is not None:
        fields.append(keyring.identifier_tag(_TAG_PURPOSE, e164, LEGACY_KEY_ID))
    return fields


def safe_list_field(keyring: Keyring, e164: str) -> str:
    """The number's field under the ring's primary key (where `add` lists it)."""
    return safe_list_fields(keyring, e164)[0]


def _wrapped(keyring: Keyring, field: str, e164: str) -> str:
    key_id, _, digest = field.partition(":")
    wrapped = keyring.wrap(key_id, _TAG_PURPOSE, digest, e164.encode("utf-8"))
    return base64.b64encode(wrapped).decode("ascii")


def _unwrapped(keyring: Keyring, field: str, wrapped: str) -> str | None:
    """The number an entry holds, checked against its field's digest; None when the
    field's key is not on the ring, or the entry does not match its field."""
    key_id, colon, digest = field.partition(":")
    if not colon:
        return None
    try:
        raw = keyring.unwrap(key_id, _TAG_PURPOSE, digest, base64.b64decode(wrapped))
        e164 = None if raw is None else raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    if e164 is None:
        return None
    expected = keyring.identifier_tag(_TAG_PURPOSE, e164, key_id)
    return e164 if hmac.compare_digest(expected, digest) else None


@dataclass(frozen=True, slots=True)
class SafeListEntry:
    sid: str
    phone_number: str
    created_ms: int


class SafeList:
    def __init__(self, store: SafeListStore, keyring: Keyring, clock: Clock) -> None:
        self._store = store
        self._keyring = keyring
        self._clock = clock

    def add(self, phone_number: str) -> SafeListEntry:
        """List the number; adding a listed number again returns its entry unchanged."""
        try:
            e164 = normalize_phone(phone_number)
        except InvalidParameter as exc:
            raise InvalidParameter("PhoneNumber", exc.reason) from None
        first, *others = safe_list_fields(self._keyring, e164)
        candidate = SafeListRecord(
            sids.new_sid(SID_PREFIX), self._clock.now_ms(), _wrapped(self._keyring, first, e164)
        )
        stored = self._store.add(first, candidate, others)
        if stored.sid == candidate.sid:
            log.info("safe list: %s added as %s", mask_destination(e164), stored.sid)
        return SafeListEntry(stored.sid, e164, stored.created_ms)

    def fetch(self, phone_number: str) -> SafeListEntry:
        """The entry of a listed number; NotFound when it is not listed (or not a number)."""
        e164 = self._listed_form(phone_number)
        first, *others = safe_list_fields(self._keyring, e164)
        stored = self._store.get(first, others)
        if stored is None:
            raise NotFound
        return SafeListEntry(stored.sid, e164, stored.created_ms)

    def remove(self, phone_number: str) -> None:
        e164 = self._listed_form(phone_number)
        first, *others = safe_list_fields(self._keyring, e164)
        if not self._store.remove(first, others):
            raise NotFound
        log.info("safe list: %s removed", mask_destination(e164))

    # -- rotation (`Resealable`) ---------------------------------------------------------

    kind = "safe list"

    def key_ids(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for field, _value, _record in self._store.entries():
            key_id, colon, _digest = field.partition(":")
            counts[key_id if colon else LEGACY_KEY_ID] += 1
        return counts

    def reseal(self, progress: Progress, _now_ms: int) -> ResealCount:
        """Re-digest each number under the primary. An entry from before key ids holds no
        number: deleting the number and adding it again is the way off `k0`."""
        count = ResealCount(self.kind)
        primary = self._keyring.primary_id
        for field, value, record in list(self._store.entries()):
            count.looked_at += 1
            progress(self.kind, count.looked_at)
            if field.startswith(f"{primary}:"):
                count.already_primary += 1
                continue
            e164 = (
                None
                if record is None or record.wrapped_number is None
                else _unwrapped(self._keyring, field, record.wrapped_number)
            )
            if record is None or e164 is None:
                count.unreadable += 1
                continue
            new_field = safe_list_field(self._keyring, e164)
            moved = SafeListRecord(
                record.sid, record.created_ms, _wrapped(self._keyring, new_field, e164)
            )
            if self._store.replace(field, value, new_field, moved):
                count.resealed += 1
            else:
                count.raced += 1
        if count.unreadable:
            count.notes.append("entries from before key ids: delete and add the number to move it")
        return count

    @staticmethod
    def _listed_form(phone_number: str) -> str:
        """The number as `add` would have listed it; a path segment that is no valid number
        names no entry, so it is NotFound like any number not listed."""
        try:
            return normalize_phone(phone_number)
        except InvalidParameter:
            raise NotFound from None
