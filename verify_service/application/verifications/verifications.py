"""Use cases of the Verification and VerificationCheck resources."""

from __future__ import annotations

import dataclasses
import hmac
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from verify_service.application.attempts.attempts import destination_country, destination_digest
from verify_service.application.events.ports import ExpiryWatch
from verify_service.application.events.publisher import EventPublisher
from verify_service.application.metrics.ports import NO_METRICS, Metrics, Refusal
from verify_service.application.ports import Clock
from verify_service.application.protection.abuse_protection import AbuseProtection, StartFacts
from verify_service.application.templates.choice import (
    BUILTIN,
    TEMPLATE_SID,
    TEMPLATES,
    ChosenTemplate,
    TemplateChoice,
    TemplateEntry,
)
from verify_service.application.verifications.ports import (
    CodeHasher,
    DestinationLock,
    PendingSnapshot,
    Reservation,
    ReserveResult,
    StartContext,
    StartProbe,
    StartResult,
    StartWrite,
    TallyCorrection,
    VerificationRef,
    VerificationStore,
)
from verify_service.domain import sids
from verify_service.domain.codes import generate_code, require_code_shape
from verify_service.domain.delivery.delivery import DeliveryJob, RenderedMessage
from verify_service.domain.delivery.fallback import next_step
from verify_service.domain.destination_identity import destination_identity
from verify_service.domain.destinations import (
    mask_destination,
    normalize_any_destination,
    normalize_destination,
    require_smtp_address,
)
from verify_service.domain.errors import (
    DeliveryBlocked,
    FeatureNotEnabled,
    GeoPermissionDenied,
    InvalidParameter,
    MaxCheckAttemptsReached,
    MaxChecksPerDestinationReached,
    MaxSendAttemptsReached,
    NotFound,
    Psd2ParametersRequired,
    RateLimitExceeded,
    StoreUnavailable,
    TooManyConcurrentRequests,
)
from verify_service.domain.events.event_types import EventType
from verify_service.domain.events.events import Event, verification_event
from verify_service.domain.keyring import Keyring
from verify_service.domain.messages.message_text import (
    is_link_like,
    require_name,
    require_wire_safe,
)
from verify_service.domain.messages.messages import resolve_locale
from verify_service.domain.models import (
    MAX_CHECKS_PER_VERIFICATION,
    MAX_SENDS_PER_VERIFICATION,
    Channel,
    EndedBy,
    Verification,
    VerificationStatus,
    live_status,
)
from verify_service.domain.routing.routing import route_for, sender_for
from verify_service.domain.service import Service
from verify_service.domain.templates.checks import (
    require_sent_length,
    require_sms_within_budget,
)
from verify_service.domain.templates.html_reading import link_readings
from verify_service.domain.templates.rendering import (
    TemplateValues,
    render_template,
    ttl_minutes,
)
from verify_service.domain.templates.template import Source
from verify_service.domain.templates.variables import SUBSTITUTIONS

log = logging.getLogger(__name__)

# A start races only with other starts for the same destination; each retry re-reads the
# pending verification. Past this many lost races the caller gets 60212 and may retry.
MAX_START_RACES = 4


@dataclass(frozen=True, slots=True)
class StartRequest:
    to: str
    channel: Channel
    custom_friendly_name: str | None = None
    custom_code: str | None = None
    locale: str | None = None
    amount: str | None = None
    payee: str | None = None
    app_hash: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    device_ip: str | None = None
    rate_limit_values: dict[str, str] = field(default_factory=dict)
    risk_check: bool = True
    # The template the start names: `Templates` entries, else a sid and substitutions, with
    # the wire parameters they came in (`TemplateSid` or `ChannelConfiguration.template_id`,
    # `TemplateCustomSubstitutions` or `ChannelConfiguration.substitutions`), which errors name.
    template_entries: tuple[TemplateEntry, ...] = ()
    template_sid: str | None = None
    template_substitutions: tuple[tuple[str, str], ...] = ()
    template_parameters: tuple[str, str] = (TEMPLATE_SID, SUBSTITUTIONS)
    # A resend only (a `support` caller, the console): refused when nothing is pending.
    resend_only: bool = False
    # Set by channel fallback only: resend on this pending verification (never create one),
    # as this step of the service's fallback list.
    resend_of: str | None = None
    fallback_step: int = 0
    # E-mail only: `ChannelConfiguration.from` / `from_name`, checked (docs/messages.md,
    # "Branded e-mail"). Calls only: `SendDigits`, dialled once the call connects.
    email_sender: str | None = None
    email_sender_name: str | None = None
    send_digits: str | None = None


