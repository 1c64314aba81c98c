"""The numbers of MFA, each with its source. Changing one changes the documented behaviour
(docs/mfa.md, "Limits")."""

from __future__ import annotations

# Wrong codes per factor: 5 within 15 minutes, then every answer (a right code included) is
# refused with 60310 (factor verification) or 60308 (challenges) until the window that began
# with the first wrong code has passed. Twilio documents the 5 ("TOTP: 5", errors 60308 and
# 60310); the window is ours, and documented.
MAX_WRONG_CODES = 5
WRONG_CODE_WINDOW_MS = 15 * 60 * 1000

# Factors per entity: each is a hash in the entity's slot; a bound keeps an entity small
# (Twilio does not publish its own bound; refused with 60306 naming FactorType).
MAX_FACTORS_PER_ENTITY = 20

# Challenges: `ExpirationDate` defaults to 5 minutes after creation, at most 60 (Twilio,
# Challenge resource). An ended challenge (approved, denied, or past its expiration) is kept
# one day past its expiration date for `list`/`fetch` and the support console, then Redis
# expires it (PEXPIREAT); the entity's list drops index entries whose hash is gone.
DEFAULT_CHALLENGE_TTL_MS = 5 * 60 * 1000
MAX_CHALLENGE_TTL_MS = 60 * 60 * 1000
CHALLENGE_RETENTION_MS = 24 * 60 * 60 * 1000

# Challenge details (Twilio, Challenge resource): a message of up to 256 characters, up to 20
# fields of label ≤ 36 and value ≤ 128 characters; HiddenDetails and Metadata are
# stringified JSON objects of up to 1024 characters.
MAX_DETAILS_MESSAGE_LENGTH = 256
MAX_DETAILS_FIELDS = 20
MAX_FIELD_LABEL_LENGTH = 36
MAX_FIELD_VALUE_LENGTH = 128
MAX_JSON_OBJECT_LENGTH = 1024

# A factor's FriendlyName: up to 64 characters (Twilio, Factor resource).
MAX_FACTOR_FRIENDLY_NAME_LENGTH = 64

# TOTP configuration ranges (Twilio, Factor resource) and defaults when neither the request
# nor the service's `Totp.*` settings give one.
MIN_TIME_STEP_SECONDS, MAX_TIME_STEP_SECONDS, DEFAULT_TIME_STEP_SECONDS = 20, 60, 30
MIN_SKEW, MAX_SKEW, DEFAULT_SKEW = 0, 2, 1
MIN_TOTP_CODE_LENGTH, MAX_TOTP_CODE_LENGTH, DEFAULT_TOTP_CODE_LENGTH = 3, 8, 6
# A generated TOTP secret: 160 random bits (RFC 4226 §4 recommends 160), Base32 (32 chars).
TOTP_SECRET_BYTES = 20
# A given `Binding.Secret`: at least 128 bits (RFC 4226 §4 "MUST be at least 128 bits").
MIN_TOTP_SECRET_BYTES = 16
MAX_TOTP_SECRET_BYTES = 64
