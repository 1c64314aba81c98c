"""What Redis promises to keep: its eviction policy and its persistence (docs/operations.md).

Every lock, limit, service, key, staff user, audit entry and queued message lives only in
Redis. A policy that evicts keys under memory pressure silently resets locks and limits, so
anything but `noeviction` is refused unless the operator overrides it
(`VERIFY_ALLOW_REDIS_EVICTION=true`); so is a server that does not report its policy (a
Redis-compatible server or proxy whose `INFO` lacks `maxmemory_policy`): what cannot be read
is not proven safe. Persistence off (no AOF) loses them at a restart.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

REQUIRED_EVICTION_POLICY = "noeviction"


@dataclass(frozen=True, slots=True)
class Unfit:
    """Why a Redis may not be used: a `code` that may be shown to anyone (`/readyz` is not
    authenticated), and the `detail` for the operator's log (names host:port and policy)."""

    code: str
    detail: str


# The `problem` codes of `/readyz` (openapi.yaml, ReadinessStatus).
EVICTION_POLICY = "redis_eviction_policy"
EVICTION_POLICY_UNKNOWN = "redis_eviction_policy_unknown"


@dataclass(frozen=True, slots=True)
class Durability:
    """What `INFO` says (it answers where `CONFIG` is disabled, as on managed services)."""

    eviction_policy: str | None  # None: `INFO memory` does not say
    append_only: bool

    @classmethod
    def read(cls, client: redis.Redis) -> Durability:
        memory = client.info("memory")
        persistence = client.info("persistence")
        policy = memory.get("maxmemory_policy")
        return cls(
            eviction_policy=str(policy) if policy not in (None, "") else None,
            append_only=str(persistence.get("aof_enabled", "0")) == "1",
        )

    def eviction_problem(self, address: str, allow_eviction: bool) -> Unfit | None:
        """Why this Redis may not be used, or None."""
        if self.eviction_policy == REQUIRED_EVICTION_POLICY or allow_eviction:
            return None
        if self.eviction_policy is None:
            return Unfit(
                EVICTION_POLICY_UNKNOWN,
                f"Redis at {address} does not report its maxmemory-policy (INFO memory has "
                f"no maxmemory_policy: a Redis-compatible server or a proxy?), so the service "
                f"cannot tell whether it evicts locks, limits and pending verifications under "
                f"memory pressure. Use a server configured with maxmemory-policy "
                f"{REQUIRED_EVICTION_POLICY} that reports it (see docs/operations.md), or set "
                f"VERIFY_ALLOW_REDIS_EVICTION=true to accept that risk",
            )
        return Unfit(
            EVICTION_POLICY,
            f"Redis at {address} has maxmemory-policy {self.eviction_policy}: under memory "
            f"pressure it would silently evict locks, limits and pending verifications. Set "
            f"maxmemory-policy {REQUIRED_EVICTION_POLICY} (see docs/operations.md), or set "
            f"VERIFY_ALLOW_REDIS_EVICTION=true to accept that risk",
        )

    def persistence_warning(self, address: str) -> str | None:
        """A warning when Redis keeps nothing across its own restart, or None."""
        if self.append_only:
            return None
        return (
            f"Redis at {address} has appendonly no: services, API keys, staff users, the "
            f"audit log, queued messages and limits are lost when it restarts. Production "
            f"needs appendonly yes (see docs/operations.md)"
        )
