"""What a Redis dump or the server log reveals: no code and no destination (codes are
stored only as keyed argon2id digests, destinations sealed with AES-GCM, key names use a
keyed digest; logs mask destinations). Verification keys carry the service's TTL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import requests

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.e2e.conftest import server_env
from tests.support.outbox import Outbox
from tests.support.processes import ApiServer, RedisServer

SMS_TO = "+14155552671"
CALL_TO = "+14155552672"
WHATSAPP_TO = "+14155552673"
EMAIL_TO = "codes.at.rest@example.com"
PHONES = (SMS_TO, CALL_TO, WHATSAPP_TO)
# Ten-digit codes: a six-digit code can turn up by chance inside a 13-digit millisecond
# timestamp stored beside it; a ten-digit one cannot (odds below 10^-9 per timestamp).
CODE_LENGTH = 10
# The code as the console provider writes it: "123456" in a text, "1, 2, 3, 4, 5, 6" spoken.
_CODE = re.compile(r"verification code is: ((?:[0-9A-Za-z], )*[0-9A-Za-z]+)")


@dataclass
class Stack:
    """A Redis and an API server of this module's own, so the log holds only this traffic."""

    redis: redis.Redis
    api: ApiServer
    outbox: Outbox
    log_path: Path
    session: requests.Session

    def post(self, path: str, **params: str | int) -> requests.Response:
        return self.session.post(f"{self.api.url}{path}", data=params, timeout=10)

    def get(self, path: str) -> requests.Response:
        return self.session.get(f"{self.api.url}{path}", timeout=10)

    def create_service(self, **params: str | int) -> str:
        response = self.post("/v2/Services", FriendlyName="Acme", **params)
        assert response.status_code == 201, response.text
        sid: str = response.json()["sid"]
        return sid

    def start(self, service_sid: str, to: str, channel: str) -> str:
        response = self.post(f"/v2/Services/{service_sid}/Verifications", To=to, Channel=channel)
        assert response.status_code == 201, response.text
        sid: str = response.json()["sid"]
        return sid

    def codes_for(self, verification_sid: str) -> list[str]:
        codes = []
        for message in self.outbox.messages_for(verification_sid):
            match = _CODE.search(message["body"])
            assert match is not None, "a message without a code"
            codes.append(match.group(1).replace(", ", ""))
        return codes


@dataclass(frozen=True)
class Traffic:
    service_sid: str
    verification_sids: dict[str, str]  # channel -> VE sid
    codes: list[str]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder: Path = tmp_path_factory.mktemp("codes_at_rest")
    redis_server = RedisServer().start()
    api = ApiServer(server_env(redis_server.url, folder / "outbox.jsonl"), workers=2)
    try:
        api.start(folder / "server.log")
        with requests.Session() as session, redis_server.client() as client:
            session.auth = (ACCOUNT_SID, AUTH_TOKEN)
            yield Stack(
                client, api, Outbox(folder / "outbox.jsonl", client), folder / "server.log", session
            )
    finally:
        api.stop()
        redis_server.stop()


@pytest.fixture
def traffic(stack: Stack) -> Traffic:
    """A code on every channel plus a resend, and one wrong check, on a flushed Redis."""
    stack.redis.flushall()
    service_sid = stack.create_service(CodeLength=CODE_LENGTH)
    sids = {
        "sms": stack.start(service_sid, SMS_TO, "sms"),
        "call": stack.start(service_sid, CALL_TO, "call"),
        "email": stack.start(service_sid, EMAIL_TO, "email"),
        "whatsapp": stack.start(service_sid, WHATSAPP_TO, "whatsapp"),
    }
    assert stack.start(service_sid, SMS_TO, "sms") == sids["sms"]  # a resend: a new code
    codes = [code for sid in sids.values() for code in stack.codes_for(sid)]
    assert len(codes) == 5
    assert all(re.fullmatch(rf"[0-9]{{{CODE_LENGTH}}}", code) for code in codes), codes
    wrong = stack.post(
        f"/v2/Services/{service_sid}/VerificationCheck", To=EMAIL_TO, Code="0" * CODE_LENGTH
    )
    assert (wrong.status_code, wrong.json()["valid"]) == (200, False)
    return Traffic(service_sid, sids, codes)


