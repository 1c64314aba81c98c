"""Use cases of the Rate Limit and Bucket resources (configuration only; a start enforces
them)."""

from __future__ import annotations

import logging
from typing import Any

from verify_service.application.ports import Clock
from verify_service.application.protection.ports import RateLimitStore, RateLimitWrite
from verify_service.domain import sids
from verify_service.domain.errors import NotFound
from verify_service.domain.protection.rate_limits import (
    MAX_BUCKETS_PER_RATE_LIMIT,
    MAX_RATE_LIMITS_PER_SERVICE,
    Bucket,
    RateLimit,
    duplicate_interval,
    duplicate_unique_name,
    max_buckets_reached,
    max_rate_limits_reached,
    validate_interval,
    validate_max,
    validate_unique_name,
)

log = logging.getLogger(__name__)


def _page(items: tuple[Any, ...], page: int, page_size: int) -> tuple[list[Any], bool]:
    start = page * page_size
    return list(items[start : start + page_size]), len(items) > start + page_size


class RateLimitCatalog:
    def __init__(self, store: RateLimitStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    # -- rate limits ----------------------------------------------------------------------

    def create(self, service_sid: str, values: dict[str, Any]) -> RateLimit:
        if not sids.is_sid(service_sid, "VA"):
            raise NotFound
        unique_name = validate_unique_name(values.get("unique_name"))
        now_ms = self._clock.now_ms()
        rate_limit = RateLimit(
            sid=sids.new_sid("RK"),
            service_sid=service_sid,
            unique_name=unique_name,
            description=values.get("description"),
            created_ms=now_ms,
            updated_ms=now_ms,
        )
        result = self._store.create_rate_limit(rate_limit, MAX_RATE_LIMITS_PER_SERVICE)
        if result is RateLimitWrite.NOT_FOUND:
            raise NotFound
        if result is RateLimitWrite.DUPLICATE:
            raise duplicate_unique_name(unique_name)
        if result is RateLimitWrite.FULL:
            raise max_rate_limits_reached()
        log.info("rate limit %s created in service %s", rate_limit.sid, service_sid)
        return rate_limit

    def list_rate_limits(
        self, service_sid: str, page: int, page_size: int
    ) -> tuple[list[RateLimit], bool]:
        found = (
            self._store.list_rate_limits(service_sid) if sids.is_sid(service_sid, "VA") else None
        )
        if found is None:
            raise NotFound
        return _page(found, page, page_size)

    def fetch(self, service_sid: str, sid: str) -> RateLimit:
        rate_limit = (
            self._store.get_rate_limit(service_sid, sid)
            if sids.is_sid(service_sid, "VA") and sids.is_sid(sid, "RK")
            else None
        )
        if rate_limit is None:
            raise NotFound
        return rate_limit

    def update(self, service_sid: str, sid: str, changes: dict[str, Any]) -> RateLimit:
        if not (sids.is_sid(service_sid, "VA") and sids.is_sid(sid, "RK")):
            raise NotFound
        rate_limit = self._store.update_rate_limit(
            service_sid, sid, changes.get("description"), self._clock.now_ms()
        )
        if rate_limit is None:
            raise NotFound
        log.info("rate limit %s updated", sid)
        return rate_limit

    def delete(self, service_sid: str, sid: str) -> None:
        if not (
            sids.is_sid(service_sid, "VA")
            and sids.is_sid(sid, "RK")
            and self._store.delete_rate_limit(service_sid, sid)
        ):
            raise NotFound
        log.info("rate limit %s deleted", sid)

    # -- buckets --------------------------------------------------------------------------

    def create_bucket(
        self, service_sid: str, rate_limit_sid: str, values: dict[str, Any]
    ) -> Bucket:
        if not (sids.is_sid(service_sid, "VA") and sids.is_sid(rate_limit_sid, "RK")):
            raise NotFound
        max_requests = validate_max(values.get("max"))
        interval = validate_interval(values.get("interval"))
        now_ms = self._clock.now_ms()
        bucket = Bucket(
            sid=sids.new_sid("BL"),
            rate_limit_sid=rate_limit_sid,
            service_sid=service_sid,
            max=max_requests,
            interval=interval,
            created_ms=now_ms,
            updated_ms=now_ms,
        )
        result, _ = self._store.create_bucket(bucket, MAX_BUCKETS_PER_RATE_LIMIT)
        if result is RateLimitWrite.NOT_FOUND:
            raise NotFound
        if result is RateLimitWrite.DUPLICATE:
            raise duplicate_interval(interval)
        if result is RateLimitWrite.FULL:
            raise max_buckets_reached()
        log.info("bucket %s created in rate limit %s", bucket.sid, rate_limit_sid)
        return bucket

    def list_buckets(
        self, service_sid: str, rate_limit_sid: str, page: int, page_size: int
    ) -> tuple[list[Bucket], bool]:
        return _page(self.fetch(service_sid, rate_limit_sid).buckets, page, page_size)

    def fetch_bucket(self, service_sid: str, rate_limit_sid: str, sid: str) -> Bucket:
        bucket = self.fetch(service_sid, rate_limit_sid).bucket(sid)
        if bucket is None:
            raise NotFound
        return bucket

    def update_bucket(
        self, service_sid: str, rate_limit_sid: str, sid: str, changes: dict[str, Any]
    ) -> Bucket:
        if not (
            sids.is_sid(service_sid, "VA")
            and sids.is_sid(rate_limit_sid, "RK")
            and sids.is_sid(sid, "BL")
        ):
            raise NotFound
        max_requests = changes.get("max")
        interval = changes.get("interval")
        if max_requests is not None:
            validate_max(max_requests)
        if interval is not None:
            validate_interval(interval)
        result, rate_limit = self._store.update_bucket(
            service_sid, rate_limit_sid, sid, max_requests, interval, self._clock.now_ms()
        )
        if result is RateLimitWrite.DUPLICATE:
            raise duplicate_interval(interval or 0)
        bucket = rate_limit.bucket(sid) if rate_limit is not None else None
        if bucket is None:
            raise NotFound
        log.info("bucket %s updated", sid)
        return bucket

    def delete_bucket(self, service_sid: str, rate_limit_sid: str, sid: str) -> None:
        if not (
            sids.is_sid(service_sid, "VA")
            and sids.is_sid(rate_limit_sid, "RK")
            and sids.is_sid(sid, "BL")
            and self._store.delete_bucket(service_sid, rate_limit_sid, sid)
        ):
            raise NotFound
        log.info("bucket %s deleted", sid)
