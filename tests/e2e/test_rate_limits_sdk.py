"""Rate Limits and Buckets through the official twilio SDK against the real server.

Create, list, fetch, update and delete both resources with Twilio's fields, and every
configuration error Twilio defines for them: 60207 (10 rate limits per service), 60208
(UniqueName taken), 60209 (UniqueName format), 60210 (5 buckets per rate limit), 60211
(Interval taken), all 400.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.support.processes import ApiServer


def error_of(action: Callable[[], object]) -> tuple[int, int]:
    """The (HTTP status, Twilio code) of the TwilioRestException `action` raises."""
    with pytest.raises(TwilioRestException) as caught:
        action()
    return caught.value.status, caught.value.code


def list_error_of(url: str) -> tuple[int, int]:
    """A list's (HTTP status, Twilio code). The SDK's `.list()` raises a bare TwilioException
    without the code on any status but 200, so lists are read with `requests`."""
    response = requests.get(url, auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5)
    return response.status_code, response.json()["code"]


@pytest.fixture
def server_url(api_server: ApiServer, redis_client: object) -> str:
    """The server's base URL, on a flushed Redis."""
    return api_server.url


@pytest.fixture
def service_sid(twilio: Client) -> str:
    sid: str = twilio.verify.v2.services.create(friendly_name="Acme").sid
    return sid


@pytest.fixture
def service(twilio: Client, service_sid: str) -> Any:
    """The service's SDK context: `client.verify.v2.services(sid)`."""
    return twilio.verify.v2.services(service_sid)


@pytest.fixture
def rate_limit_sid(service: Any) -> str:
    sid: str = service.rate_limits.create(unique_name="end_user_ip_address").sid
    return sid


@pytest.fixture
def rate_limit(service: Any, rate_limit_sid: str) -> Any:
    """The rate limit's SDK context: `services(sid).rate_limits(sid)`."""
    return service.rate_limits(rate_limit_sid)


# -- rate limits ----------------------------------------------------------------------------


def test_create_answers_201_with_twilios_rate_limit_fields(
    twilio: Client, service: Any, service_sid: str, api_server: ApiServer
) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    created = service.rate_limits.create(
        unique_name="end_user_ip_address", description="Limit by end user IP"
    )
    after = datetime.now(UTC) + timedelta(seconds=1)
    assert twilio.http_client._test_only_last_response.status_code == 201
    url = f"{api_server.url}/v2/Services/{service_sid}/RateLimits/{created.sid}"
    assert re.fullmatch(r"RK[0-9a-f]{32}", created.sid)
    assert (created.service_sid, created.account_sid) == (service_sid, ACCOUNT_SID)
    assert (created.unique_name, created.description) == (
        "end_user_ip_address",
        "Limit by end user IP",
    )
    assert before <= created.date_created <= after
    assert created.date_updated == created.date_created
    assert created.url == url
    assert created.links == {"buckets": f"{url}/Buckets"}


def test_description_is_optional(service: Any) -> None:
    assert service.rate_limits.create(unique_name="phone_number").description is None


def test_fetch_returns_what_create_returned(service: Any) -> None:
    created = service.rate_limits.create(unique_name="ip.v4", description="IPv4")
    fetched = service.rate_limits(created.sid).fetch()
    assert (fetched.sid, fetched.unique_name, fetched.description, fetched.date_created) == (
        created.sid,
        "ip.v4",
        "IPv4",
        created.date_created,
    )


def test_list_returns_every_rate_limit_in_creation_order_across_pages(service: Any) -> None:
    names = [f"limit-{i}" for i in range(5)]
    sids = [service.rate_limits.create(unique_name=name).sid for name in names]
    listed = service.rate_limits.list(page_size=2)
    assert [r.sid for r in listed] == sids
    assert [r.unique_name for r in listed] == names


def test_list_of_a_service_without_rate_limits_is_empty(service: Any) -> None:
    assert service.rate_limits.list() == []


def test_update_changes_the_description_only(rate_limit: Any) -> None:
    before = rate_limit.fetch()
    updated = rate_limit.update(description="per end-user IP")
    assert updated.description == "per end-user IP"
    assert (updated.sid, updated.unique_name, updated.date_created) == (
        before.sid,
        before.unique_name,
        before.date_created,
    )
    assert updated.date_updated >= before.date_updated
    assert rate_limit.fetch().description == "per end-user IP"


def test_delete_answers_204_and_the_rate_limit_is_gone(twilio: Client, rate_limit: Any) -> None:
    assert rate_limit.delete() is True
    assert twilio.http_client._test_only_last_response.status_code == 204
    assert error_of(rate_limit.fetch) == (404, 20404)
    assert error_of(rate_limit.delete) == (404, 20404)
    assert error_of(lambda: rate_limit.update(description="x")) == (404, 20404)


