"""The numbers of MFA, each with its source. Changing one changes the documented behaviour
(docs/mfa.md, "Limits")."""

from __future__ import annotations

# Wrong codes per factor: 5 within 15 minutes, then every answer (a right code included) is
# refused with 60310 (factor verification) or 60308 (challenges) until the window that began
# with the first wrong code has passed. Twilio documents the 5 ("TOTP: 5", errors 60308 and
# 60310); the window is ours, and documented.
MAX_WRONG_CODES = 5
WRONG_CODE_WINDOW_MS = 15 * 60 * 1000

# Wrong codes per entity: 20 within any 24 hours (a rolling window), across all its TOTP
# factors, counted beside the per-factor window in the same scripts. Why: the per-factor
# window alone allows 5 guesses every 15 minutes forever (480 a day), once per factor. A
# 6-digit code with skew 1 is matched by 3 of the 10^6 codes, so each guess wins with
# p = 3e-6: 480 a day is P ≈ 4.2 % a month and 41 % a year for one factor (20 factors:
# ≈ 58 % a month). With 20 a day per entity, whatever its factor count: 600 guesses a month,
# P ≈ 0.18 % a month, ≈ 2.2 % a year (skew 2: 5/10^6, ≈ 0.3 % / 3.6 %). A CodeLength below 6
# multiplies the chance by 10 per digit missing (docs/mfa.md, "Limits"). The price: an
# attacker who can submit answers for an identity can lock its TOTP factors for up to a day.
MAX_ENTITY_WRONG_CODES = 20
ENTITY_WRONG_CODE_WINDOW_MS = 24 * 60 * 60 * 1000
# Both windows are measured in Redis's time (`redis.call('TIME')` in the scripts), not the
# caller's clock: app nodes whose clocks disagree share one window (docs/mfa.md, "Limits").

# Pending challenges per entity (created, not yet answered or expired): past this a new one is
# refused (429, 60306) until one ends; it bounds what a stream of challenge creations (a login
# page driven by a bot) can pile up under one identity.
MAX_PENDING_CHALLENGES = 50
# An entity's challenge list keeps its newest 200 entries (a list reads every listed
# challenge): an older challenge leaves the list on a create, still fetched by its sid until
# its hash expires.
MAX_LISTED_CHALLENGES = 200

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
# One `Details.Fields` value (a stringified field, or a list of up to 20): its text is bounded
# before it is parsed (20 fields of 36 + 128 characters fit several times over, JSON escapes
# included); nesting deeper than Python's parser goes is refused too (60306, never a 500).
MAX_DETAILS_FIELDS_TEXT_LENGTH = 8192

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
