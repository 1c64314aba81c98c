"""Use cases of the Safe List (`/v2/SafeList/Numbers`): numbers a start never refuses for
geo permissions or Fraud Guard. Account-wide, not per service.

The store never holds a number: an entry is named by a keyed digest of it
(`safe_list_field`), so a fetch or delete needs the number itself, and nothing can list
the numbers back (Twilio has no list operation either).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from verify_service.application.ports import Clock
from verify_service.application.protection.ports import SafeListRecord, SafeListStore
from verify_service.domain import sids
from verify_service.domain.destinations import mask_destination, normalize_phone
from verify_service.domain.errors import InvalidParameter, NotFound
from verify_service.domain.keyring import Keyring

log = logging.getLogger(__name__)

SID_PREFIX = "GN"
_TAG_PURPOSE = "safe-list"


def safe_list_field(keyring: Keyring, e164: str) -> str:
    """The safe-list hash field of a normalised E.164 number: a keyed digest, never the
    number. A start tests it with HEXISTS in its own round trip."""
    return keyring.identifier_tag(_TAG_PURPOSE, e164)


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
        candidate = SafeListRecord(sids.new_sid(SID_PREFIX), self._clock.now_ms())
        stored = self._store.add(safe_list_field(self._keyring, e164), candidate)
        if stored.sid == candidate.sid:
            log.info("safe list: %s added as %s", mask_destination(e164), stored.sid)
        return SafeListEntry(stored.sid, e164, stored.created_ms)

    def fetch(self, phone_number: str) -> SafeListEntry:
        """The entry of a listed number; NotFound when it is not listed (or not a number)."""
        e164 = self._listed_form(phone_number)
        stored = self._store.get(safe_list_field(self._keyring, e164))
        if stored is None:
            raise NotFound
        return SafeListEntry(stored.sid, e164, stored.created_ms)

    def remove(self, phone_number: str) -> None:
        e164 = self._listed_form(phone_number)
        if not self._store.remove(safe_list_field(self._keyring, e164)):
            raise NotFound
        log.info("safe list: %s removed", mask_destination(e164))

    @staticmethod
    def _listed_form(phone_number: str) -> str:
        """The number as `add` would have listed it; a path segment that is no valid number
        names no entry, so it is NotFound like any number not listed."""
        try:
            return normalize_phone(phone_number)
        except InvalidParameter:
            raise NotFound from None