def test_a_deleted_unique_name_can_be_used_again(
    service: Any, rate_limit: Any, rate_limit_sid: str
) -> None:
    rate_limit.delete()
    again = service.rate_limits.create(unique_name="end_user_ip_address")
    assert again.sid != rate_limit_sid


def test_unique_names_are_per_service(twilio: Client, rate_limit: Any) -> None:
    other = twilio.verify.v2.services.create(friendly_name="Other")
    taken_elsewhere = twilio.verify.v2.services(other.sid).rate_limits.create(
        unique_name="end_user_ip_address"
    )
    assert taken_elsewhere.unique_name == "end_user_ip_address"


def test_duplicate_unique_name_is_60208(service: Any, rate_limit: Any) -> None:
    assert error_of(lambda: service.rate_limits.create(unique_name="end_user_ip_address")) == (
        400,
        60208,
    )


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("end user", "a space"),
        ("ip/address", "a slash"),
        ("prénom", "a non-ASCII letter"),
        ("x" * 65, "65 characters"),
        ("", "empty"),
    ],
)
def test_invalid_unique_name_is_60209(service: Any, name: str, why: str) -> None:
    assert error_of(lambda: service.rate_limits.create(unique_name=name)) == (400, 60209), why


def test_unique_name_of_64_letters_digits_dots_dashes_underscores_is_accepted(
    service: Any,
) -> None:
    name = ("Aa0._-" * 11)[:64]
    assert service.rate_limits.create(unique_name=name).unique_name == name


def test_the_eleventh_rate_limit_of_a_service_is_60207(service: Any) -> None:
    for i in range(10):
        service.rate_limits.create(unique_name=f"limit_{i}")
    assert error_of(lambda: service.rate_limits.create(unique_name="limit_10")) == (400, 60207)
    assert len(service.rate_limits.list()) == 10


def test_missing_unique_name_is_60200(server_url: str, service_sid: str) -> None:
    response = requests.post(
        f"{server_url}/v2/Services/{service_sid}/RateLimits",
        data={"Description": "no name"},
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=5,
    )
    assert (response.status_code, response.json()["code"]) == (400, 60200)
    assert "UniqueName" in response.json()["message"]


def test_rate_limits_of_an_unknown_service_are_20404(twilio: Client, server_url: str) -> None:
    unknown_sid = "VA" + "0" * 32
    unknown = twilio.verify.v2.services(unknown_sid)
    assert error_of(lambda: unknown.rate_limits.create(unique_name="ip")) == (404, 20404)
    assert list_error_of(f"{server_url}/v2/Services/{unknown_sid}/RateLimits") == (404, 20404)
    assert error_of(unknown.rate_limits("RK" + "0" * 32).fetch) == (404, 20404)


def test_deleting_the_service_deletes_its_rate_limits(
    twilio: Client, server_url: str, service: Any, service_sid: str
) -> None:
    rate_limit = service.rate_limits(service.rate_limits.create(unique_name="ip").sid)
    service.delete()
    assert list_error_of(f"{server_url}/v2/Services/{service_sid}/RateLimits") == (404, 20404)
    assert error_of(rate_limit.fetch) == (404, 20404)
    # A service created afterwards starts with none.
    fresh = twilio.verify.v2.services.create(friendly_name="Acme")
    assert twilio.verify.v2.services(fresh.sid).rate_limits.list() == []


# -- buckets --------------------------------------------------------------------------------


def test_bucket_create_answers_201_with_twilios_bucket_fields(
    twilio: Client, service_sid: str, rate_limit: Any, rate_limit_sid: str, api_server: ApiServer
) -> None:
    bucket = rate_limit.buckets.create(max=5, interval=60)
    assert twilio.http_client._test_only_last_response.status_code == 201
    assert re.fullmatch(r"BL[0-9a-f]{32}", bucket.sid)
    assert (bucket.rate_limit_sid, bucket.service_sid, bucket.account_sid) == (
        rate_limit_sid,
        service_sid,
        ACCOUNT_SID,
    )
    assert (bucket.max, bucket.interval) == (5, 60)
    assert isinstance(bucket.date_created, datetime)
    assert bucket.date_updated == bucket.date_created
    assert bucket.url == (
        f"{api_server.url}/v2/Services/{service_sid}/RateLimits/{rate_limit_sid}"
        f"/Buckets/{bucket.sid}"
    )


def test_buckets_fetch_and_list_in_creation_order(rate_limit: Any) -> None:
    created = [rate_limit.buckets.create(max=m, interval=i) for m, i in ((5, 60), (20, 3600))]
    fetched = rate_limit.buckets(created[1].sid).fetch()
    assert (fetched.sid, fetched.max, fetched.interval) == (created[1].sid, 20, 3600)
    listed = rate_limit.buckets.list(page_size=1)
    assert [(b.sid, b.max, b.interval) for b in listed] == [
        (b.sid, b.max, b.interval) for b in created
    ]


