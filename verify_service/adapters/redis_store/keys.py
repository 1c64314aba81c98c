"""Key names. Every key one script touches shares a hash tag, so Redis Cluster keeps it in
one slot: a verification's tag is `{service sid:destination tag}`; services share `{svc}`. What
grows with traffic and is not per verification (the outbox, the fallback schedule) is sharded."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from redis.crc import key_slot

from verify_service.application.verifications.ports import VerificationRef


@dataclass(frozen=True, slots=True)
class KeySpace:
    prefix: str = "vs"

    def service(self, sid: str) -> str:
        return f"{self.prefix}:{{svc}}:{sid}"

    def service_index(self) -> str:
        return f"{self.prefix}:{{svc}}:index"

    def service_counter(self) -> str:
        return f"{self.prefix}:{{svc}}:seq"

    def rate_limits(self, service_sid: str) -> str:
        """The service's Rate Limits and Buckets: one hash, a JSON value per `RK` sid. The
        service's hash tag, so one script can check the service and change its limits."""
        return f"{self.prefix}:{{svc}}:{service_sid}:rl"

    def safe_list(self) -> str:
        """The account's safe list: keyed digests of numbers (never a number)."""
        return f"{self.prefix}:{{safelist}}:numbers"

    def verification(self, ref: VerificationRef) -> str:
        return f"{self.prefix}:v:{{{ref.service_sid}:{ref.tag}}}"

    def verification_history(self, ref: VerificationRef) -> str:
        """The attempt history of a destination's verifications (checks, how each ended):
        the verification's hash tag, so its scripts record them atomically."""
        return f"{self.prefix}:vh:{{{ref.service_sid}:{ref.tag}}}"

    def lock(self, ref: VerificationRef) -> str:
        """The checks a canceled verification used: "expiry ms|VE sid|checks" until that
        expiry (all used: a lock; an older "expiry ms|VE sid" had all used). The verification's
        hash tag, so the scripts that end, start and check read it atomically."""
        return f"{self.prefix}:lock:{{{ref.service_sid}:{ref.tag}}}"


# The outbox and the fallback schedule grow with traffic, so each is N shards, each under a
# hash tag of its own (`{outbox:3:<n>}`, `spread_tags`): Redis Cluster spreads them over its
# masters, and every script still touches one shard only (DESIGN.md, "Cluster layout"). N is
# fixed: a message's shard is a function of its attempt sid (a fallback step's, of its
# verification sid), and a worker consumes every shard. Changing N is an operation
# (docs/operations.md, "Redis Cluster"): entries on shards beyond the new N would no longer
# be read.
SHARDS = 16


def shard_of(sid: str, shards: int) -> int:
    """The shard of `sid`: stable across processes and versions (CRC-32, not `hash()`)."""
    return zlib.crc32(sid.encode("utf-8")) % shards


CLUSTER_SLOTS = 16_384


@lru_cache(maxsize=8)
def spread_tags(name: str, shards: int) -> tuple[str, ...]:
    """A hash tag per shard, `name:i:n`, with `n` the first number that puts shard i's slot
    in the i-th of `shards` equal parts of the cluster's 16 384 slots: on a cluster whose
    masters own equal ranges of slots (as `redis-cli --cluster create` assigns them), M
    masters hold at most ceil(shards / M) shards each. (`name:i` alone lands where CRC-16
    puts it: 16 shards fell 9/4/3 on three masters.)"""
    part = CLUSTER_SLOTS // shards
    tags = []
    for index in range(shards):
        salt = 0
        while key_slot(f"{name}:{index}:{salt}".encode()) // part != index:
            salt += 1
        tags.append(f"{name}:{index}:{salt}")
    return tuple(tags)


@dataclass(frozen=True, slots=True)
class OutboxShard:
    """One shard of the delivery queue: a stream read by a consumer group, a delayed set
    for retries and their sealed jobs, and a bounded dead-letter list, under one hash tag."""

    prefix: str
    tag: str  # `outbox:3:<n>` (`spread_tags`); `outbox` for the outbox before sharding

    @property
    def stream(self) -> str:
        return f"{self.prefix}:{{{self.tag}}}:stream"

    @property
    def delayed(self) -> str:
        return f"{self.prefix}:{{{self.tag}}}:delayed"

    @property
    def delayed_jobs(self) -> str:
        return f"{self.prefix}:{{{self.tag}}}:delayed-jobs"

    @property
    def dead(self) -> str:
        return f"{self.prefix}:{{{self.tag}}}:dead"

    @property
    def dead_letters(self) -> str:
        return f"{self.prefix}:{{{self.tag}}}:dead-letters"

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.stream, self.delayed, self.delayed_jobs, self.dead, self.dead_letters)

    @property
    def backlogs(self) -> str:
        """The event outbox's deliveries pending per webhook (a hash: YW sid → count)."""
        return f"{self.prefix}:{{{self.tag}}}:backlogs"