def everything_in_redis(client: redis.Redis) -> dict[bytes, bytes]:
    """Each key's name, readable values and DUMP serialisation, as one byte string."""
    contents = {}
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        parts: list[bytes] = [key]
        if kind == b"hash":
            for field, value in client.hgetall(key).items():
                parts += [field, value]
        elif kind == b"string":
            parts.append(client.get(key) or b"")
        elif kind == b"zset":
            for member, score in client.zrange(key, 0, -1, withscores=True):
                parts += [member, repr(score).encode()]
        elif kind == b"set":
            parts += list(client.smembers(key))
        elif kind == b"list":
            parts += client.lrange(key, 0, -1)
        elif kind == b"stream":  # the delivery outbox: sealed messages only
            for entry_id, fields in client.xrange(key):
                parts += [entry_id, *fields.keys(), *fields.values()]
        else:
            pytest.fail(f"unexpected Redis type {kind!r} for {key!r}")
        parts.append(client.dump(key) or b"")
        contents[key] = b"\n".join(parts)
    return contents


def secrets_of(traffic: Traffic) -> list[str]:
    """Every code sent, and every destination in E.164, as bare digits and as an address."""
    return [
        *traffic.codes,
        *PHONES,
        *(phone.lstrip("+") for phone in PHONES),
        EMAIL_TO,
        EMAIL_TO.split("@", maxsplit=1)[0],
    ]


def test_no_code_or_destination_appears_in_any_redis_key_or_value(
    stack: Stack, traffic: Traffic
) -> None:
    """SCAN every key: no code and no phone number or e-mail address in names or values."""
    contents = everything_in_redis(stack.redis)

    verification_keys = [key for key in contents if key.startswith(b"vs:v:")]
    assert len(verification_keys) == 4
    dump = b"\n".join(contents.values()).lower()
    for sid in traffic.verification_sids.values():  # the dump is readable where it may be
        assert sid.lower().encode() in dump
    for secret in secrets_of(traffic):
        leaks = [key for key, value in contents.items() if secret.lower().encode() in value.lower()]
        assert leaks == [], f"{secret!r} readable in {leaks}"


def test_the_server_log_shows_no_code_and_no_destination(stack: Stack, traffic: Traffic) -> None:
    """After starts, a resend, checks and a fetch, the log holds no code and no destination."""
    sms_sid = traffic.verification_sids["sms"]
    approved = stack.post(
        f"/v2/Services/{traffic.service_sid}/VerificationCheck",
        VerificationSid=sms_sid,
        Code=stack.codes_for(sms_sid)[0],  # the first code stays valid after the resend
    )
    assert (approved.status_code, approved.json()["status"]) == (200, "approved")
    fetched = stack.get(
        f"/v2/Services/{traffic.service_sid}/Verifications/{traffic.verification_sids['call']}"
    )
    assert fetched.status_code == 200

    log = stack.log_path.read_text("utf-8").lower()

    for sid in traffic.verification_sids.values():  # the log does record the traffic
        assert sid.lower() in log
    sent = {m["verification_sid"] for m in stack.outbox.messages()}
    every_code = {code for sid in sent for code in stack.codes_for(sid)}
    for secret in {*secrets_of(traffic), *every_code}:
        assert secret.lower() not in log, f"{secret!r} in the server log"


def verification_pttl(stack: Stack) -> int:
    [key] = stack.redis.scan_iter(match="vs:v:*")
    pttl: int = stack.redis.pttl(key)
    return pttl


def test_a_verification_key_expires_after_the_default_ten_minutes(stack: Stack) -> None:
    """A verification's Redis key carries a TTL of 600 s (PTTL 590 000-600 000 ms)."""
    stack.redis.flushall()
    stack.start(stack.create_service(), SMS_TO, "sms")
    assert 590_000 <= verification_pttl(stack) <= 600_000


def test_a_verification_key_expires_after_the_services_own_ttl(stack: Stack) -> None:
    """With VerificationTtlSeconds=120 the key's PTTL is about 120 000 ms."""
    stack.redis.flushall()
    service_sid = stack.create_service(VerificationTtlSeconds=120)
    assert stack.get(f"/v2/Services/{service_sid}").json()["verification_ttl_seconds"] == 120
    stack.start(service_sid, SMS_TO, "sms")
    assert 110_000 <= verification_pttl(stack) <= 120_000
