"""What Redis promises to keep: its eviction policy and its persistence (docs/operations.md).

Every lock, limit, service, key, staff user, audit entry and queued message lives only in
Redis. A policy that evicts keys under memory pressure silently resets locks and limits, so
anything but `noeviction` is refused unless the operator overrides it
(`VERIFY_ALLOW_REDIS_EVICTION=true`); persistence off (no AOF) loses them at a restart.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

REQUIRED_EVICTION_POLICY = "noeviction"


@dataclass(frozen=True, slots=True)
class Durability:
    """What `INFO` says (it answers where `CONFIG` is disabled, as on managed services)."""

    eviction_policy: str
    append_only: bool

    @classmethod
    def read(cls, client: redis.Redis) -> Durability:
        memory = client.info("memory")
        persistence = client.info("persistence")
        return cls(
            eviction_policy=str(memory.get("maxmemory_policy", REQUIRED_EVICTION_POLICY)),
            append_only=str(persistence.get("aof_enabled", "0")) == "1",
        )

    def eviction_problem(self, address: str, allow_eviction: bool) -> str | None:
        """Why this Redis may not be used, or None."""
        if self.eviction_policy == REQUIRED_EVICTION_POLICY or allow_eviction:
            return None
        return (
            f"Redis at {address} has maxmemory-policy {self.eviction_policy}: under memory "
            f"pressure it would silently evict locks, limits and pending verifications. Set "
            f"maxmemory-policy {REQUIRED_EVICTION_POLICY} (see docs/operations.md), or set "
            f"VERIFY_ALLOW_REDIS_EVICTION=true to accept that risk"
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