@dataclass(frozen=True, slots=True)
class OutboxKeys:
    """The delivery queue: `shards` shards, a message's shard chosen by its attempt sid."""

    prefix: str = "vs"
    shards: int = SHARDS

    def shard(self, index: int) -> OutboxShard:
        return OutboxShard(self.prefix, spread_tags("outbox", self.shards)[index])

    def for_attempt(self, attempt_sid: str) -> OutboxShard:
        return self.shard(shard_of(attempt_sid, self.shards))

    @property
    def legacy(self) -> OutboxShard:
        """The single outbox written before sharding: consumed (never written) so that
        messages queued before an upgrade are still delivered, and its dead letters listed."""
        return OutboxShard(self.prefix, "outbox")

    @property
    def every_shard(self) -> tuple[OutboxShard, ...]:
        """Every shard a worker consumes, the legacy one last."""
        return (*(self.shard(i) for i in range(self.shards)), self.legacy)

    @property
    def every_key(self) -> tuple[str, ...]:
        """Every key of the outbox (all shards): what a re-seal or an operator walks."""
        return tuple(key for shard in self.every_shard for key in shard.keys)

    @property
    def worker_heartbeats(self) -> str:
        """The workers' heartbeats: one sorted set, a member per worker (`host-pid`) scored
        by its last beat (Redis time, ms); small (one member per worker seen in the last
        10 minutes) and written every few seconds, so not sharded (docs/operations.md,
        "Health and supervision")."""
        return f"{self.prefix}:{{workers}}:heartbeats"


@dataclass(frozen=True, slots=True)
class FallbackShard:
    """One shard of the channel fallback schedule: due times and step details, one tag."""

    prefix: str
    tag: str

    @property
    def due(self) -> str:
        return f"{self.prefix}:{{{self.tag}}}:due"

    @property
    def steps(self) -> str:
        return f"{self.prefix}:{{{self.tag}}}:steps"


@dataclass(frozen=True, slots=True)
class FallbackKeys:
    """Channel fallback steps waiting for their time: `shards` shards, a step's shard chosen
    by its verification sid, so a verification's step is always found in the same one."""

    prefix: str = "vs"
    shards: int = SHARDS

    def shard(self, index: int) -> FallbackShard:
        return FallbackShard(self.prefix, spread_tags("fallback", self.shards)[index])

    def for_verification(self, verification_sid: str) -> FallbackShard:
        return self.shard(shard_of(verification_sid, self.shards))

    @property
    def legacy(self) -> FallbackShard:
        """The single schedule written before sharding: still taken from, never written."""
        return FallbackShard(self.prefix, "fallback")

    @property
    def every_shard(self) -> tuple[FallbackShard, ...]:
        return (*(self.shard(i) for i in range(self.shards)), self.legacy)


@dataclass(frozen=True, slots=True)
class FraudGuardKeys:
    """Fraud Guard's records: one hash tag per service, so a trip's script stays in one slot."""

    prefix: str = "vs"

    def block(self, service_sid: str, destination_prefix: str) -> str:
        return f"{self.prefix}:fg:{{{service_sid}}}:block:{destination_prefix}"

    def trips(self, service_sid: str) -> str:
        return f"{self.prefix}:fg:{{{service_sid}}}:trips"

    def tally(self, service_sid: str, destination_prefix: str) -> str:
        """The prefix's sends and approvals per time bucket and its last masked destinations
        (count_fraud_guard.lua): counted by every start to the prefix, so a slot of its own
        per prefix, not the service's."""
        return f"{self.prefix}:fg:{{{service_sid}:{destination_prefix}}}:tally"


