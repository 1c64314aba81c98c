"""The exceptions a use case can raise; `http/error_codes.py` maps each to a Twilio code."""

from __future__ import annotations

import re

# A key a caller chose is named in an error only when it is a plain word: an error never
# echoes odd text (markup, control characters, a long string) back to whoever reads it.
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.-]{1,32}")


def keyed_parameter(parameter: str, key: object) -> str:
    """`parameter.key` when `key` is a plain word, else the bare `parameter`."""
    if isinstance(key, str) and _PLAIN_KEY.fullmatch(key):
        return f"{parameter}.{key}"
    return parameter


class VerifyError(Exception):
    """Base of every error the service reports to a caller."""


class InvalidParameter(VerifyError):
    """A parameter is malformed or out of range; `parameter` is its wire name."""

    def __init__(self, parameter: str, reason: str = "") -> None:
        self.parameter = parameter
        self.reason = reason
        super().__init__(f"Invalid parameter: {parameter}" + (f" ({reason})" if reason else ""))


class NotFound(VerifyError):
    """The resource does not exist, or has ended (approved, canceled, expired)."""


class FactorNotFound(NotFound):
    """A challenge names a factor (`FactorSid`) the entity does not have."""

    def __init__(self, factor_sid: str) -> None:
        super().__init__(f"The requested resource FactorSid {factor_sid} was not found")


class MaxCheckAttemptsReached(VerifyError):
    """The verification is locked after its allowed number of check attempts."""

    def __init__(self, retry_after_seconds: int | None = None) -> None:
        self.retry_after_seconds = retry_after_seconds
        super().__init__("Max check attempts reached")


class MaxSendAttemptsReached(VerifyError):
    """The verification already delivered its allowed number of codes."""

    def __init__(self, retry_after_seconds: int | None = None) -> None:
        self.retry_after_seconds = retry_after_seconds
        super().__init__("Max send attempts reached")


class ParameterNotPermitted(VerifyError):
    """The caller's role may not set these parameters: a `support` resend takes only the
    ones in `allowed` (anything else could steer the message, e.g. AppHash's app)."""

    def __init__(self, parameters: tuple[str, ...], allowed: tuple[str, ...]) -> None:
        self.parameters = parameters
        self.allowed = allowed
        names = ", ".join(parameters)
        verb = "is" if len(parameters) == 1 else "are"
        super().__init__(
            f"Permission Denied: {names} {verb} not permitted for this key;"
            f" a resend takes only {' and '.join(allowed)}"
        )


class FeatureNotEnabled(VerifyError):
    """The request uses a feature the service has not enabled (or that is not offered)."""

    def __init__(self, feature: str) -> None:
        self.feature = feature
        super().__init__(f"Service does not support this feature: {feature}")


class Psd2ParametersRequired(VerifyError):
    """A PSD2 service needs `Amount` and `Payee` on start and check."""


class TooManyConcurrentRequests(VerifyError):
    """Concurrent requests for one destination kept racing; the caller should retry."""


class StoreUnavailable(VerifyError):
    """The state store (Redis) cannot be reached; nothing was decided, fail closed."""


class RateLimitExceeded(VerifyError):
    """A rate limit (a programmable bucket or a built-in limit) refuses this request;
    nothing was sent. `limit` names it for logs and the message (never a value)."""

    def __init__(self, limit: str, retry_after_seconds: int | None = None) -> None:
        self.limit = limit
        self.retry_after_seconds = retry_after_seconds
        super().__init__(f"Too many requests: {limit} limit reached")


class MaxChecksPerDestinationReached(VerifyError):
    """The destination used up its check attempts across verifications for now."""

    def __init__(self, retry_after_seconds: int | None = None) -> None:
        self.retry_after_seconds = retry_after_seconds
        super().__init__("Max check attempts reached")


class RateLimitConfigError(VerifyError):
    """A Rate Limit or Bucket change Twilio refuses with one of 60207-60211."""

    MAX_RATE_LIMITS = 60207
    DUPLICATE_UNIQUE_NAME = 60208
    INVALID_UNIQUE_NAME = 60209
    MAX_BUCKETS = 60210
    DUPLICATE_INTERVAL = 60211

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        super().__init__(message)


class LandlineNotSupported(VerifyError):
    """`SkipSmsToLandlines`: the destination is a landline and the channel is sms."""