@dataclass(frozen=True, slots=True)
class CheckRequest:
    code: str
    to: str | None = None
    verification_sid: str | None = None
    amount: str | None = None
    payee: str | None = None


def _seconds(milliseconds: int) -> int:
    return max(1, -(-milliseconds // 1000))


class Verifications:
    """Start (or resend), check, fetch and end verifications."""

    def __init__(
        self,
        store: VerificationStore,
        hasher: CodeHasher,
        keyring: Keyring,
        clock: Clock,
        protection: AbuseProtection,
        metrics: Metrics = NO_METRICS,
        events: EventPublisher | None = None,
    ) -> None:
        self._metrics = metrics
        self._events = events
        self._protection = protection
        self._store = store
        self._hasher = hasher
        self._keyring = keyring
        self._clock = clock
        # Message templates (application/templates/choice.py); None: the built-in wording.
        self.templates: TemplateChoice | None = None

    def _ref(self, service_sid: str, destination: str) -> VerificationRef:
        """The slot of the destination's verification, by its identity: every spelling of
        one mailbox finds the same pending verification and counts under the same limits."""
        if not sids.is_sid(service_sid, "VA"):
            raise NotFound
        tag = self._keyring.destination_tag(
            service_sid, destination_identity(destination), sids.VERIFICATION_TAG_HEX_DIGITS
        )
        return VerificationRef(service_sid, tag)

    def _ref_of_sid(self, service_sid: str, verification_sid: str) -> VerificationRef:
        tag = sids.verification_tag(verification_sid)
        if tag is None or not sids.is_sid(service_sid, "VA"):
            raise NotFound
        return VerificationRef(service_sid, tag)

    # -- start ------------------------------------------------------------------------------

    def start(self, service_sid: str, request: StartRequest) -> Verification:
        """Create a verification for `To`, or resend a new code on the pending one."""
        with self._refusal_counted("start"):
            return self._start(service_sid, request)

    @contextmanager
    def _refusal_counted(self, operation: str) -> Iterator[None]:
        """A refusal by a rate limit, geo permissions or Fraud Guard, counted (metrics)."""
        try:
            yield
        except _REFUSALS as refusal:
            self._metrics.refused(_refusal_reason(refusal), operation)
            raise

    def _start(self, service_sid: str, request: StartRequest) -> Verification:
        to = normalize_destination(request.channel, request.to)
        ref = self._ref(service_sid, to)
        friendly_name = _require_deliverable_text(request, to)
        tags_json = json.dumps(request.tags, separators=(",", ":")) if request.tags else None

        facts = StartFacts(
            service_sid=service_sid,
            channel=request.channel,
            to=to,
            destination_tag=ref.tag,
            device_ip=request.device_ip,
            rate_limit_values=request.rate_limit_values,
            risk_check=request.risk_check,
            fallback=request.resend_of is not None,
        )
        named = self._named_template(request)
        probe = counted_probe = self._protection.probe(facts)
        admitted = False
        correction: TallyCorrection | None = None
        for _ in range(MAX_START_RACES):
            now_ms = self._clock.now_ms()
            context = self._store.prepare_protected_start(ref, now_ms, probe)
            # Only the first read counts the probe's limits (admit_start settles them).
            probe = dataclasses.replace(probe, limits=(), tally=None)
            try:
                service, pending, address, test_code, code, amount, payee = self._admissible(
                    request, context, to, friendly_name, now_ms
                )
                chosen = named or self._service_template(service, request)
                # The terms the code is bound to are those of the first send; a resend that
                # names other terms must not show terms its code does not approve.
                shown_amount, shown_payee, stored_locale = (
                    (amount, payee, request.locale)
                    if pending is None
                    else (pending.amount, pending.payee, request.locale or pending.locale)
                )
                message = _message(
                    chosen,
                    request,
                    resolve_locale(stored_locale, address, request.channel),
                    _template_values(
                        request, service, chosen, code, friendly_name, (shown_amount, shown_payee)
                    ),
                )
            except Exception:
                self._protection.take_back_start(context, counted_probe)
                raise
            if admitted or test_code is not None:
                self._protection.take_back_start(context, counted_probe)
            else:
                # Last of the checks, so a malformed request is not counted; and counted
                # once, however many races the write below loses.
                correction = self._protection.admit_start(context, facts, counted_probe, now_ms)
                admitted = True
            if pending is None:
                sid, salt, is_new = (
                    sids.new_verification_sid(ref.tag),
                    self._hasher.new_salt(),
                    True,
                )
            else:
                sid, salt, is_new = pending.sid, pending.salt, False
            write = StartWrite(
                ref=ref,
                sid=sid,
                is_new=is_new,
                salt=salt,
                code_digest=self._hasher.digest(sid, code, salt),
                attempt_sid=sids.new_attempt_sid(service_sid, now_ms),
                channel=request.channel,
                now_ms=now_ms,
                ttl_ms=service.verification_ttl_seconds * 1000,
                to=address,
                amount=amount,
                payee=payee,
                locale=request.locale,
                tags_json=tags_json,
                destination_digest=destination_digest(self._keyring, address),
                country=destination_country(request.channel, address),
                fallback=None
                if test_code
                else next_step(
                    service.fallback_channels,
                    service.fallback_after_seconds,
                    request.channel,
                    request.fallback_step,
                    now_ms,
                ),
            )
            if is_new and self._watches_expiry(service_sid):
                write = dataclasses.replace(write, expiry=_expiry_watch(write))
            delivery = DeliveryJob(
                attempt_sid=write.attempt_sid,
                verification_sid=sid,
                service_sid=service_sid,
                verification_tag=ref.tag,
                to=address,
                message=message,
                enqueued_ms=now_ms,
                route_sid=route_for(
                    service.messaging_configurations,
                    service.whatsapp_msg_service_sid,
                    request.channel,
                    write.country,
                ),
                whatsapp_sender=sender_for(service.whatsapp_from, request.channel),
            )
            outcome = self._store.start_or_resend(
                write, None if test_code else delivery, correction
            )
            correction = None  # taken back once, whatever races the write loses
            if outcome.result is StartResult.CONFLICT:
                continue
            if outcome.result is StartResult.LOCKED:
                raise MaxCheckAttemptsReached(_seconds(outcome.retry_after_ms))
            if outcome.result is StartResult.MAX_SENDS:
                raise MaxSendAttemptsReached(_seconds(outcome.retry_after_ms))
            if outcome.verification is None:
                raise TooManyConcurrentRequests  # unreachable: created/resent carry it
            _log_start(outcome.result, write, test_code is not None)
            self._metrics.verification_started(write.channel.value, outcome.result.value)
            if outcome.result is StartResult.CREATED:
                self._emit(
                    EventType.VERIFICATION_STARTED,
                    outcome.verification,
                    now_ms,
                    known_country=(write.country,),
                )
            return _with_lookup(outcome.verification, service)
        raise TooManyConcurrentRequests

    def _named_template(self, request: StartRequest) -> ChosenTemplate | None:
        """The template the start names, checked before anything is read (60200, 60227)."""
        if self.templates is None:
            for given, parameter in (
                (request.template_entries, TEMPLATES),
                (request.template_sid, request.template_parameters[0]),
                (request.template_substitutions, request.template_parameters[1]),
            ):
                if given:
                    raise FeatureNotEnabled(parameter)
            return None
        if request.template_entries:
            return self.templates.from_entries(request.template_entries, request.channel)
        return self.templates.named(
            request.channel,
            request.template_sid,
            dict(request.template_substitutions),
            request.template_parameters,
        )

    def _service_template(self, service: Service, request: StartRequest) -> ChosenTemplate:
        if self.templates is None:
            return BUILTIN
        return self.templates.for_service(
            service,
            request.channel,
            dict(request.template_substitutions),
            request.template_parameters[1],
        )

    def _admissible(
        self,
        request: StartRequest,
        context: StartContext,
        to: str,
        friendly_name: str | None,
        now_ms: int,
    ) -> tuple[Service, PendingSnapshot | None, str, str | None, str, str | None, str | None]:
        """Every refusal a start's read decides (before protection's): the service, the
        pending verification, the address to send to, the test code if any, the code, and
        the PSD2 terms."""
        service, pending = context.service, context.pending
        if service is None:
            raise NotFound
        _require_resend_target(request, pending)
        _refuse_while_locked(context.lock, now_ms)
        if request.resend_only and pending is None:
            raise NotFound  # nothing to resend: a resender never creates a verification
        _refuse_from_snapshot(pending, now_ms)
        # A resend goes to the address the verification was started for, whatever
        # spelling of the mailbox asked for it (docs/abuse-protection.md).
        address = _delivery_address(pending, to)
        test_code = self._test_code(service, to, address)
        code = test_code or self._code_for(service, request)
        amount, payee = self._psd2_terms(service, request.amount, request.payee)
        _require_sendable_stored_text(service, friendly_name, pending)
        return service, pending, address, test_code, code, amount, payee

    def _test_code(self, service: Service, to: str, address: str) -> str | None:
        """The fixed code when the verification's address is a test destination (exactly,
        never by identity). A test verification takes no real send and a real one no test
        code: a start whose `To` is a test destination and the pending verification's
        address is not (or the reverse) is refused with 60200, and nothing changes."""
        test_code = self._protection.test_code(service, address)
        if (test_code is None) != (self._protection.test_code(service, to) is None):
            raise InvalidParameter(
                "To",
                "a verification is pending for this mailbox at an address that is"
                + (" not" if test_code is None else "")
                + " a test destination; it ends at its expiry or when canceled",
            )
        return test_code

    @staticmethod
    def _code_for(service: Service, request: StartRequest) -> str:
        if request.custom_code is None:
            return generate_code(service.code_length)
        if not service.custom_code_enabled:
            raise FeatureNotEnabled("CustomCode")
        return require_code_shape(request.custom_code, "CustomCode")

    @staticmethod
    def _psd2_terms(
        service: Service, amount: str | None, payee: str | None
    ) -> tuple[str | None, str | None]:
        if not service.psd2_enabled:
            if amount or payee:  # shown nowhere and checked by nothing: refused, not ignored
                raise FeatureNotEnabled(
                    f"{_psd2_term(amount)} (the service has not enabled Psd2Enabled:"
                    " enable Psd2Enabled or send neither Amount nor Payee)"
                )
            return None, None
        if not amount or not payee:
            raise Psd2ParametersRequired
        return amount, payee

    # -- check ------------------------------------------------------------------------------

    def check(self, service_sid: str, request: CheckRequest) -> Verification:
        """Count one attempt; approve and end the verification when the code is right."""
        code = require_code_shape(request.code, "Code")
        asked: str | None = None  # the address a check by To names, as given
        if request.verification_sid is not None:
            ref = self._ref_of_sid(service_sid, request.verification_sid)
        elif request.to is not None:
            asked = normalize_any_destination(request.to)
            ref = self._ref(service_sid, asked)
        else:
            raise InvalidParameter("VerificationSid", "To or VerificationSid is required")
        psd2_given = bool(request.amount) and bool(request.payee)
        now_ms = self._clock.now_ms()
        # The per-destination check limit is counted in the reservation's round trip, with
        # the service's limit as this process last read it (confirmed by admit_check).
        window = self._protection.check_window(service_sid, ref.tag)
        reservation = self._store.reserve_check(
            ref,
            request.verification_sid,
            now_ms,
            psd2_given,
            window,
            psd2_terms_sent=bool(request.amount) or bool(request.payee),
        )
        verification = reservation.verification
        if reservation.result is not ReserveResult.RESERVED or verification is None:
            self._protection.take_back_check(window, reservation.window, now_ms)
        _refuse_unreserved(reservation, request)
        if verification is None:
            raise NotFound  # unreachable: a reservation carries its verification
        # After the reservation (it needs the service's limit, read in the same round trip):
        # a refused check still used up one of the verification's attempts.
        settings = reservation.settings or self._store.protection_settings(service_sid)
        with self._refusal_counted("check"):
            self._protection.admit_check(
                service_sid,
                ref.tag,
                settings,
                verification.to,
                now_ms,
                counted=window,
                outcome=reservation.window,
            )
        right = self._hasher.matches(
            verification.sid, code, reservation.salt, reservation.code_digests
        )
        if verification.amount is not None:
            right &= _same(request.amount, verification.amount)
            right &= _same(request.payee, verification.payee)
        if (
            asked is not None
            and asked != verification.to
            and self._protection.is_test_destination(settings, verification.to)
        ):
            # A test verification's fixed code is known: it answers only a check by its own
            # exact address, never by another spelling of the mailbox.
            right = False
        if not right:
            self._wrong_code(verification, now_ms)
            return verification.with_status(
                live_status(verification.check_count), verification.updated_ms
            )
        # Fraud Guard's approval is counted in the approval's own round trip.
        tally = self._protection.approval_tally(service_sid, verification.to, settings)
        approved = self._store.approve(
            ref, verification.sid, self._clock.now_ms(), by_check=True, tally=tally
        )
        if approved is None:
            raise NotFound
        log.info("verification %s: approved", verification.sid)
        self._metrics.verification_approved(approved.channel.value)
        self._emit(EventType.VERIFICATION_APPROVED, approved, approved.updated_ms)
        return approved

    def _wrong_code(self, verification: Verification, now_ms: int) -> None:
        log.info(
            "verification %s: wrong code (%d checks)", verification.sid, verification.check_count
        )
        if verification.check_count == MAX_CHECKS_PER_VERIFICATION:
            self._emit(EventType.VERIFICATION_MAX_ATTEMPTS_REACHED, verification, now_ms)

    # -- events ---------------------------------------------------------------------------

    def _watches_expiry(self, service_sid: str) -> bool:
        """A create's expiry is watched when metrics count expiries or a webhook of the
        service wants `verification.expired` (the directory is cached: no round trip)."""
        if self._metrics is not NO_METRICS:
            return True
        events = self._events
        return events is not None and events.wants(service_sid, EventType.VERIFICATION_EXPIRED)

    def _emit(
        self,
        event_type: EventType,
        verification: Verification,
        now_ms: int,
        known_country: tuple[str | None] | None = None,
    ) -> None:
        """Publish the event (right after the state change's round trip: docs/webhooks.md,
        "Delivery guarantee"). `known_country`: the destination's country when the caller
        has it already."""
        events = self._events
        if events is None:
            return
        found: list[str | None] = list(known_country or ())

        def country() -> str | None:  # only when a webhook wants the event: not free
            if not found:
                found.append(destination_country(verification.channel, verification.to))
            return found[0]

        def build() -> Event:
            return verification_event(
                event_type, events.account_sid, verification, now_ms, country()
            )

        events.emit(verification.service_sid, event_type, build)

    # -- fetch and update ---------------------------------------------------------------------

    def fetch(self, service_sid: str, verification_sid: str) -> Verification:
        ref = self._ref_of_sid(service_sid, verification_sid)
        service, verification = self._store.fetch(ref, verification_sid, self._clock.now_ms())
        if service is None or verification is None:
            raise NotFound
        return _with_lookup(verification, service)

    def lookup(self, service_sid: str, destination: str) -> Verification | None:
        """The destination's pending verification in the service, or None (the support
        console's search, by the same keyed tag as a start). NotFound: no such service."""
        ref = self._ref(service_sid, normalize_any_destination(destination))
        now_ms = self._clock.now_ms()
        service, pending = self._store.prepare_start(ref, now_ms)
        if service is None:
            raise NotFound
        if pending is None:
            return None
        _service, verification = self._store.fetch(ref, pending.sid, now_ms)
        return verification

    def lock_of(self, service_sid: str, destination: str) -> DestinationLock | None:
        """The lock a canceled locked verification left on the destination, while it lasts
        (the support console shows it). NotFound: no such service."""
        ref = self._ref(service_sid, normalize_any_destination(destination))
        context = self._store.prepare_protected_start(ref, self._clock.now_ms(), StartProbe())
        if context.service is None:
            raise NotFound
        return context.lock

    def _record_manual_approval(self, service_sid: str, to: str, now_ms: int) -> None:
        """The approval is made; counting it for Fraud Guard must not turn it into a 503."""
        try:
            settings = self._store.protection_settings(service_sid)
        except StoreUnavailable:
            log.warning("fraud guard: an approval of service %s was not counted", service_sid)
            return
        self._protection.record_approval(service_sid, to, settings, now_ms)

    def update_status(
        self,
        service_sid: str,
        verification_sid: str,
        status: VerificationStatus,
        ended_by: EndedBy | None = None,
    ) -> Verification:
        """End a verification as `approved` or `canceled` (Twilio's update); `ended_by`
        (who, and why) is recorded with the end for the support console."""
        ref = self._ref_of_sid(service_sid, verification_sid)
        now_ms = self._clock.now_ms()
        if status is VerificationStatus.APPROVED:
            ended = self._store.approve(ref, verification_sid, now_ms, ended_by=ended_by)
        elif status is VerificationStatus.CANCELED:
            ended = self._store.cancel(ref, verification_sid, now_ms, ended_by=ended_by)
        else:
            raise InvalidParameter("Status", "canceled or approved")
        if ended is None:
            raise NotFound
        if status is VerificationStatus.APPROVED:
            self._record_manual_approval(service_sid, ended.to, now_ms)
            self._metrics.verification_approved(ended.channel.value)
        log.info("verification %s: %s by update", verification_sid, status.value)
        self._emit(
            EventType.VERIFICATION_APPROVED
            if status is VerificationStatus.APPROVED
            else EventType.VERIFICATION_CANCELED,
            ended,
            now_ms,
        )
        return ended


def _expiry_watch(write: StartWrite) -> ExpiryWatch:
    """The watch of the verification `write` creates (its expiry is the script's: now +
    ttl); what a `verification.expired` event carries, the destination masked only."""
    return ExpiryWatch(
        service_sid=write.ref.service_sid,
        verification_sid=write.sid,
        tag=write.ref.tag,
        channel=write.channel.value,
        masked_to=mask_destination(write.to),
        country=write.country,
        created_ms=write.now_ms,
        expires_ms=write.now_ms + write.ttl_ms,
        tags=write.tags_json,
    )


def _service_name(service: Service, channel: Channel) -> str:
    """The name a message says: a call says the service's `TtsName` when it has one (Twilio:
    the name spoken in voice calls), every other channel its `FriendlyName`. A start's
    `CustomFriendlyName` wins over both."""
    if channel is Channel.CALL and service.tts_name:
        return service.tts_name
    return service.friendly_name


def _message(
    chosen: ChosenTemplate, request: StartRequest, locale: str, values: TemplateValues
) -> RenderedMessage:
    """The start's message; an operator template's SMS within its budget whatever values
    the start gave it (60200 naming what the start gave: a PSD2 term that alone shows a
    link or an encoded word, else its substitutions, else its CustomFriendlyName, else the
    service's FriendlyName)."""
    message = render_template(chosen.template, request.channel, locale, values)
    if chosen.template.source is Source.BUILTIN:
        return _with_start_options(message, request)
    parameter = (
        chosen.parameter
        if chosen.substitutions
        else "CustomFriendlyName"
        if request.custom_friendly_name
        else "FriendlyName"
    )
    if request.channel is Channel.SMS:
        every_option = bool(values.app_hash or values.webotp_domain)
        _require_fits(
            lambda text, name: require_sms_within_budget(text, every_option, name),
            chosen, request, locale, values, message.text, parameter,
        )  # fmt: skip
    if request.channel in (Channel.CALL, Channel.WHATSAPP):
        _require_fits(
            lambda text, name: require_sent_length(request.channel, text, name),
            chosen, request, locale, values, message.text, parameter,
        )  # fmt: skip
    if message.subject is not None and "=?" in message.subject:
        # Values free of `=?` one by one can join into an RFC 2047 word mail libraries
        # decode (the SMTP provider refuses it at send: accepted, never delivered).
        raise InvalidParameter(
            _term_named(request, lambda term: "=?" in term) or parameter,
            "the subject would hold a MIME encoded word (=?)",
        )
    if not chosen.template.allow_links:
        # Each value was checked alone; side by side (`{{first}}{{last}}`), or beside the
        # template's text, two of them can read `evil.com`. Without the machine lines
        # (the WebOTP line names a domain on purpose).
        plain_values = dataclasses.replace(values, app_hash=None, webotp_domain=None)
        plain = (
            message  # no machine lines: the message already rendered (a render is ~0.1 ms)
            if plain_values == values
            else render_template(chosen.template, request.channel, locale, plain_values)
        )
        # The HTML as a mail reader decodes it too (`{{shop}}&#46;com`: html_reading.py).
        html_readings = link_readings(plain.html) if plain.html is not None else ()
        if any(is_link_like(text or "") for text in (plain.text, plain.subject, *html_readings)):
            raise InvalidParameter(
                _term_named(request, is_link_like) or parameter,
                "the message would show a link (no AllowLinks)",
            )
    return _with_start_options(message, request)


def _require_fits(
    check: Callable[[str, str], None],
    chosen: ChosenTemplate,
    request: StartRequest,
    locale: str,
    values: TemplateValues,
    text: str,
    parameter: str,
) -> None:
    """`check(text, parameter)` (a length: the SMS budget, a call's or a WhatsApp body's
    bound), naming a PSD2 term instead when the message fits without it: a payee may be 64
    characters where the save check counts 30, and the caller sent it."""
    try:
        check(text, parameter)
    except InvalidParameter as too_long:
        for term, without in (
            ("Payee", dataclasses.replace(values, payee=None)),
            ("Amount", dataclasses.replace(values, amount=None)),
        ):
            if without == values:
                continue  # the start has no such term
            try:
                check(render_template(chosen.template, request.channel, locale, without).text, term)
            except InvalidParameter:
                continue
            check(text, term)  # raises, naming the term
        raise too_long


def _term_named(request: StartRequest, fails: Callable[[str], bool]) -> str | None:
    """`Payee` or `Amount` when that PSD2 term alone fails a check of the whole message:
    the refusal names what the caller sent and can change, not the service's name."""
    for value, name in ((request.payee, "Payee"), (request.amount, "Amount")):
        if value and fails(value):
            return name
    return None


def _with_start_options(message: RenderedMessage, request: StartRequest) -> RenderedMessage:
    """The start's e-mail sender and call digits ride with the message (sealed with it)."""
    if (request.email_sender, request.email_sender_name, request.send_digits) == (None,) * 3:
        return message
    return dataclasses.replace(
        message,
        sender=request.email_sender,
        sender_name=request.email_sender_name,
        send_digits=request.send_digits,
    )


def _require_deliverable_text(request: StartRequest, to: str) -> str | None:
    """What a message carries must reach every provider of its channel: text without
    control characters, a name without links, an e-mail address SMTP can carry
    (docs/messages.md). Returns the `CustomFriendlyName` to use, if any."""
    if request.channel is Channel.EMAIL:
        require_smtp_address(to)
    for value, parameter in ((request.amount, "Amount"), (request.payee, "Payee")):
        if value is not None:
            require_wire_safe(value, parameter)
    if request.custom_friendly_name is None:
        return None
    return require_name(request.custom_friendly_name, "CustomFriendlyName")


def _require_sendable_stored_text(
    service: Service, friendly_name: str | None, pending: PendingSnapshot | None
) -> None:
    """Text stored before the wire-safe rule (a service name, a pending verification's terms)
    is checked too: a start it would make undeliverable is a 60200, not a dead letter."""
    stored: list[tuple[str | None, str]] = []
    if friendly_name is None:
        stored.append((service.friendly_name, "FriendlyName"))
    if pending is not None:
        stored += [(pending.amount, "Amount"), (pending.payee, "Payee")]
    for value, parameter in stored:
        if value is not None:
            require_wire_safe(value, parameter)


def _refuse_while_locked(lock: DestinationLock | None, now_ms: int) -> None:
    """A canceled locked verification's lock refuses every start until its expiry (the
    script that creates re-reads it, so a start racing the cancel is refused too)."""
    if lock is not None:
        raise MaxCheckAttemptsReached(_seconds(lock.expires_ms - now_ms))


def _refuse_from_snapshot(pending: PendingSnapshot | None, now_ms: int) -> None:
    """Both counters only grow while a verification lives, so a refusal read here is final:
    answer it without a write."""
    if pending is None:
        return
    retry_after = _seconds(pending.expires_ms - now_ms)
    if pending.checks >= MAX_CHECKS_PER_VERIFICATION:
        raise MaxCheckAttemptsReached(retry_after)
    if pending.sends >= MAX_SENDS_PER_VERIFICATION:
        raise MaxSendAttemptsReached(retry_after)


def _log_start(result: StartResult, write: StartWrite, test_destination: bool) -> None:
    if test_destination:
        log.info(
            "verification %s: %s for a test destination, nothing sent", write.sid, result.value
        )
        return
    log.info(
        "verification %s: %s, %s queued for %s (%s)",
        write.sid,
        result.value,
        write.attempt_sid,
        mask_destination(write.to),
        write.channel.value,
    )


def _delivery_address(pending: PendingSnapshot | None, to: str) -> str:
    """Where this send goes: the pending verification's own address (a resend, in whatever
    spelling of the mailbox it was asked for), else `To` as given (a new verification)."""
    if pending is None:
        return to
    if pending.to is None:
        raise NotFound  # its address cannot be opened: none of its codes can match either
    return pending.to


def _require_resend_target(request: StartRequest, pending: PendingSnapshot | None) -> None:
    """A fallback resend goes to the verification it was scheduled for, or nowhere: never
    to a verification started since, and it never creates one."""
    if request.resend_of is not None and (pending is None or pending.sid != request.resend_of):
        raise NotFound


# Refusals by a limit (a programmable bucket, a per-destination limit of sends or checks, a
# verification's own sends), geo permissions, and Fraud Guard (its breaker, the send caps).
_REFUSALS = (
    RateLimitExceeded,
    MaxSendAttemptsReached,
    MaxChecksPerDestinationReached,
    GeoPermissionDenied,
    DeliveryBlocked,
)


def _refusal_reason(refusal: Exception) -> str:
    if isinstance(refusal, GeoPermissionDenied):
        return Refusal.GEO_PERMISSION
    if isinstance(refusal, DeliveryBlocked):
        return Refusal.FRAUD_GUARD
    return Refusal.RATE_LIMIT


def _refuse_unreserved(reservation: Reservation, request: CheckRequest) -> None:
    """The refusal of a check whose attempt was not reserved (nothing counted)."""
    if not reservation.service_exists or reservation.result is ReserveResult.MISSING:
        raise NotFound
    if reservation.result is ReserveResult.LOCKED:
        raise MaxCheckAttemptsReached(_seconds(reservation.retry_after_ms))
    if reservation.result is ReserveResult.PSD2_REQUIRED:
        raise Psd2ParametersRequired
    if reservation.result is ReserveResult.PSD2_NOT_ENABLED:
        # Decided on the verification (its stored terms), not on the service's setting now.
        raise FeatureNotEnabled(
            f"{_psd2_term(request.amount)} (this verification was started without Amount"
            " and Payee, its service not having enabled Psd2Enabled: send neither)"
        )


def _psd2_term(amount: str | None) -> str:
    """The PSD2 term 60204 names: Amount when given, else Payee."""
    return "Amount" if amount else "Payee"


def _with_lookup(verification: Verification, service: Service) -> Verification:
    if not service.lookup_enabled:
        return verification
    return dataclasses.replace(verification, lookup_enabled=True)


def _same(given: str | None, stored: str | None) -> bool:
    if given is None or stored is None:
        return False
    return hmac.compare_digest(given.encode("utf-8"), stored.encode("utf-8"))


def _template_values(
    request: StartRequest,
    service: Service,
    chosen: ChosenTemplate,
    code: str,
    friendly_name: str | None,
    terms: tuple[str | None, str | None],
) -> TemplateValues:
    """What the chosen template is filled with. Carries the code: never log it."""
    return TemplateValues(
        friendly_name=friendly_name or _service_name(service, request.channel),
        code=code,
        ttl_minutes=ttl_minutes(service.verification_ttl_seconds),
        amount=terms[0],
        payee=terms[1],
        app_hash=request.app_hash,
        webotp_domain=service.webotp_domain,
        do_not_share_warning=service.do_not_share_warning_enabled,
        substitutions=chosen.substitutions,
    )
