"""Attempt history: every send (with its delivery status) and every check, kept for
`VERIFY_ATTEMPT_RETENTION_DAYS`, as Twilio's `/v2/Attempts` and `/v2/Attempts/Summary`, and
the history of a destination's ended verifications for the support console.

Destinations are stored sealed; every destination that leaves this module is masked. The
history is kept per service and hour, so a walk reads the buckets of the service asked for
(or of every service), newest first, between the query's dates. `To` is searched by the
verification sid's storage tag (a keyed digest of service and destination, inside every `VE`
sid), and `VerificationSid` by the sid itself, both compared before anything is unsealed;
the other filters (channel, country, conversion, destination prefix) are applied to the
records. A walk examines at most `LIST_SCAN_LIMIT` (a list page) or `SUMMARY_SCAN_LIMIT` (a
summary, the support console's history of a destination) entries: a page may come back short
with a `next` token to go on from, and a summary over more attempts than that counts the
most recent ones and says it is not `complete`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

from verify_service.application.attempts.ports import (
    AttemptCursor,
    AttemptHistoryStore,
    CheckEvent,
    HistoricAttempt,
)
from verify_service.application.ports import Clock
from verify_service.domain import sids
from verify_service.domain.destination_identity import destination_identity
from verify_service.domain.destinations import mask_destination, normalize_any_destination
from verify_service.domain.errors import InvalidParameter, NotFound
from verify_service.domain.keyring import Keyring
from verify_service.domain.models import Channel, EndedBy
from verify_service.domain.protection.number_intelligence import describe

DESTINATION_PURPOSE = "attempt-destination"
LIST_SCAN_LIMIT = 10_000
SUMMARY_SCAN_LIMIT = 100_000
DAY_MS = 24 * 3600 * 1000
_TOKEN = re.compile(r"\A([0-9]{1,15})-(?:([0-9]{1,10})-)?(VL[0-9a-f]{32})\Z")


def destination_digest(keyring: Keyring, destination: str) -> str:
    """The keyed digest a normalised destination is searched by (account-wide): of its
    identity, so a search in any spelling of a mailbox finds all of its attempts."""
    return keyring.identifier_tag(DESTINATION_PURPOSE, destination_identity(destination))


def destination_country(channel: Channel, destination: str) -> str | None:
    """The country of a phone destination (None for e-mail, or a non-geographic number)."""
    return describe(destination).country if channel.is_phone else None


@dataclass(frozen=True, slots=True)
class AttemptQuery:
    """Twilio's filters. Times are epoch ms: created at or after `created_after_ms`, and
    before `created_before_ms`."""

    service_sid: str | None = None
    verification_sid: str | None = None
    to: str | None = None
    country: str | None = None
    channel: str | None = None
    converted: bool | None = None
    created_after_ms: int | None = None
    created_before_ms: int | None = None
    destination_prefix: str | None = None


@dataclass(frozen=True, slots=True)
class Attempt:
    """One send attempt as shown: the destination masked."""

    sid: str
    service_sid: str
    verification_sid: str
    channel: str
    country: str | None
    masked_to: str | None
    created_ms: int
    updated_ms: int
    delivery_status: str
    provider: str | None
    error_code: str | None
    outcome: str  # approved | canceled | expired | pending (its verification, so far)
    messaging_service_sid: str | None = None  # the route that sent it (None: global list)

    @property
    def converted(self) -> bool:
        return self.outcome == "approved"

    @classmethod
    def of(cls, record: HistoricAttempt) -> Attempt:
        return cls(
            sid=record.sid,
            service_sid=record.service_sid,
            verification_sid=record.verification_sid,
            channel=record.channel,
            country=record.country,
            masked_to=mask_destination(record.destination) if record.destination else None,
            created_ms=record.created_ms,
            updated_ms=record.updated_ms,
            delivery_status=record.delivery_status,
            provider=record.provider,
            error_code=record.error_code,
            outcome=record.outcome,
            messaging_service_sid=record.messaging_service_sid,
        )


@dataclass(frozen=True, slots=True)
class AttemptPage:
    attempts: list[Attempt]
    next_token: str | None  # None: nothing more


@dataclass(frozen=True, slots=True)
class Tally:
    total: int = 0
    converted: int = 0

    @property
    def unconverted(self) -> int:
        return self.total - self.converted

    @property
    def rate_percentage(self) -> str | None:
        """`(converted / total) * 100` as Twilio writes it ("81.818181818"); None for none."""
        if self.total == 0:
            return None
        rate = (Decimal(self.converted) * 100 / Decimal(self.total)).quantize(
            Decimal("0.000000001"), rounding=ROUND_HALF_EVEN
        )
        text = format(rate, "f").rstrip("0").rstrip(".")
        return text or "0"

    def plus(self, converted: bool) -> Tally:
        return Tally(self.total + 1, self.converted + (1 if converted else 0))


@dataclass(frozen=True, slots=True)
class AttemptSummary:
    overall: Tally
    by_channel: dict[str, Tally] = field(default_factory=dict)
    by_country: dict[str, Tally] = field(default_factory=dict)
    complete: bool = True  # False: more than SUMMARY_SCAN_LIMIT attempts matched the index


@dataclass(frozen=True, slots=True)
class EndedVerification:
    """An ended verification of a destination, for the support console."""

    sid: str
    service_sid: str
    masked_to: str | None
    outcome: str  # approved | canceled | expired
    ended_ms: int | None  # None when it expired (no end was recorded)
    sends: tuple[Attempt, ...]  # oldest first
    checks: tuple[CheckEvent, ...]
    unrecorded_checks: int = 0
    ended_by: EndedBy | None = None  # a cancel (or approval) by hand: who, and why


def encode_token(cursor: AttemptCursor) -> str:
    return f"{cursor.created_ms}-{cursor.seq}-{cursor.sid}"


def decode_token(token: str) -> AttemptCursor:
    found = _TOKEN.fullmatch(token)
    if found is None:
        raise InvalidParameter("PageToken", "a token from a previous page")
    return AttemptCursor(int(found.group(1)), found.group(3), int(found.group(2) or 0))


class Attempts:
    """List, fetch and summarise send attempts; a destination's ended verifications."""

    def __init__(
        self, store: AttemptHistoryStore, keyring: Keyring, clock: Clock, retention_days: int
    ) -> None:
        self._store = store
        self._keyring = keyring
        self._clock = clock
        self._retention_ms = retention_days * DAY_MS

    def _oldest(self, now_ms: int, query: AttemptQuery) -> int:
        oldest = now_ms - self._retention_ms
        if query.created_after_ms is not None:
            oldest = max(oldest, query.created_after_ms)
        return oldest

    def _scope(
        self, query: AttemptQuery
    ) -> tuple[list[str] | None, Callable[[str, str], bool] | None]:
        """The services to walk (None: every one), and what a record's (service sid,
        verification sid) must be: the sid asked for, and for `To` a verification of that
        destination (its sid carries the storage tag of service and destination)."""
        services = [query.service_sid] if query.service_sid is not None else None
        identity = None
        if query.to is not None:
            try:
                to = normalize_any_destination(query.to)
            except InvalidParameter:
                raise InvalidParameter(
                    "ChannelData.To", "an E.164 number or an e-mail address"
                ) from None
            identity = destination_identity(to)
        wanted = query.verification_sid
        if wanted is None and identity is None:
            return services, None
        tags: dict[str, set[str]] = {}

        def match(service_sid: str, verification_sid: str) -> bool:
            if wanted is not None and verification_sid != wanted:
                return False
            if identity is None:
                return True
            found = tags.get(service_sid)
            if found is None:
                # Under every key on the ring: verifications started before a rotation.
                found = self._keyring.destination_tags(
                    service_sid, identity, sids.VERIFICATION_TAG_HEX_DIGITS
                )
                tags[service_sid] = found
            return sids.verification_tag(verification_sid) in found

        return services, match

    def _walk(
        self, query: AttemptQuery, after: AttemptCursor | None, now_ms: int
    ) -> Iterator[tuple[AttemptCursor, HistoricAttempt | None]]:
        services, match = self._scope(query)
        oldest = self._oldest(now_ms, query)
        # Nothing is newer than the end of tomorrow (UTC; a clock ahead of ours): a date past
        # it reads exactly what no date reads, so the walk stays bounded whatever is asked.
        horizon = (now_ms // DAY_MS + 2) * DAY_MS - 1
        newest = horizon
        if query.created_before_ms is not None:
            newest = min(horizon, query.created_before_ms - 1)
        if newest < oldest:
            return
        for cursor, record in self._store.walk(services, newest, oldest, after, now_ms, match):
            if record is None or not _matches(record, query):
                yield cursor, None
            else:
                yield cursor, record

    def list_page(
        self, query: AttemptQuery, page_size: int, page: int = 0, token: str | None = None
    ) -> AttemptPage:
        """One page, newest first. With a token, the page after it; without, `page` pages
        of `page_size` are skipped (within the scan bound)."""
        now_ms = self._clock.now_ms()
        after = decode_token(token) if token else None
        skip = 0 if token else page * page_size
        found: list[Attempt] = []
        for examined, (cursor, record) in enumerate(self._walk(query, after, now_ms), 1):
            if record is not None:
                if skip > 0:
                    skip -= 1
                else:
                    found.append(Attempt.of(record))
                    if len(found) == page_size:
                        return AttemptPage(found, encode_token(cursor))
            if examined >= LIST_SCAN_LIMIT:
                return AttemptPage(found, encode_token(cursor))
        return AttemptPage(found, None)

    def fetch(self, sid: str) -> Attempt:
        if not sids.is_sid(sid, "VL"):
            raise NotFound
        now_ms = self._clock.now_ms()
        record = self._store.get(sid, now_ms)
        if record is None or record.created_ms < now_ms - self._retention_ms:
            raise NotFound
        return Attempt.of(record)

    def summary(self, query: AttemptQuery) -> AttemptSummary:
        """Conversion over the attempts the filters select (Twilio's), by channel and by
        country (extensions); attempts without a country are in no country's tally."""
        now_ms = self._clock.now_ms()
        overall = Tally()
        by_channel: dict[str, Tally] = {}
        by_country: dict[str, Tally] = {}
        examined = 0
        for _cursor, record in self._walk(query, None, now_ms):
            examined += 1
            if examined > SUMMARY_SCAN_LIMIT:
                return AttemptSummary(overall, by_channel, by_country, complete=False)
            if record is None:
                continue
            overall = overall.plus(record.converted)
            by_channel[record.channel] = by_channel.get(record.channel, Tally()).plus(
                record.converted
            )
            if record.country:
                by_country[record.country] = by_country.get(record.country, Tally()).plus(
                    record.converted
                )
        return AttemptSummary(overall, by_channel, by_country)

    def history_for(self, service_sid: str, destination: str) -> list[EndedVerification]:
        """The destination's verifications in the service that have ended (approved,
        canceled or expired) within the retention, newest first, with their sends (and
        delivery status) and checks (and outcomes)."""
        if not sids.is_sid(service_sid, "VA"):
            raise NotFound
        to = normalize_any_destination(destination)
        query = AttemptQuery(service_sid=service_sid, to=to)
        now_ms = self._clock.now_ms()
        sends: dict[str, list[Attempt]] = {}
        for examined, (_cursor, record) in enumerate(self._walk(query, None, now_ms), 1):
            if examined > SUMMARY_SCAN_LIMIT:
                break
            if record is not None and record.outcome != "pending":
                sends.setdefault(record.verification_sid, []).append(Attempt.of(record))
        if not sends:
            return []
        # Each verification's trail sits beside it, in the slot its own sid's tag names.
        trails = {}
        for tag in {sids.verification_tag(sid) for sid in sends} - {None}:
            trails.update(self._store.trails(service_sid, str(tag)))
        ended = []
        for verification_sid, attempts in sends.items():  # newest first, by latest send
            trail = trails.get(verification_sid)
            first = attempts[-1]
            ended.append(
                EndedVerification(
                    sid=verification_sid,
                    service_sid=service_sid,
                    masked_to=first.masked_to,
                    outcome=first.outcome,
                    ended_ms=trail.ended_ms if trail else None,
                    sends=tuple(reversed(attempts)),
                    checks=trail.checks if trail else (),
                    unrecorded_checks=trail.unrecorded_checks if trail else 0,
                    ended_by=trail.ended_by if trail else None,
                )
            )
        return ended

    def checks_of(
        self, service_sid: str, destination: str, verification_sid: str
    ) -> tuple[CheckEvent, ...]:
        """The recorded checks of one verification of the destination, a pending one
        included (the support console's timeline), oldest first."""
        if not sids.is_sid(service_sid, "VA"):
            raise NotFound
        to = normalize_any_destination(destination)
        tag = self._keyring.destination_tag(
            service_sid, destination_identity(to), sids.VERIFICATION_TAG_HEX_DIGITS
        )
        trail = self._store.trails(service_sid, tag).get(verification_sid)
        return trail.checks if trail else ()


def _matches(record: HistoricAttempt, query: AttemptQuery) -> bool:
    prefix = query.destination_prefix
    return (
        (query.service_sid is None or record.service_sid == query.service_sid)
        and (query.verification_sid is None or record.verification_sid == query.verification_sid)
        and (query.channel is None or record.channel == query.channel)
        and (query.country is None or record.country == query.country)
        and (query.converted is None or record.converted == query.converted)
        and (prefix is None or (record.destination or "").startswith(prefix))
        and (query.created_after_ms is None or record.created_ms >= query.created_after_ms)
    )
