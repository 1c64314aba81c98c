"""Abuse and cost protection, run by a start before any code is made or queued, and by a
check before its code is compared.

Order of a start's defences (docs/abuse-protection.md):
1. a test destination (only with VERIFY_ALLOW_TEST_DESTINATIONS) skips all of them;
2. number intelligence: premium-rate and similar numbers are refused (60200), a landline
   on sms with `SkipSmsToLandlines` is 60205;
3. geo permissions (60605) and a Fraud Guard block of the prefix (60410), both skipped for a
   safe-listed number or `RiskCheck=disable`;
4. the limits, counted in one round trip: sends per destination identity (60203), starts per
   service and per device network and the programmable buckets (20429), daily send caps
   (60410);
5. Fraud Guard's tally of the prefix: enough sends nobody approves trips it (60410).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from verify_service.application.events.publisher import EventPublisher
from verify_service.application.metrics.ports import NO_METRICS, Metrics
from verify_service.application.protection.ports import (
    BreakerTrip,
    FraudGuardStore,
    LimitOutcome,
    RateLimiter,
    TallyHit,
    WindowLimit,
)
from verify_service.application.protection.safe_list import safe_list_field, safe_list_fields
from verify_service.application.verifications.ports import (
    ProtectionSettings,
    StartContext,
    StartProbe,
    TallyCorrection,
)
from verify_service.domain.destinations import mask_destination
from verify_service.domain.errors import (
    DeliveryBlocked,
    GeoPermissionDenied,
    InvalidParameter,
    LandlineNotSupported,
    MaxChecksPerDestinationReached,
    MaxSendAttemptsReached,
    RateLimitExceeded,
    StoreUnavailable,
    VerifyError,
)
from verify_service.domain.events.event_types import EventType
from verify_service.domain.events.events import fraud_guard_event
from verify_service.domain.keyring import Keyring
from verify_service.domain.models import Channel
from verify_service.domain.protection.client_network import client_network
from verify_service.domain.protection.fraud_guard import (
    APPROVAL_GRACE_SECONDS,
    BreakerSettings,
    settled_sends,
    should_trip,
)
from verify_service.domain.protection.number_intelligence import (
    describe,
    destination_prefix,
    is_landline,
    require_deliverable,
)
from verify_service.domain.protection.protection_settings import FraudGuardMode
from verify_service.domain.protection.rate_limits import RateLimit
from verify_service.domain.service import Service

log = logging.getLogger(__name__)

HOUR = 3_600
MAX_CACHED_SETTINGS = 1_000  # services whose check settings a process keeps (then cleared)
DAY = 86_400
MISSING_VALUE = "missing"
MAX_RATE_LIMIT_VALUE_LENGTH = 256

# Names of the limits, as refusals and logs show them.
SENDS_PER_DESTINATION_PER_HOUR = "SendsPerDestinationPerHour"
SENDS_PER_DESTINATION_PER_DAY = "SendsPerDestinationPerDay"
CHECKS_PER_DESTINATION_PER_HOUR = "ChecksPerDestinationPerHour"
STARTS_PER_SERVICE_PER_MINUTE = "StartsPerServicePerMinute"
STARTS_PER_DEVICE_IP_PER_HOUR = "StartsPerDeviceIpPerHour"
DAILY_SEND_CAP = "DailySendCap"
DAILY_EMAIL_SEND_CAP = "DailyEmailSendCap"
DAILY_COUNTRY_SEND_CAP = "DailyCountrySendCap"


def parse_rate_limit_values(value: object) -> dict[str, str]:
    """`RateLimits={"<unique_name>": "<value>"}`: values are strings (numbers accepted)."""
    if not isinstance(value, dict):
        raise InvalidParameter("RateLimits", "a JSON object of unique name: value")
    values: dict[str, str] = {}
    for name, item in value.items():
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise InvalidParameter("RateLimits", "values must be strings")
        text = str(item)
        if not text or len(text) > MAX_RATE_LIMIT_VALUE_LENGTH:
            raise InvalidParameter("RateLimits", f"values of 1-{MAX_RATE_LIMIT_VALUE_LENGTH} chars")
        values[str(name)] = text
    return values


@dataclass(frozen=True, slots=True)
class StartFacts:
    """What protection needs to know of one start."""

    service_sid: str
    channel: Channel
    to: str
    destination_tag: str
    device_ip: str | None = None
    rate_limit_values: Mapping[str, str] = field(default_factory=dict)
    risk_check: bool = True
    fallback: bool = False  # a channel-fallback resend, not a caller's request

    @property
    def is_phone(self) -> bool:
        return self.channel is not Channel.EMAIL


def _breaker(service: Service) -> BreakerSettings:
    return BreakerSettings(
        mode=FraudGuardMode(service.fraud_guard_mode),
        min_sends=service.fraud_guard_min_sends,
        min_approval_rate=service.fraud_guard_min_approval_rate,
        window_seconds=service.fraud_guard_window_seconds,
        cooldown_seconds=service.fraud_guard_cooldown_seconds,
    )


class AbuseProtection:
    def __init__(
        self,
        limiter: RateLimiter,
        fraud_guard: FraudGuardStore,
        keyring: Keyring,
        allow_test_destinations: bool = False,
        events: EventPublisher | None = None,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self._events = events
        self._metrics = metrics
        self._limiter = limiter
        self._fraud_guard = fraud_guard
        self._keyring = keyring
        self._allow_test_destinations = allow_test_destinations
        # The protection settings each service had at its last check in this process.
        self._check_settings: dict[str, ProtectionSettings] = {}
        # The service and rate limits each service had at its last start in this process.
        self._start_settings: dict[str, tuple[Service, tuple[RateLimit, ...]]] = {}

    # -- tallies (shared by starts and approvals) -----------------------------------------

    @staticmethod
    def _tally(
        service_sid: str, prefix: str, window_seconds: int, sends: int = 0, approvals: int = 0
    ) -> TallyHit:
        """The prefix's Fraud Guard tally: sends and approvals over the service's Fraud Guard
        window, counted per time bucket (docs/abuse-protection.md)."""
        return TallyHit(
            service_sid, prefix, window_seconds, APPROVAL_GRACE_SECONDS, sends, approvals
        )

    # -- start ------------------------------------------------------------------------------

    def probe(self, facts: StartFacts) -> StartProbe:
        """What the start's first read fetches for protection, and the limits (with Fraud
        Guard's tally) it counts in that same round trip, as this process last saw the
        service's settings (none on its first start here). `admit_start` confirms them
        against the service read with them, and counts afresh only if they changed."""
        limits, tally = self._plan(facts)
        if not facts.is_phone:
            return StartProbe(limits=limits, tally=tally)
        fields = safe_list_fields(self._keyring, facts.to)
        return StartProbe(
            safe_list_field=fields[0],
            safe_list_others=tuple(fields[1:]),
            prefix=destination_prefix(facts.to) if facts.risk_check else None,
            limits=limits,
            tally=tally,
        )

    def _plan(self, facts: StartFacts) -> tuple[tuple[WindowLimit, ...], TallyHit | None]:
        """The limits and tally of `_judge` with the service as last read here, assuming
        a new verification, no block and no safe-list entry (what most starts find)."""
        cached = self._start_settings.get(facts.service_sid)
        if cached is None or self.test_code(cached[0], facts.to) is not None:
            return (), None
        context = StartContext(service=cached[0], pending=None, rate_limits=cached[1])
        try:
            limits, tally, _breaker_settings = self._judge(cached[0], context, facts, 0)
        except (VerifyError, ValueError):
            return (), None  # refused before counting: nothing to count early
        return tuple(limits), tally

    def safe_list_field(self, e164: str) -> str:
        return safe_list_field(self._keyring, e164)

    def test_code(self, service: Service, to: str) -> str | None:
        """The fixed code of a test destination, if `to` is one and they are allowed here."""
        if not self._allow_test_destinations:
            return None
        return service.test_code_for(to)

    def _judge(
        self, service: Service, context: StartContext, facts: StartFacts, now_ms: int
    ) -> tuple[list[WindowLimit], TallyHit | None, BreakerSettings]:
        """Raise the refusal of the first defence before the limits that refuses; the
        limits to count and Fraud Guard's tally otherwise (None: the prefix is not
        watched)."""
        country: str | None = None
        if facts.is_phone:
            number = describe(facts.to)
            require_deliverable(number)
            country = number.country
            if (
                facts.channel is Channel.SMS
                and service.skip_sms_to_landlines
                and is_landline(number)
            ):
                raise LandlineNotSupported
        bypass = context.safe_listed or not facts.risk_check
        breaker = _breaker(service)
        if facts.is_phone and not bypass:
            if not service.geo.permits(facts.channel, country):
                raise GeoPermissionDenied(country or "001", facts.channel.value)
            _refuse_if_blocked(context.block, breaker, now_ms)
        limits = self._start_limits(service, context, facts, country)
        prefix = destination_prefix(facts.to) if facts.is_phone and not bypass else None
        # A record of the service's current mode means the prefix is judged already; a
        # monitor-mode record gives way when the service switches to block mode.
        if (
            prefix is None
            or breaker.mode is FraudGuardMode.OFF
            or (context.block is not None and context.block.mode == breaker.mode.value)
        ):
            return limits, None, breaker
        # The approval rate is per verification: resends and fallback sends are not
        # counted, as one approval answers all of a verification's sends.
        counted = context.pending is None and not facts.fallback
        tally = TallyHit(
            facts.service_sid,
            prefix,
            breaker.window_seconds,
            APPROVAL_GRACE_SECONDS,
            sends=int(counted),
            masked_destination=mask_destination(facts.to),
        )
        return limits, tally, breaker

    def admit_start(
        self, context: StartContext, facts: StartFacts, probe: StartProbe, now_ms: int
    ) -> TallyCorrection | None:
        """Raise the refusal of the first defence that refuses; count the start otherwise
        (with its masked destination among the prefix's recent ones, if Fraud Guard watches
        it). What `probe` counted with the read (`context.counted`) stands when it is what
        the service read asks for; otherwise it is taken back and the start counted afresh
        (one more round trip: the settings changed). Returns what the write's round trip
        must take back of the early tally (a resend, a number not watched), if anything."""
        service = context.service
        if service is None:
            self.take_back_start(context, probe)
            return None
        if len(self._start_settings) >= MAX_CACHED_SETTINGS:
            self._start_settings.clear()
        self._start_settings[facts.service_sid] = (service, context.rate_limits)
        try:
            limits, tally, breaker = self._judge(service, context, facts, now_ms)
        except Exception:
            self.take_back_start(context, probe)
            raise
        early = context.counted
        stands, correction = (
            _tally_correction(probe.tally, tally, context.counted_ms)
            if early is not None and tuple(limits) == probe.limits
            else (False, None)
        )
        if early is not None and stands:
            outcome = early
        else:
            self.take_back_start(context, probe)
            outcome = self._limiter.hit(limits, [], now_ms, tally)
        if outcome.refused is not None:
            raise _refusal(outcome.refused, outcome)
        if tally is not None:
            self._maybe_trip(facts.service_sid, tally.prefix, breaker, outcome.counts, now_ms)
        return correction

    def take_back_start(self, context: StartContext, probe: StartProbe) -> None:
        """Take back what the start's read counted (`probe`), when it counted and admitted:
        the start is refused after all, or its settings changed (one more round trip)."""
        counted = context.counted
        if counted is None or counted.refused is not None:
            return
        self._limiter.take_back(probe.limits, probe.tally, context.counted_ms)

    def _start_limits(
        self, service: Service, context: StartContext, facts: StartFacts, country: str | None
    ) -> list[WindowLimit]:
        sid = facts.service_sid
        limits: list[WindowLimit] = []

        def add(name: str, scope: tuple[str, ...], maximum: int, seconds: int) -> None:
            if maximum > 0:
                limits.append(WindowLimit(name, (sid, *scope), maximum, seconds))

        destination = ("sends-destination", facts.destination_tag)
        add(
            SENDS_PER_DESTINATION_PER_HOUR,
            destination,
            service.sends_per_destination_per_hour,
            HOUR,
        )
        add(SENDS_PER_DESTINATION_PER_DAY, destination, service.sends_per_destination_per_day, DAY)
        if not facts.fallback:
            add(
                STARTS_PER_SERVICE_PER_MINUTE,
                ("starts",),
                service.starts_per_service_per_minute,
                60,
            )
            if facts.device_ip:
                # Per network: an IPv6 /64, an IPv4-mapped address as its IPv4 address.
                network = client_network(facts.device_ip)
                ip = self._keyring.identifier_tag("device-ip", network)
                add(
                    STARTS_PER_DEVICE_IP_PER_HOUR,
                    ("starts-ip", ip),
                    service.starts_per_device_ip_per_hour,
                    HOUR,
                )
            limits += self._bucket_limits(context, facts)
        if facts.is_phone:
            add(DAILY_SEND_CAP, ("sends-phone",), service.daily_send_cap, DAY)
            add(
                DAILY_COUNTRY_SEND_CAP,
                ("sends-country", country or "001"),
                service.daily_country_send_cap,
                DAY,
            )
        else:
            add(DAILY_EMAIL_SEND_CAP, ("sends-email",), service.daily_email_send_cap, DAY)
        return limits

    def _bucket_limits(self, context: StartContext, facts: StartFacts) -> list[WindowLimit]:
        known = {rate_limit.unique_name for rate_limit in context.rate_limits}
        unknown = sorted(set(facts.rate_limit_values) - known)
        if unknown:
            raise InvalidParameter("RateLimits", "no rate limit of that unique name")
        limits: list[WindowLimit] = []
        for rate_limit in context.rate_limits:
            given = facts.rate_limit_values.get(rate_limit.unique_name)
            value = (
                self._keyring.identifier_tag(f"rate-limit:{rate_limit.sid}", given)
                if given is not None
                else MISSING_VALUE
            )
            for bucket in rate_limit.buckets:
                limits.append(
                    WindowLimit(
                        f"RateLimit {rate_limit.unique_name}",
                        (facts.service_sid, "bucket", bucket.sid, value),
                        bucket.max,
                        bucket.interval,
                    )
                )
        return limits

    def _maybe_trip(
        self,
        service_sid: str,
        prefix: str,
        breaker: BreakerSettings,
        counts: tuple[int, ...],
        now_ms: int,
    ) -> None:
        in_window, in_grace, approvals = counts
        settled = settled_sends(in_window, in_grace)
        if not should_trip(settled, approvals, breaker):
            return
        trip = BreakerTrip(
            service_sid=service_sid,
            prefix=prefix,
            mode=breaker.mode.value,
            tripped_ms=now_ms,
            until_ms=now_ms + breaker.cooldown_seconds * 1000,
            sends=settled,
            approvals=approvals,
            window_seconds=breaker.window_seconds,
            destinations=self._fraud_guard.recent_destinations(service_sid, prefix),
        )
        tripped, until_ms = self._fraud_guard.trip(trip)
        if not tripped:
            # Another process tripped it a moment ago: its block holds for this send too.
            if breaker.mode is FraudGuardMode.BLOCK:
                raise DeliveryBlocked(
                    f"Fraud Guard paused sends to {prefix}", _seconds_until(until_ms, now_ms)
                )
            return
        # The prefix starts afresh when the block ends (or is lifted): the sends that
        # tripped it must not trip it again at once.
        self.forget_prefix(service_sid, prefix)
        log.warning(
            "fraud guard %s: service %s prefix %s, %d settled sends, %d approvals",
            "tripped" if breaker.mode is FraudGuardMode.BLOCK else "would trip (monitor)",
            service_sid,
            prefix,
            settled,
            approvals,
        )
        self._metrics.fraud_guard_trip(breaker.mode.value)
        self._emit_trip(trip, until_ms, now_ms)
        if breaker.mode is FraudGuardMode.BLOCK:
            raise DeliveryBlocked(f"Fraud Guard paused sends to {prefix}", breaker.cooldown_seconds)

    def _emit_trip(self, trip: BreakerTrip, until_ms: int, now_ms: int) -> None:
        """fraud_guard.tripped (monitor mode too: `mode` says which), once per trip."""
        events = self._events
        if events is None:
            return
        events.emit(
            trip.service_sid,
            EventType.FRAUD_GUARD_TRIPPED,
            lambda: fraud_guard_event(
                events.account_sid, trip.service_sid, trip.prefix, trip.mode, until_ms, now_ms
            ),
        )

    def forget_prefix(self, service_sid: str, prefix: str) -> None:
        """Clear the prefix's Fraud Guard tally (its window no longer matters)."""
        self._limiter.forget_tally(service_sid, prefix)

    # -- check and approval -------------------------------------------------------------------

    @staticmethod
    def _check_limit(
        service_sid: str, destination_tag: str, settings: ProtectionSettings
    ) -> WindowLimit | None:
        limit_value = settings.checks_per_destination_per_hour
        if limit_value <= 0:
            return None
        return WindowLimit(
            CHECKS_PER_DESTINATION_PER_HOUR,
            (service_sid, "checks-destination", destination_tag),
            limit_value,
            HOUR,
        )

    def check_window(self, service_sid: str, destination_tag: str) -> WindowLimit | None:
        """The check's ChecksPerDestinationPerHour window as this process last saw the
        service's settings, to count it with the reservation (one round trip, not two);
        `admit_check` then confirms it against the settings read with that reservation."""
        settings = self._check_settings.get(service_sid)
        if settings is None:
            return None
        return self._check_limit(service_sid, destination_tag, settings)

    def take_back_check(
        self, counted: WindowLimit | None, outcome: LimitOutcome | None, now_ms: int
    ) -> None:
        """The reservation failed (no such verification, locked, PSD2 terms missing): the
        window counted with it gives its event back. (A Redis error here is raised: the
        request answers 503, as its reservation's would.)"""
        if counted is not None and outcome is not None and outcome.refused is None:
            self._limiter.release(counted, now_ms)

    def admit_check(
        self,
        service_sid: str,
        destination_tag: str,
        settings: ProtectionSettings,
        to: str,
        now_ms: int,
        counted: WindowLimit | None = None,
        outcome: LimitOutcome | None = None,
    ) -> None:
        """Count the check against ChecksPerDestinationPerHour (test destinations excepted).
        `counted`/`outcome`: the window the reservation counted and what it answered; used
        when it is the service's current limit, taken back otherwise (settings changed
        since this process last saw them, or a test destination)."""
        if len(self._check_settings) >= MAX_CACHED_SETTINGS:
            self._check_settings.clear()
        self._check_settings[service_sid] = settings
        limit = self._check_limit(service_sid, destination_tag, settings)
        exempt = self._is_test_destination(settings, to)
        if counted is not None and outcome is not None and (counted != limit or exempt):
            if outcome.refused is None:
                self._limiter.release(counted, now_ms)
            outcome = None
        if limit is None or exempt:
            return
        if outcome is None:
            outcome = self._limiter.hit([limit], [], now_ms)
        if outcome.refused is not None:
            raise MaxChecksPerDestinationReached(outcome.retry_after_seconds)

    def is_test_destination(self, settings: ProtectionSettings, to: str) -> bool:
        """`to` (normalised) is exactly one of the service's honoured test destinations."""
        return self._is_test_destination(settings, to)

    def _is_test_destination(self, settings: ProtectionSettings, to: str) -> bool:
        if not self._allow_test_destinations:
            return False
        return to in settings.test_destinations  # exactly, never by identity (as a start)

    def approval_tally(
        self, service_sid: str, to: str, settings: ProtectionSettings
    ) -> TallyHit | None:
        """What an approval of a verification to `to` counts for Fraud Guard (None: nothing,
        for an e-mail, a test destination, or with Fraud Guard off)."""
        if (
            "@" in to
            or settings.fraud_guard_mode == FraudGuardMode.OFF.value
            or self._is_test_destination(settings, to)
        ):
            return None
        return self._tally(
            service_sid, destination_prefix(to), settings.fraud_guard_window_seconds, approvals=1
        )

    def record_approval(
        self, service_sid: str, to: str, settings: ProtectionSettings, now_ms: int
    ) -> None:
        """Count an approval for Fraud Guard (an approval by update; a right code counts it
        with the approval itself, `approval_tally`). Losing one only makes the breaker
        stricter, so a store error here is logged rather than failing an approval made."""
        tally = self.approval_tally(service_sid, to, settings)
        if tally is None:
            return
        try:
            self._limiter.hit([], [], now_ms, tally)
        except StoreUnavailable:
            log.warning("fraud guard: an approval of service %s was not counted", service_sid)


