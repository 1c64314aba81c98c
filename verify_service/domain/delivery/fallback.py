"""Automatic channel fallback (verify-service extension): the rules, without I/O.

A service may list channels to try, in order, after a verification's own channel. Step 0 is
the send the caller asked for; step k (k >= 1) sends on the k-th fallback channel, when the
verification is still pending `fallback_after_seconds` after the previous step's send (or at
once, when that send's delivery failed on every provider). Each step is an ordinary resend:
it counts as a send, obeys the five-send limit and carries a fresh code.

Fallback is for phone destinations only: a phone number can be reached by SMS, voice or
WhatsApp, whereas an e-mail address can only be reached by e-mail, and sending the same
e-mail again is a plain resend, not a fallback. So `FallbackChannels` accepts `sms`, `call`
and `whatsapp`, and verifications of e-mail addresses never fall back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from verify_service.domain.errors import InvalidParameter
from verify_service.domain.models import MAX_SENDS_PER_VERIFICATION, Channel

FALLBACK_CHANNELS = (Channel.SMS, Channel.CALL, Channel.WHATSAPP)
# Each step is a send and a verification has five: the first send plus four steps at most.
MAX_FALLBACK_STEPS = MAX_SENDS_PER_VERIFICATION - 1
MIN_FALLBACK_AFTER_SECONDS = 30
MAX_FALLBACK_AFTER_SECONDS = 600
DEFAULT_FALLBACK_AFTER_SECONDS = 60


@dataclass(frozen=True, slots=True)
class FallbackStep:
    """The step to take if the verification is still pending at `due_ms`: send on the
    `step`-th fallback channel (1-based)."""

    step: int
    due_ms: int


def parse_fallback_channels(values: Iterable[str]) -> tuple[Channel, ...]:
    """The service's fallback list, from wire values; 60200 for anything else."""
    channels: list[Channel] = []
    for value in values:
        try:
            channel = Channel(value.strip().lower())
        except ValueError:
            channel = None
        if channel not in FALLBACK_CHANNELS:
            raise InvalidParameter("FallbackChannels", "a list of sms, call, whatsapp")
        if channel in channels:
            raise InvalidParameter("FallbackChannels", "each channel at most once")
        channels.append(channel)
    if len(channels) > MAX_FALLBACK_STEPS:
        raise InvalidParameter("FallbackChannels", f"at most {MAX_FALLBACK_STEPS} channels")
    return tuple(channels)


def next_step(
    fallback_channels: tuple[Channel, ...],
    after_seconds: int,
    channel: Channel,
    current_step: int,
    now_ms: int,
) -> FallbackStep | None:
    """The step that follows a send made at `now_ms` on `channel` as step `current_step`
    (0 for a send the caller asked for), or None when there is none."""
    if not channel.is_phone or current_step >= len(fallback_channels):
        return None
    return FallbackStep(current_step + 1, now_ms + after_seconds * 1000)