@dataclass(frozen=True, slots=True)
class AuditKeys:
    """An audit log: a stream and its head record, under one hash tag (one script).
    `name` is the log's hash tag: `audit` (the audit log) or `mfa-activity` (the MFA
    activity log, docs/audit-log.md "Two logs")."""

    prefix: str = "vs"
    name: str = "audit"

    @property
    def log(self) -> str:
        return f"{self.prefix}:{{{self.name}}}:log"

    @property
    def head(self) -> str:
        return f"{self.prefix}:{{{self.name}}}:head"

    @property
    def legacy_links(self) -> str:
        """Entries from before key ids: their keyed hash → unkeyed link (a reseal writes it,
        a checkpoint names its digest; docs/audit-log.md)."""
        return f"{self.prefix}:{{{self.name}}}:legacy-links"


@dataclass(frozen=True, slots=True)
class ApiKeyKeys:
    """API keys: one hash per `SK` sid, their index and creation counter, one hash tag."""

    prefix: str = "vs"

    def key(self, sid: str) -> str:
        return f"{self.prefix}:{{keys}}:{sid}"

    @property
    def index(self) -> str:
        return f"{self.prefix}:{{keys}}:index"

    @property
    def counter(self) -> str:
        return f"{self.prefix}:{{keys}}:seq"


@dataclass(frozen=True, slots=True)
class HistoryKeys:
    """The attempt history, in buckets of one service and one UTC day: a stream of the
    attempts' records (entry ids are creation times) and a hash of their delivery status
    (by attempt key), both under the bucket's hash tag `{service locator:yyyymmdd}`, so one
    script writes them and each bucket sits in its own Cluster slot. A bucket expires whole,
    at the end of its day plus the retention period."""

    prefix: str = "vs"

    def _bucket(self, service_locator: str, day: int) -> str:
        when = datetime.fromtimestamp(day * 86_400, UTC).strftime("%Y%m%d")
        return f"{self.prefix}:h:{{{service_locator}:{when}}}"

    def records(self, service_locator: str, day: int) -> str:
        return self._bucket(service_locator, day) + ":r"

    def statuses(self, service_locator: str, day: int) -> str:
        return self._bucket(service_locator, day) + ":s"

    def rebuilt(self, service_locator: str, day: int, run: str) -> str:
        """A bucket's records being re-sealed by one reseal run (a key rotation), renamed
        over `records`: each run its own copy (`run`, a random suffix)."""
        return self._bucket(service_locator, day) + f":n:{run}"

    @property
    def records_pattern(self) -> str:
        return f"{self.prefix}:h:*:r"

    def bucket_of(self, records_key: str) -> tuple[str, int] | None:
        """(service locator, day) of a records key."""
        found = re.fullmatch(
            rf"{re.escape(self.prefix)}:h:\{{([0-9a-f]+):([0-9]{{8}})\}}:r", records_key
        )
        if found is None:
            return None
        when = datetime.strptime(found.group(2), "%Y%m%d").replace(tzinfo=UTC)
        return found.group(1), int(when.timestamp()) // 86_400


@dataclass(frozen=True, slots=True)
class EntityKeys:
    """Everything of one entity under the hash tag `{mfa:<VA sid>:<identity>}`: one script
    sees the entity, its factors and its challenges (the identity is validated before it
    reaches a key name: domain/mfa/identity.py)."""

    prefix: str
    service_sid: str
    identity: str

    @property
    def _base(self) -> str:
        return f"{self.prefix}:mfa:{{mfa:{self.service_sid}:{self.identity}}}"

    @property
    def entity(self) -> str:
        return f"{self._base}:entity"

    def factor(self, factor_sid: str) -> str:
        return f"{self._base}:factor:{factor_sid}"

    @property
    def factors(self) -> str:
        """Sorted set: factor sid by creation time (ms)."""
        return f"{self._base}:factors"

    def challenge(self, challenge_sid: str) -> str:
        return f"{self._base}:challenge:{challenge_sid}"

    @property
    def challenges(self) -> str:
        """Sorted set: challenge sid by creation time (ms)."""
        return f"{self._base}:challenges"

    @property
    def wrong_codes(self) -> str:
        """Sorted set: the entity's wrong TOTP codes of the last 24 hours, by Redis time (ms)
        (docs/mfa.md, "Limits")."""
        return f"{self._base}:wrong_codes"

    @property
    def pending(self) -> str:
        """Sorted set: `<YF>:<YC>` of the entity's pending TOTP challenges, by expiration (ms)."""
        return f"{self._base}:pending"

    @property
    def passkey_pending(self) -> str:
        """Sorted set: pending passkeys challenge sid by expiry (ms), for the per-entity cap
        (owned by passkeys; it expires by itself with its last member)."""
        return f"{self._base}:pk:pending"