def _tally_correction(
    planned: TallyHit | None, actual: TallyHit | None, counted_ms: int
) -> tuple[bool, TallyCorrection | None]:
    """Whether the tally counted early (`planned`) stands for `actual`, and what the write
    must take back of it for that (None: nothing). It does not stand when taking back is
    not enough (another prefix, window or destination, or a send not counted): count
    afresh."""
    if planned is None:
        return actual is None, None
    if actual is None:  # not watched after all (safe-listed, a block in force)
        return True, TallyCorrection(dataclasses.replace(planned, sends=-planned.sends), counted_ms)
    if dataclasses.replace(actual, sends=planned.sends) != planned or actual.sends > planned.sends:
        return False, None
    if actual.sends == planned.sends:
        return True, None
    # A resend: its send is not counted, its note stays.
    taken = dataclasses.replace(planned, sends=actual.sends - planned.sends, masked_destination="")
    return True, TallyCorrection(taken, counted_ms)


def _seconds_until(until_ms: int, now_ms: int) -> int:
    return max(1, -(-(until_ms - now_ms) // 1000))


def _refuse_if_blocked(block: BreakerTrip | None, breaker: BreakerSettings, now_ms: int) -> None:
    if (
        block is not None
        and block.mode == FraudGuardMode.BLOCK.value
        and breaker.mode is FraudGuardMode.BLOCK
        and block.until_ms > now_ms
    ):
        raise DeliveryBlocked(
            f"Fraud Guard paused sends to {block.prefix}", _seconds_until(block.until_ms, now_ms)
        )


def _refusal(limit: WindowLimit, outcome: LimitOutcome) -> Exception:
    retry = outcome.retry_after_seconds
    if limit.name in (SENDS_PER_DESTINATION_PER_HOUR, SENDS_PER_DESTINATION_PER_DAY):
        return MaxSendAttemptsReached(retry)
    if limit.name == DAILY_SEND_CAP:
        return DeliveryBlocked("the service's daily send cap is reached", retry)
    if limit.name == DAILY_EMAIL_SEND_CAP:
        return DeliveryBlocked("the service's daily e-mail send cap is reached", retry)
    if limit.name == DAILY_COUNTRY_SEND_CAP:
        country = limit.scope[-1]
        return DeliveryBlocked(f"the daily send cap for {country} is reached", retry)
    return RateLimitExceeded(limit.name, retry)