def test_bucket_update_changes_max_and_interval(rate_limit: Any) -> None:
    bucket = rate_limit.buckets(rate_limit.buckets.create(max=5, interval=60).sid)
    assert (bucket.update(max=10).max, bucket.fetch().interval) == (10, 60)
    updated = bucket.update(interval=120)
    assert (updated.max, updated.interval) == (10, 120)
    both = bucket.update(max=3, interval=30)
    assert (both.max, both.interval) == (3, 30)
    assert both.date_updated >= both.date_created


def test_bucket_delete_answers_204_and_the_bucket_is_gone(twilio: Client, rate_limit: Any) -> None:
    bucket = rate_limit.buckets(rate_limit.buckets.create(max=5, interval=60).sid)
    assert bucket.delete() is True
    assert twilio.http_client._test_only_last_response.status_code == 204
    assert error_of(bucket.fetch) == (404, 20404)
    assert error_of(bucket.delete) == (404, 20404)
    assert error_of(lambda: bucket.update(max=1)) == (404, 20404)
    assert rate_limit.buckets.list() == []


def test_a_second_bucket_with_the_same_interval_is_60211(rate_limit: Any) -> None:
    rate_limit.buckets.create(max=5, interval=60)
    assert error_of(lambda: rate_limit.buckets.create(max=10, interval=60)) == (400, 60211)


def test_updating_a_bucket_to_another_buckets_interval_is_60211(rate_limit: Any) -> None:
    rate_limit.buckets.create(max=5, interval=60)
    hourly = rate_limit.buckets(rate_limit.buckets.create(max=50, interval=3600).sid)
    assert error_of(lambda: hourly.update(interval=60)) == (400, 60211)
    assert hourly.fetch().interval == 3600
    assert hourly.update(interval=3600, max=40).max == 40  # its own interval is no conflict


def test_the_sixth_bucket_of_a_rate_limit_is_60210(rate_limit: Any) -> None:
    for interval in (60, 300, 3600, 86400, 604800):
        rate_limit.buckets.create(max=5, interval=interval)
    assert error_of(lambda: rate_limit.buckets.create(max=5, interval=30)) == (400, 60210)
    assert len(rate_limit.buckets.list()) == 5


@pytest.mark.parametrize(
    ("max_requests", "interval", "parameter"),
    [
        (0, 60, "Max"),
        (100_001, 60, "Max"),
        (-1, 60, "Max"),
        (5, 0, "Interval"),
        (5, 2_592_001, "Interval"),
    ],
)
def test_out_of_range_max_or_interval_is_60200(
    rate_limit: Any, max_requests: int, interval: int, parameter: str
) -> None:
    with pytest.raises(TwilioRestException) as caught:
        rate_limit.buckets.create(max=max_requests, interval=interval)
    assert (caught.value.status, caught.value.code) == (400, 60200)
    assert parameter in caught.value.msg


def test_max_and_interval_limits_are_inclusive(rate_limit: Any) -> None:
    bucket = rate_limit.buckets.create(max=100_000, interval=2_592_000)
    assert (bucket.max, bucket.interval) == (100_000, 2_592_000)
    assert rate_limit.buckets.create(max=1, interval=1).interval == 1


def test_bucket_update_out_of_range_is_60200(rate_limit: Any) -> None:
    bucket = rate_limit.buckets(rate_limit.buckets.create(max=5, interval=60).sid)
    assert error_of(lambda: bucket.update(max=0)) == (400, 60200)
    assert error_of(lambda: bucket.update(interval=2_592_001)) == (400, 60200)


@pytest.mark.parametrize("missing", ["Max", "Interval"])
def test_bucket_create_without_max_or_interval_is_60200(
    server_url: str, service_sid: str, rate_limit_sid: str, missing: str
) -> None:
    params = {"Max": "5", "Interval": "60"}
    del params[missing]
    response = requests.post(
        f"{server_url}/v2/Services/{service_sid}/RateLimits/{rate_limit_sid}/Buckets",
        data=params,
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=5,
    )
    assert (response.status_code, response.json()["code"]) == (400, 60200)
    assert missing in response.json()["message"]


def test_buckets_of_an_unknown_rate_limit_are_20404(
    server_url: str, service: Any, service_sid: str
) -> None:
    unknown_sid = "RK" + "0" * 32
    unknown = service.rate_limits(unknown_sid)
    assert error_of(lambda: unknown.buckets.create(max=5, interval=60)) == (404, 20404)
    assert list_error_of(
        f"{server_url}/v2/Services/{service_sid}/RateLimits/{unknown_sid}/Buckets"
    ) == (404, 20404)
    assert error_of(unknown.buckets("BL" + "0" * 32).fetch) == (404, 20404)


def test_deleting_a_rate_limit_deletes_its_buckets(rate_limit: Any) -> None:
    bucket = rate_limit.buckets(rate_limit.buckets.create(max=5, interval=60).sid)
    rate_limit.delete()
    assert error_of(bucket.fetch) == (404, 20404)
