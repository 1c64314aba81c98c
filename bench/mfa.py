"""`make bench`, issue 11 item 9: TOTP challenge throughput against the framework ceiling
measured in the same run, and Redis memory per verified factor (docs/performance.md, "MFA
(issue 11)").

Throughput: challenges created with FactorSid and the right AuthPayload, each evaluated at
once (a TOTP check needs no argon2: the target is >= 0.5 x the ceiling's rps). Every request
must be approved: the factors are enrolled through the API beforehand (entity, factor with a
secret known here, verified with the code of the step before now), and the load generator's
requests carry codes computed here with pyotp just before each round, each factor taking the
code of the round's step and then of the next one (so that a round may straddle a step
boundary, and a code is never replayed: each is later than the factor's last accepted step).
A round whose pool ran out shows "201:denied" answers and is reported invalid.

Memory: `INFO memory` used_memory before and after enrolling `count` entities with one verified
TOTP factor each, divided by `count`; and `MEMORY USAGE` of one such entity's keys."""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp
import redis

TARGET_CEILING_RATIO = 0.5
FACTORS_PER_ENTITY = 10  # the pool's entities (a service allows up to 20 factors per entity)
TIME_STEP = 30  # the defaults: 30 s steps, skew 1
ENROL_THREADS = 16


@dataclass(frozen=True)
class Enrolled:
    identity: str
    factor_sid: str
    secret: str


def _post(url: str, auth: str, data: dict[str, str]) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 - loopback URL built by the bench
        url,
        data=urllib.parse.urlencode(data).encode(),
        headers={"Authorization": auth},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        body: dict[str, Any] = json.load(response)
        return body


class Enroller:
    """Entities and verified TOTP factors through the API, `ENROL_THREADS` at a time."""

    def __init__(self, base_url: str, auth: str, service_sid: str, label: str) -> None:
        self.base = f"{base_url}/v2/Services/{service_sid}/Entities"
        self.auth = auth
        self.label = label
        self.entities = 0
        self.seconds = 0.0
        self.enrolled = 0

    def _entity(self, index: int, factors: int) -> list[Enrolled]:
        identity = f"{self.label}-{index:08d}"
        _post(self.base, self.auth, {"Identity": identity})
        made = []
        for _ in range(factors):
            secret = pyotp.random_base32()
            factor = _post(
                f"{self.base}/{identity}/Factors",
                self.auth,
                {"FriendlyName": "bench", "FactorType": "totp", "Binding.Secret": secret},
            )
            self._verify(f"{self.base}/{identity}/Factors/{factor['sid']}", secret)
            made.append(Enrolled(identity, str(factor["sid"]), secret))
        return made

    def _verify(self, url: str, secret: str) -> None:
        """Verify with the code of the step before now (accepted with skew 1; the load's codes
        are all later). Should a step boundary pass between computing it and the server's
        evaluation (under load, a request may take half a second), it is a wrong code: the
        next attempt computes it again (2 wrong codes stay far below the limit of 5)."""
        answer: dict[str, Any] = {}
        for _ in range(3):
            code = pyotp.TOTP(secret, interval=TIME_STEP).at(time.time() - TIME_STEP)
            answer = _post(url, self.auth, {"AuthPayload": code})
            if answer.get("status") == "verified":
                return
        raise RuntimeError(f"bench factor not verified: {answer}")

    def enrol(self, count: int, per_entity: int = FACTORS_PER_ENTITY) -> list[Enrolled]:
        """`count` verified factors, `per_entity` to an entity (fewer in the last one)."""
        started = time.monotonic()
        sizes = [per_entity] * (count // per_entity)
        if count % per_entity:
            sizes.append(count % per_entity)
        first = self.entities
        self.entities += len(sizes)
        with ThreadPoolExecutor(ENROL_THREADS) as pool:
            batches = list(
                pool.map(lambda item: self._entity(first + item[0], item[1]), enumerate(sizes))
            )
        self.seconds += time.monotonic() - started
        self.enrolled += count
        return [factor for batch in batches for factor in batch]

    @property
    def factors_per_second(self) -> float:
        return self.enrolled / self.seconds if self.seconds else 0.0


def write_lines(path: Path, service_sid: str, factors: list[Enrolled]) -> int:
    """The round's requests: every factor with the code of now's step, then every factor with
    the code of the next step (both inside a skew of 1 while the round lasts less than a step).
    A factor's two lines fall to the same load thread (the pool is a multiple of `threads`),
    the second long after the first. Returns the number of lines."""
    now = time.time()
    lines: list[str] = []
    for offset in (0, TIME_STEP):
        for factor in factors:
            code = pyotp.TOTP(factor.secret, interval=TIME_STEP).at(now + offset)
            lines.append(
                f"/v2/Services/{service_sid}/Entities/{factor.identity}/Challenges\t"
                f"FactorSid={factor.factor_sid}&AuthPayload={code}"
            )
    path.write_text("\n".join(lines) + "\n")
    return len(lines)


def pool_size(expected_rps: float, round_s: float, threads: int) -> int:
    """Factors for one round: every request approved at up to 1.5 x the expected rate (this
    shared machine's speed varies from one round to the next), two requests per factor; a
    multiple of the load threads."""
    needed = math.ceil(expected_rps * round_s * 1.5 / 2)
    return max(threads, math.ceil(needed / threads) * threads)


def outcome_counts(statuses: dict[str, int]) -> dict[str, int]:
    approved = statuses.get("201:approved", 0)
    return {"approved": approved, "not_approved": sum(statuses.values()) - approved}


def measure_memory(
    client: redis.Redis,
    enroller: Enroller,
    count: int,
    used_memory: Callable[[redis.Redis], int],
    prefix: str,
    families: Callable[[redis.Redis], dict[str, dict[str, int]]],
    family_delta: Callable[..., dict[str, dict[str, float]]],
) -> dict[str, Any]:
    """used_memory added by `count` entities with one verified factor each, per factor, with
    what each kind of key added (`MEMORY USAGE` by key family: the entity's own keys, the
    service's entity index, the audit log's entries for entity create, factor create and
    factor verify); and `MEMORY USAGE` of the first such entity's keys."""
    by_family_before = families(client)
    before = used_memory(client)
    keys_before = int(client.dbsize())
    enrolled = enroller.enrol(count, per_entity=1)
    after = used_memory(client)
    by_family = family_delta(by_family_before, families(client), count)
    sample = enrolled[0]
    keys = sorted(k.decode() for k in client.scan_iter(match=f"{prefix}:mfa:*{sample.identity}*"))
    usage = {key: int(client.memory_usage(key, samples=0) or 0) for key in keys}
    return {
        "factors": count,
        "used_memory_before": before,
        "used_memory_after": after,
        "keys_added": int(client.dbsize()) - keys_before,
        "bytes_per_verified_factor": (after - before) / count,
        "sample_entity_keys": usage,
        "sample_entity_bytes": sum(usage.values()),
        "by_family": by_family,
        "enrol_factors_per_second": enroller.factors_per_second,
    }
