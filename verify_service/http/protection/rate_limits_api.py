"""`/v2/Services/{VA}/RateLimits` and `/RateLimits/{RK}/Buckets`: create, list, fetch, update,
delete."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from verify_service.application.access.access import Permission
from verify_service.application.protection.rate_limit_catalog import RateLimitCatalog
from verify_service.http.access.auth import requires
from verify_service.http.params import load, query_params, request_params
from verify_service.http.representations import bucket_json, page_json, rate_limit_json
from verify_service.http.schemas import (
    BucketParams,
    CreateRateLimitParams,
    PageParams,
    UpdateRateLimitParams,
)
from verify_service.http.wiring import account_sid, base_url, components

blueprint = Blueprint("rate_limits", __name__, url_prefix="/v2/Services/<service_sid>/RateLimits")
_create_params = CreateRateLimitParams()
_update_params = UpdateRateLimitParams()
_bucket_params = BucketParams()
_page_params = PageParams()


def _catalog() -> RateLimitCatalog:
    catalog = components().rate_limits
    if catalog is None:  # pragma: no cover - create_app always wires it
        raise RuntimeError("the rate limit catalog is not wired")
    return catalog


def _created(body: object) -> Response:
    response = jsonify(body)
    response.status_code = 201
    return response


def _list_url(service_sid: str, rate_limit_sid: str | None = None) -> str:
    url = f"{base_url()}/v2/Services/{service_sid}/RateLimits"
    return url if rate_limit_sid is None else f"{url}/{rate_limit_sid}/Buckets"


# -- rate limits --------------------------------------------------------------------------


@blueprint.post("")
@requires(Permission.RATE_LIMITS_WRITE)
def create_rate_limit(service_sid: str) -> Response:
    rate_limit = _catalog().create(service_sid, load(_create_params, request_params()))
    return _created(rate_limit_json(rate_limit, account_sid(), base_url()))


@blueprint.get("")
@requires(Permission.RATE_LIMITS_READ)
def list_rate_limits(service_sid: str) -> Response:
    paging = load(_page_params, query_params())
    rate_limits, more = _catalog().list_rate_limits(
        service_sid, paging["page"], paging["page_size"]
    )
    records = [rate_limit_json(r, account_sid(), base_url()) for r in rate_limits]
    return jsonify(
        page_json(
            "rate_limits",
            records,
            _list_url(service_sid),
            paging["page"],
            paging["page_size"],
            more,
        )
    )


@blueprint.get("/<sid>")
@requires(Permission.RATE_LIMITS_READ)
def fetch_rate_limit(service_sid: str, sid: str) -> Response:
    rate_limit = _catalog().fetch(service_sid, sid)
    return jsonify(rate_limit_json(rate_limit, account_sid(), base_url()))


@blueprint.post("/<sid>")
@requires(Permission.RATE_LIMITS_WRITE)
def update_rate_limit(service_sid: str, sid: str) -> Response:
    changes = load(_update_params, request_params())
    rate_limit = _catalog().update(service_sid, sid, changes)
    return jsonify(rate_limit_json(rate_limit, account_sid(), base_url()))


@blueprint.delete("/<sid>")
@requires(Permission.RATE_LIMITS_WRITE)
def delete_rate_limit(service_sid: str, sid: str) -> Response:
    _catalog().delete(service_sid, sid)
    return Response(status=204)


# -- buckets ------------------------------------------------------------------------------


@blueprint.post("/<rate_limit_sid>/Buckets")
@requires(Permission.RATE_LIMITS_WRITE)
def create_bucket(service_sid: str, rate_limit_sid: str) -> Response:
    values = load(_bucket_params, request_params())
    bucket = _catalog().create_bucket(service_sid, rate_limit_sid, values)
    return _created(bucket_json(bucket, account_sid(), base_url()))


@blueprint.get("/<rate_limit_sid>/Buckets")
@requires(Permission.RATE_LIMITS_READ)
def list_buckets(service_sid: str, rate_limit_sid: str) -> Response:
    paging = load(_page_params, query_params())
    buckets, more = _catalog().list_buckets(
        service_sid, rate_limit_sid, paging["page"], paging["page_size"]
    )
    records = [bucket_json(b, account_sid(), base_url()) for b in buckets]
    return jsonify(
        page_json(
            "buckets",
            records,
            _list_url(service_sid, rate_limit_sid),
            paging["page"],
            paging["page_size"],
            more,
        )
    )


@blueprint.get("/<rate_limit_sid>/Buckets/<sid>")
@requires(Permission.RATE_LIMITS_READ)
def fetch_bucket(service_sid: str, rate_limit_sid: str, sid: str) -> Response:
    bucket = _catalog().fetch_bucket(service_sid, rate_limit_sid, sid)
    return jsonify(bucket_json(bucket, account_sid(), base_url()))


@blueprint.post("/<rate_limit_sid>/Buckets/<sid>")
@requires(Permission.RATE_LIMITS_WRITE)
def update_bucket(service_sid: str, rate_limit_sid: str, sid: str) -> Response:
    changes = load(_bucket_params, request_params())
    bucket = _catalog().update_bucket(service_sid, rate_limit_sid, sid, changes)
    return jsonify(bucket_json(bucket, account_sid(), base_url()))


@blueprint.delete("/<rate_limit_sid>/Buckets/<sid>")
@requires(Permission.RATE_LIMITS_WRITE)
def delete_bucket(service_sid: str, rate_limit_sid: str, sid: str) -> Response:
    _catalog().delete_bucket(service_sid, rate_limit_sid, sid)
    return Response(status=204)
