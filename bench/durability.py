"""What `VERIFY_REDIS_WAIT_REPLICAS` costs (docs/durability.md): a check's latency with
`WAIT 1` against `WAIT 0` (off), on a local Sentinel group (1 master, 2 replicas, 3
sentinels, tests/support/redis_sentinel_group.py), in this process through the Flask test
client; and the Redis round trips per check (the WAIT rides in the script's pipeline, so
they must be equal).

`make bench-durability` (ITERATIONS=…). Loopback replicas acknowledge within a fraction of a
millisecond; across a network the wait grows by one replica round trip.
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import statistics
import time
from typing import Any

from flask.testing import FlaskClient

from bench.inprocess import CodeCatcher, counting_round_trips, drain_outbox
from tests.support.redis_sentinel_group import SentinelGroup
from verify_service.adapters.redis_connection import connect
from verify_service.app import CONTAINER_KEY, create_app
from verify_service.domain.models import Channel
from verify_service.settings import Settings

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = secrets.token_hex(16)  # this run's own
SECRET_KEY = secrets.token_urlsafe(48)
CHECKS_PER_VERIFICATION = 4  # three wrong codes, then the right one


class Client:
    """One in-process app on the group, with `wait_replicas`."""

    def __init__(self, group: SentinelGroup, wait_replicas: int, prefix: str) -> None:
        self.catcher = CodeCatcher()
        settings = Settings(
            account_sid=ACCOUNT_SID,
            auth_token=AUTH_TOKEN,
            secret_key=SECRET_KEY.encode(),
            redis_url=group.url,
            key_prefix=prefix,
            argon2_profile="otp-2m",
            redis_wait_replicas=wait_replicas,
            redis_wait_timeout_ms=100,
        )
        providers = {channel: [self.catcher] for channel in Channel}
        app = create_app(settings, providers=providers)
        self.container = app.extensions[CONTAINER_KEY]
        self.http: FlaskClient = app.test_client()
        token = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}"}
        self.service = self.post("/v2/Services", {"FriendlyName": "Bench"}, 201)["sid"]
        self.number = 0
        self.to = ""

    def post(self, path: str, data: dict[str, str], expect: int) -> dict[str, Any]:
        response = self.http.post(path, data=data, headers=self.headers)
        if response.status_code != expect:
            raise RuntimeError(f"{path}: HTTP {response.status_code} {response.get_data()!r}")
        body: dict[str, Any] = response.json  # type: ignore[assignment]
        return body

    def new_verification(self) -> str:
        self.number += 1
        self.to = f"+1415{2_000_000 + self.number:07d}"
        path = f"/v2/Services/{self.service}/Verifications"
        sid: str = self.post(path, {"To": self.to, "Channel": "sms"}, 201)["sid"]
        return sid

    def check(self, code: str = "000000") -> float:
        """One check (a wrong code by default); its latency in milliseconds."""
        path = f"/v2/Services/{self.service}/VerificationCheck"
        started = time.perf_counter()
        self.post(path, {"To": self.to, "Code": code}, 200)
        return (time.perf_counter() - started) * 1000


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": round(statistics.median(ordered), 3),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 3),
        "mean_ms": round(statistics.fmean(ordered), 3),
    }


def round_trips_per_check(client: Client) -> dict[str, int]:
    """Round trips of a wrong-code check (a reservation) and of a right-code one (a
    reservation and an approval)."""
    client.new_verification()
    with counting_round_trips() as wrong:
        client.check()
    sid = client.new_verification()
    drain_outbox(client.container)  # the worker's job, outside the count
    with counting_round_trips() as right:
        client.check(client.catcher.codes[sid])
    return {"wrong_code": wrong[0], "right_code": right[0]}


def measure(group: SentinelGroup, iterations: int) -> dict[str, Any]:
    """`iterations` checks per setting, interleaved so both see the same machine: per
    verification, three wrong codes (a reservation each) then the right one (a reservation
    and an approval)."""
    clients = {0: Client(group, 0, "bench-w0"), 1: Client(group, 1, "bench-w1")}
    trips = {wait: round_trips_per_check(client) for wait, client in clients.items()}
    wrong: dict[int, list[float]] = {0: [], 1: []}
    right: dict[int, list[float]] = {0: [], 1: []}
    for _ in range(iterations // CHECKS_PER_VERIFICATION):
        for wait, client in clients.items():
            sid = client.new_verification()
            drain_outbox(client.container)
            for _ in range(CHECKS_PER_VERIFICATION - 1):
                wrong[wait].append(client.check())
            right[wait].append(client.check(client.catcher.codes[sid]))
    return {
        "iterations": iterations,
        "wrong_code_check_wait_0": summary(wrong[0]),
        "wrong_code_check_wait_1": summary(wrong[1]),
        "right_code_check_wait_0": summary(right[0]),
        "right_code_check_wait_1": summary(right[1]),
        "round_trips_per_check": {"wait_0": trips[0], "wait_1": trips[1]},
        "raw_write_ms": raw_write_latency(group, iterations),
    }


def raw_write_latency(group: SentinelGroup, iterations: int) -> dict[str, dict[str, float]]:
    """A one-command pipeline (INCR) alone and with WAIT 1 100: Redis's side of the cost."""
    client = connect(group.url, 2.0)
    try:
        found: dict[str, list[float]] = {"alone": [], "with_wait_1": []}
        for _ in range(iterations):
            for name, samples in found.items():
                pipe = client.pipeline(transaction=False)
                pipe.incr("bench:durability")
                if name == "with_wait_1":
                    pipe.execute_command("WAIT", 1, 100)  # type: ignore[no-untyped-call]
                started = time.perf_counter()
                pipe.execute()
                samples.append((time.perf_counter() - started) * 1000)
        client.delete("bench:durability")
        return {name: summary(samples) for name, samples in found.items()}
    finally:
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=2000)
    args = parser.parse_args()
    group = SentinelGroup().start()
    try:
        print(json.dumps(measure(group, args.iterations), indent=2))
    finally:
        group.stop()


if __name__ == "__main__":
    main()
