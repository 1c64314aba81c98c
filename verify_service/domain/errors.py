"""The exceptions a use case can raise; `http/error_codes.py` maps each to a Twilio code."""

from __future__ import annotations


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
