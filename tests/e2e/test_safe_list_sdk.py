"""The Safe List through the official twilio SDK against the real server (gunicorn, real
Redis): add (idempotent), fetch, delete, Twilio's errors, and no number in Redis."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import redis
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.support.processes import ApiServer

NUMBER = "+14155552671"
OTHER = "+447400987654"  # no digit run of the test account sid
GN_SID = re.compile(r"^GN[0-9a-f]{32}$")


def refusal(call: object) -> tuple[int, int, str]:
    assert callable(call)
    with pytest.raises(TwilioRestException) as raised:
        call()
    return raised.value.status, raised.value.code, raised.value.msg


def test_add_fetch_and_delete_a_number(twilio: Client, api_server: ApiServer) -> None:
    added = twilio.verify.v2.safelist.create(phone_number=NUMBER)
    assert GN_SID.fullmatch(added.sid)
    assert added.phone_number == NUMBER
    assert added.url == f"{api_server.url}/v2/SafeList/Numbers/{NUMBER}"

    fetched = twilio.verify.v2.safelist(NUMBER).fetch()
    assert (fetched.sid, fetched.phone_number, fetched.url) == (
        added.sid,
        NUMBER,
        added.url,
    )

    assert twilio.verify.v2.safelist(NUMBER).delete() is True
    status, code, _ = refusal(lambda: twilio.verify.v2.safelist(NUMBER).fetch())
    assert (status, code) == (404, 20404)


def test_adding_a_listed_number_again_keeps_its_sid(twilio: Client) -> None:
    first = twilio.verify.v2.safelist.create(phone_number=NUMBER)
    again = twilio.verify.v2.safelist.create(phone_number=NUMBER)
    assert again.sid == first.sid
    other = twilio.verify.v2.safelist.create(phone_number=OTHER)
    assert other.sid != first.sid


def test_the_number_is_normalised_to_e164(twilio: Client) -> None:
    added = twilio.verify.v2.safelist.create(phone_number="+1 (415) 555-2671")
    assert added.phone_number == NUMBER
    assert twilio.verify.v2.safelist(NUMBER).fetch().sid == added.sid


def test_a_number_not_listed_is_20404_and_the_message_masks_it(twilio: Client) -> None:
    status, code, message = refusal(lambda: twilio.verify.v2.safelist(NUMBER).fetch())
    assert (status, code) == (404, 20404)
    assert "5552671" not in message
    status, code, _ = refusal(lambda: twilio.verify.v2.safelist(NUMBER).delete())
    assert (status, code) == (404, 20404)


def test_an_invalid_number_is_60200_naming_phone_number(twilio: Client) -> None:
    for invalid in ("14155552671", "+1415", "not a number", "+999123456"):
        status, code, message = refusal(
            lambda invalid=invalid: twilio.verify.v2.safelist.create(phone_number=invalid)
        )
        assert (status, code) == (400, 60200), invalid
        assert "PhoneNumber" in message


def test_an_invalid_number_in_the_path_is_20404(twilio: Client) -> None:
    status, code, _ = refusal(lambda: twilio.verify.v2.safelist("+1415").fetch())
    assert (status, code) == (404, 20404)


@pytest.fixture
def http(api_server: ApiServer, redis_client: redis.Redis) -> Iterator[requests.Session]:
    session = requests.Session()
    session.auth = (ACCOUNT_SID, AUTH_TOKEN)
    yield session
    session.close()


def test_a_url_encoded_plus_in_the_path_and_a_missing_parameter(
    http: requests.Session, api_server: ApiServer
) -> None:
    base = f"{api_server.url}/v2/SafeList/Numbers"
    missing = http.post(base, data={}, timeout=10)
    assert (missing.status_code, missing.json()["code"]) == (400, 60200)
    assert "PhoneNumber" in missing.json()["message"]

    added = http.post(base, data={"PhoneNumber": NUMBER}, timeout=10)
    assert added.status_code == 201
    assert set(added.json()) == {"sid", "phone_number", "url"}
    encoded = http.get(f"{base}/%2B14155552671", timeout=10)
    assert encoded.status_code == 200
    assert encoded.json() == added.json()
    deleted = http.delete(f"{base}/%2B14155552671", timeout=10)
    assert (deleted.status_code, deleted.content) == (204, b"")


def test_every_operation_needs_credentials(
    api_server: ApiServer, redis_client: redis.Redis
) -> None:
    base = f"{api_server.url}/v2/SafeList/Numbers"
    for response in (
        requests.post(base, data={"PhoneNumber": NUMBER}, timeout=10),
        requests.get(f"{base}/{NUMBER}", timeout=10),
        requests.delete(f"{base}/{NUMBER}", timeout=10),
    ):
        assert (response.status_code, response.json()["code"]) == (401, 20003)


def _everything(client: redis.Redis) -> Iterator[bytes]:
    """Every key name and every stored value, whatever the key's type."""
    for key in client.scan_iter(count=1000):
        yield key
        kind = client.type(key)
        if kind == b"string":
            yield client.get(key) or b""
        elif kind == b"hash":
            for field, value in client.hgetall(key).items():
                yield field
                yield value
        elif kind == b"list":
            yield from client.lrange(key, 0, -1)
        elif kind == b"set":
            yield from client.smembers(key)
        elif kind == b"zset":
            yield from (member for member, _ in client.zrange(key, 0, -1, withscores=True))
        elif kind == b"stream":
            for _, entry in client.xrange(key):
                for field, value in entry.items():
                    yield field
                    yield value
        else:  # pragma: no cover - no other type is used
            pytest.fail(f"unexpected Redis type {kind!r}")


def test_redis_holds_no_digit_run_of_a_listed_number(
    twilio: Client, redis_client: redis.Redis
) -> None:
    numbers = (NUMBER, OTHER)
    for number in numbers:
        twilio.verify.v2.safelist.create(phone_number=number)
    dump = list(_everything(redis_client))
    assert dump, "the safe list is in Redis"
    # The digits after the calling code, and their last seven (a run a 13-digit millisecond
    # time or a 32-hex-digit sid holds by chance with odds below 10^-5).
    runs = {n.lstrip("+")[1:] for n in numbers} | {n[-7:] for n in numbers}
    leaks = [(run, blob) for blob in dump for run in runs if run.encode() in blob]
    assert leaks == []
    safe_list_keys = [key for key in redis_client.scan_iter() if b"safelist" in key]
    assert len(safe_list_keys) == 1
    assert redis_client.hlen(safe_list_keys[0]) == len(numbers)
