"""Listing services: Twilio's page envelope, followed by the official SDK via next_page_url."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from twilio.rest import Client

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.support.processes import ApiServer

META_KEYS = {
    "page",
    "page_size",
    "first_page_url",
    "previous_page_url",
    "url",
    "next_page_url",
    "key",
}


@pytest.fixture
def server_url(api_server: ApiServer, redis_client: object) -> str:
    """The server's base URL, on a flushed Redis."""
    return api_server.url


@pytest.fixture
def seven_services(twilio: Client) -> list[str]:
    """Seven services, created one after the other; their sids in creation order."""
    return [twilio.verify.v2.services.create(friendly_name=f"Acme {n}").sid for n in range(7)]


def list_page(base_url: str, **query: object) -> requests.Response:
    return requests.get(
        f"{base_url}/v2/Services",
        params=query,
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=5,
    )


def page_url(base_url: str, page_size: int, page: int) -> str:
    return f"{base_url}/v2/Services?PageSize={page_size}&Page={page}"


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_list_follows_next_page_urls_to_every_service_in_creation_order(
    twilio: Client, seven_services: list[str]
) -> None:
    """services.list(page_size=3) walks three pages and returns all seven, oldest first."""
    listed = twilio.verify.v2.services.list(page_size=3)
    assert [service.sid for service in listed] == seven_services
    assert [service.friendly_name for service in listed] == [f"Acme {n}" for n in range(7)]


def test_list_with_a_limit_stops_early(twilio: Client, seven_services: list[str]) -> None:
    """services.list(limit=4, page_size=3) returns the four oldest services."""
    assert [s.sid for s in twilio.verify.v2.services.list(limit=4, page_size=3)] == (
        seven_services[:4]
    )


def test_page_holds_page_size_records_and_an_absolute_next_page_url(
    twilio: Client, seven_services: list[str], api_server: ApiServer
) -> None:
    """services.page(page_size=3) has three records and a next_page_url on this server."""
    page = twilio.verify.v2.services.page(page_size=3)
    assert [service.sid for service in page] == seven_services[:3]
    assert page.next_page_url is not None
    assert page.next_page_url.startswith(f"{api_server.url}/v2/Services?")
    assert query_of(page.next_page_url) == {"PageSize": ["3"], "Page": ["1"]}


def test_pages_end_with_a_short_page_without_next_page_url(
    twilio: Client, seven_services: list[str]
) -> None:
    """Pages of three hold 3, 3 and 1 records; the last has no next page."""
    first = twilio.verify.v2.services.page(page_size=3)
    second = first.next_page()
    third = second.next_page()
    assert [s.sid for s in second] == seven_services[3:6]
    assert [s.sid for s in third] == seven_services[6:]
    assert third.next_page_url is None
    assert third.next_page() is None


def test_meta_describes_the_page(server_url: str, seven_services: list[str]) -> None:
    """meta carries page, page_size, key and absolute first/previous/current/next URLs."""
    response = list_page(server_url, PageSize=3, Page=1)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"services", "meta"}
    assert [s["sid"] for s in body["services"]] == seven_services[3:6]
    assert set(body["meta"]) == META_KEYS
    assert body["meta"] == {
        "page": 1,
        "page_size": 3,
        "first_page_url": page_url(server_url, 3, 0),
        "previous_page_url": page_url(server_url, 3, 0),
        "url": page_url(server_url, 3, 1),
        "next_page_url": page_url(server_url, 3, 2),
        "key": "services",
    }


def test_first_page_has_no_previous_page(server_url: str, seven_services: list[str]) -> None:
    """On page 0 previous_page_url is null."""
    meta = list_page(server_url, PageSize=3).json()["meta"]
    assert (meta["page"], meta["previous_page_url"]) == (0, None)
    assert meta["url"] == meta["first_page_url"] == page_url(server_url, 3, 0)


def test_page_size_defaults_to_50(server_url: str, seven_services: list[str]) -> None:
    """Without PageSize a page holds up to 50 records: here all seven, and no next page."""
    body = list_page(server_url).json()
    assert len(body["services"]) == 7
    assert (body["meta"]["page_size"], body["meta"]["next_page_url"]) == (50, None)


def test_page_size_of_1000_is_accepted(server_url: str) -> None:
    """1000 is the largest PageSize."""
    assert list_page(server_url, PageSize=1000).status_code == 200


def test_empty_list_is_an_empty_page(twilio: Client, server_url: str) -> None:
    """With no services the list is empty and has no next page."""
    assert twilio.verify.v2.services.list() == []
    body = list_page(server_url).json()
    assert body["services"] == []
    assert body["meta"]["next_page_url"] is None


def test_page_past_the_end_is_empty(server_url: str, seven_services: list[str]) -> None:
    """A page number past the last record answers an empty page, not an error."""
    body = list_page(server_url, PageSize=3, Page=5).json()
    assert body["services"] == []
    assert body["meta"]["next_page_url"] is None


def test_deleted_services_leave_the_list(twilio: Client, seven_services: list[str]) -> None:
    """A deleted service is no longer listed; the others keep their order."""
    twilio.verify.v2.services(seven_services[2]).delete()
    listed = [s.sid for s in twilio.verify.v2.services.list(page_size=3)]
    assert listed == seven_services[:2] + seven_services[3:]


@pytest.mark.parametrize(
    "query",
    [
        {"PageSize": 0},
        {"PageSize": 1001},
        {"PageSize": -1},
        {"PageSize": "ten"},
        {"Page": -1},
        {"Page": "first"},
    ],
)
def test_paging_out_of_range_is_rejected_with_60200(
    server_url: str, query: dict[str, object]
) -> None:
    """PageSize must be 1-1000 and Page a number from 0 (400/60200)."""
    response = list_page(server_url, **query)
    assert response.status_code == 400
    assert response.json()["code"] == 60200