@dataclass(frozen=True, slots=True)
class MfaKeys:
    """MFA records (docs/mfa.md, "Storage"): per entity, `EntityKeys`; per service, the
    entity list under `{mfa:<VA sid>}` (its own slot, written after the entity's script;
    a list tolerates an entry whose entity is gone) and the passkey look-ups."""

    prefix: str = "vs"

    def of(self, service_sid: str, identity: str) -> EntityKeys:
        return EntityKeys(self.prefix, service_sid, identity)

    def entities(self, service_sid: str) -> str:
        """Sorted set: identity by creation order (a counter, like the service index)."""
        return f"{self.prefix}:mfa:{{mfa:{service_sid}}}:entities"

    def entity_counter(self, service_sid: str) -> str:
        return f"{self.prefix}:mfa:{{mfa:{service_sid}}}:seq"

    def passkeys(self, service_sid: str, name: str) -> str:
        """A service-wide passkey look-up (`pk:<name>`, owned by the passkeys capability:
        a pending ceremony by challenge, a factor by credential id)."""
        return f"{self.prefix}:mfa:{{mfa:{service_sid}}}:pk:{name}"

    @property
    def factor_pattern(self) -> str:
        """Every factor hash of every service (what a reseal walks with SCAN)."""
        return f"{self.prefix}:mfa:{{mfa:*}}:factor:*"


@dataclass(frozen=True, slots=True)
class EventOutboxKeys:
    """The event outbox: shards laid out as the delivery queue's (`OutboxShard`: stream,
    delayed set, dead letters) under tags `events:<i>:<n>`. A delivery's shard is its
    webhook's, so one webhook's deliveries sit in one stream, in the order written."""

    prefix: str = "vs"
    shards: int = SHARDS

    def shard(self, index: int) -> OutboxShard:
        return OutboxShard(self.prefix, spread_tags("events", self.shards)[index])

    def for_webhook(self, webhook_sid: str) -> OutboxShard:
        return self.shard(shard_of(webhook_sid, self.shards))

    @property
    def every_shard(self) -> tuple[OutboxShard, ...]:
        return tuple(self.shard(i) for i in range(self.shards))


@dataclass(frozen=True, slots=True)
class ExpiryKeys:
    """Verifications whose expiry a webhook wants (`verification.expired`): a sorted set
    per shard (watch → expiry ms), a verification's shard chosen by its sid. Read by due
    time, never by a scan of keys."""

    prefix: str = "vs"
    shards: int = SHARDS

    def due(self, index: int) -> str:
        return f"{self.prefix}:{{{spread_tags('expiry', self.shards)[index]}}}:due"

    def for_verification(self, verification_sid: str) -> str:
        return self.due(shard_of(verification_sid, self.shards))

    @property
    def every_shard(self) -> tuple[str, ...]:
        return tuple(self.due(i) for i in range(self.shards))


@dataclass(frozen=True, slots=True)
class WebhookKeys:
    """A service's webhooks (docs/webhooks.md, "Storage"), all under the hash tag
    `{wh:<VA sid>}`: one script sees a service's webhook count, its webhooks and the marker
    its delete leaves, so the per-service cap and the cascade are atomic."""

    prefix: str = "vs"

    def _base(self, service_sid: str) -> str:
        return f"{self.prefix}:wh:{{wh:{service_sid}}}"

    def webhook(self, service_sid: str, webhook_sid: str) -> str:
        """Hash: the webhook's fields, a JSON value each (like a service's)."""
        return f"{self._base(service_sid)}:hook:{webhook_sid}"

    def index(self, service_sid: str) -> str:
        """Sorted set: webhook sid by creation order (a counter, like the service index)."""
        return f"{self._base(service_sid)}:index"

    def counter(self, service_sid: str) -> str:
        return f"{self._base(service_sid)}:seq"

    def deleted(self, service_sid: str) -> str:
        """Set while (and for a while after) the service's webhooks are deleted with it: a
        create that read the service just before its delete finds it and stores nothing."""
        return f"{self._base(service_sid)}:deleted"
