"""The services the bench measures, created through the API (over HTTP, or through a Flask test
client in-process): the same parameters wherever a figure is taken.

- **unprotected**: every limit 0, `FraudGuardMode=off`, `GeoPermissions` with an empty blocked
  list for every phone channel, no rate limit. Nothing is counted; a start costs what it cost
  before abuse protection (2 round trips).
- **protected**: the defaults of docs/abuse-protection.md, except the three limits that the
  bench's own volume would reach (`StartsPerServicePerMinute`, `DailySendCap`,
  `DailyCountrySendCap`, raised to the maximum a service accepts, 100 000, far above any
  phase's starts), plus one programmable rate limit (`end_user_id`) with one bucket; every
  start passes `RateLimits={"end_user_id": "<value>"}` with a value of its own, so the bucket
  counts every start and refuses none. The phases measure what protection costs, not refusals.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from verify_service.domain.protection.protection_settings import MAX_LIMIT

Post = Callable[[str, dict[str, str]], dict[str, Any]]

RATE_LIMIT_NAME = "end_user_id"
# Every start names a distinct value, so each value's window holds one event: never refused.
BUCKET = {"Max": "5", "Interval": "3600"}

UNPROTECTED = {
    "SendsPerDestinationPerHour": "0",
    "SendsPerDestinationPerDay": "0",
    "ChecksPerDestinationPerHour": "0",
    "StartsPerServicePerMinute": "0",
    "StartsPerDeviceIpPerHour": "0",
    "DailySendCap": "0",
    "DailyCountrySendCap": "0",
    "FraudGuardMode": "off",
    "GeoPermissions": json.dumps(
        {channel: {"blocked": []} for channel in ("sms", "call", "whatsapp")},
        separators=(",", ":"),
    ),
}

# Only these three differ from the defaults: the bench's volume would reach them.
PROTECTED = {
    "StartsPerServicePerMinute": str(MAX_LIMIT),
    "DailySendCap": str(MAX_LIMIT),
    "DailyCountrySendCap": str(MAX_LIMIT),
}


@dataclass(frozen=True, slots=True)
class BenchService:
    sid: str
    protected: bool

    @property
    def rate_limit(self) -> str | None:
        """The unique name of the programmable rate limit each start names a value for."""
        return RATE_LIMIT_NAME if self.protected else None

    def start_params(self, to: str, value: str) -> dict[str, str]:
        """A start's form: `To`, `Channel=sms`, and (protected) `RateLimits` with `value`."""
        params = {"To": to, "Channel": "sms"}
        if self.protected:
            params["RateLimits"] = json.dumps({RATE_LIMIT_NAME: value})
        return params


def create(post: Post, friendly_name: str, *, protected: bool) -> BenchService:
    """Creates a service (`post(path, form)` answers the JSON body) and, when protected, its
    rate limit and bucket."""
    params = PROTECTED if protected else UNPROTECTED
    service = post("/v2/Services", {"FriendlyName": friendly_name, **params})
    sid = str(service["sid"])
    if protected:
        rate_limit = post(f"/v2/Services/{sid}/RateLimits", {"UniqueName": RATE_LIMIT_NAME})
        post(f"/v2/Services/{sid}/RateLimits/{rate_limit['sid']}/Buckets", dict(BUCKET))
    return BenchService(sid, protected)


def parameters() -> dict[str, Any]:
    """For latest.json: what each kind of service was created with."""
    return {
        "unprotected": UNPROTECTED,
        "protected": {
            "changed_from_defaults": PROTECTED,
            "rate_limit": RATE_LIMIT_NAME,
            "bucket": BUCKET,
            "rate_limit_value": "a distinct value per start",
        },
    }
