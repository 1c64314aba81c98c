"""Twilio's webhook signature (`X-Twilio-Signature`), so that a receiver validates events
with `twilio.request_validator.RequestValidator(token).validate(url, params, signature)`:
base64(HMAC-SHA1(token, url + every parameter name and value, sorted by name)).

The token is not an API credential: it is derived from the key ring (purpose
`webhook_signing_key`, `Keyring.webhook_signing_token`), and the id of the ring key that
made it travels in `X-Verify-Signature-Key-Id`."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

SIGNATURE_HEADER = "X-Twilio-Signature"
KEY_ID_HEADER = "X-Verify-Signature-Key-Id"
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"


def twilio_signature(token: str, url: str, params: Mapping[str, str]) -> str:
    """The signature of a form-encoded POST of `params` to `url` (exactly the URL the
    request goes to, as the receiver sees it)."""
    text = url + "".join(name + params[name] for name in sorted(params))
    digest = hmac.new(token.encode("utf-8"), text.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")