class GeoPermissionDenied(VerifyError):
    """The service's geo permissions do not allow this channel to the number's country."""

    def __init__(self, country: str, channel: str) -> None:
        self.country = country
        self.channel = channel
        super().__init__(
            "Verification delivery attempt blocked (Geo-Permissions): "
            f"{channel} to {country} is not allowed for this service"
        )


class DeliveryBlocked(VerifyError):
    """Fraud Guard: the SMS-pumping breaker holds a block on the destination's prefix, or a
    daily send cap is spent. `reason` is safe to show (a prefix, a country, never a number)."""

    def __init__(self, reason: str, retry_after_seconds: int | None = None) -> None:
        self.reason = reason
        self.retry_after_seconds = retry_after_seconds
        super().__init__(f"Verification delivery attempt blocked: {reason}")


# -- MFA (entities, factors, challenges): Twilio's 603xx codes ------------------------------


class InvalidMfaRequest(InvalidParameter):
    """A parameter of an Entity, Factor or Challenge request is malformed or out of range
    (Twilio's 60306 "Invalid Request"); `parameter` is its wire name."""

    def __init__(self, parameter: str, reason: str = "") -> None:
        super().__init__(parameter, reason)
        self.args = (f"Invalid request: {parameter}" + (f" ({reason})" if reason else ""),)


class TooManyFactors(VerifyError):
    """The entity already has the most factors one entity may have."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"Max factors per entity reached ({limit})")


class FactorNotVerified(VerifyError):
    """A challenge names a factor that is still `unverified` (Twilio 60318)."""


class ChallengeExpired(VerifyError):
    """An answer reached a challenge after its expiration date (Twilio 60323)."""


class ChallengeNotPending(VerifyError):
    """An answer reached a challenge that was already approved or denied."""


def _wait(seconds: int | None) -> str:
    """`try again in 15 minutes`, `… in 7 hours`: rounded up, never `0`."""
    if seconds is None:
        return "try again later"
    if seconds < 3600:
        minutes = max(1, -(-seconds // 60))
        return f"try again in {minutes} minute{'s' if minutes > 1 else ''}"
    hours = -(-seconds // 3600)
    return f"try again in {hours} hour{'s' if hours > 1 else ''}"


def _wrong_code_lock(head: str, retry_after_seconds: int | None, entity: bool) -> str:
    where = (
        "too many wrong codes for this entity in 24 hours (all its factors)"
        if entity
        else "too many wrong codes for this factor"
    )
    return f"{head}: {where}; {_wait(retry_after_seconds)}"


class FactorVerificationAttemptsReached(VerifyError):
    """Too many wrong codes for a factor's verification in the window, or for its entity in
    24 hours (Twilio 60310)."""

    def __init__(self, retry_after_seconds: int | None = None, entity: bool = False) -> None:
        self.retry_after_seconds = retry_after_seconds
        super().__init__(
            _wrong_code_lock(
                "Max factor verification attempts reached", retry_after_seconds, entity
            )
        )


class ChallengeVerificationAttemptsReached(VerifyError):
    """Too many wrong codes for a factor's challenges in the window, or for its entity in
    24 hours (Twilio 60308)."""

    def __init__(self, retry_after_seconds: int | None = None, entity: bool = False) -> None:
        self.retry_after_seconds = retry_after_seconds
        super().__init__(
            _wrong_code_lock(
                "Max challenge verification attempts reached", retry_after_seconds, entity
            )
        )


class TooManyPendingChallenges(VerifyError):
    """The entity has its most pending challenges; a new one waits until one ends."""

    def __init__(self, most: int, retry_after_seconds: int | None = None) -> None:
        self.retry_after_seconds = retry_after_seconds
        super().__init__(
            f"Too many pending challenges for this entity (at most {most}): answer one or"
            f" wait until one expires; {_wait(retry_after_seconds)}"
        )


class MfaConcurrentRequests(TooManyConcurrentRequests):
    """Concurrent changes to one entity (its factors) kept racing; the caller should retry."""


class MessagingConfigurationExists(VerifyError):
    """The service has a MessagingConfiguration for this country already (Twilio 60213)."""

    def __init__(self, country: str) -> None:
        super().__init__(
            f"A Messaging Configuration already exists for the given country ({country}):"
            " update it instead"
        )


class TemplateChannelNotSupported(VerifyError):
    """The template a start chose has no wording for the start's channel (Twilio's 60227)."""

    def __init__(self) -> None:
        super().__init__("The selected channel for template is not supported")
