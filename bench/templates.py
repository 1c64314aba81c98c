"""Phase (t): what an operator's template costs a start, in this process.

Two services on one Redis: one with the built-in wording, one whose `DefaultTemplateSid` is an
API template with a declared variable, filled from `TemplateCustomSubstitutions` on every
start. Starts run through `create_app(settings).test_client()` (no gunicorn, no HTTP parsing:
the use case, Flask and redis-py), in interleaved rounds, alternating which service goes
first. Figures per start: this process's CPU without argon2 (argon2 is timed around each hash
and taken out: it is the same for both and would hide the difference), Redis round trips
(instrumented redis-py) and commands. Targets: the same round trips, and a template costs at
most 10 % more CPU without argon2 than the built-in wording.
"""

from __future__ import annotations

import base64
import json
import secrets
import statistics
import time
from collections.abc import Callable
from typing import Any

from bench import inprocess, services
from bench.numbers import NumberBlock
from bench.processes import RedisServer
from verify_service.app import CONTAINER_KEY, create_app
from verify_service.domain.models import Channel
from verify_service.settings import Settings

TARGET_CPU_RATIO = 1.10  # template / built-in, CPU per start without argon2
ROUNDS = 5
STARTS_PER_ROUND = 300
BASE = 700_000  # +447400 7NNNNN: a block no other phase uses

TEMPLATE = {
    "FriendlyName": "Bench",
    "Variables": json.dumps({"shop": 20}),
    "Translations": json.dumps(
        {
            "en": {
                "sms": "{{shop}}: {{code}} is your {{friendly_name}} code. "
                "It expires in {{ttl}} minutes.",
                "call": "Your {{friendly_name}} code is {{code}}.",
            },
            "fr": {
                "sms": "{{shop}} : {{code}} est votre code {{friendly_name}}. "
                "Valable {{ttl}} minutes.",
                "call": "Votre code {{friendly_name}} est {{code}}.",
            },
        }
    ),
}


def run(log: Callable[[str], None]) -> dict[str, Any]:
    """Measure both services in interleaved rounds; returns the phase's figures."""
    redis_server = RedisServer().start()
    try:
        account_sid, auth_token = "AC" + secrets.token_hex(16), secrets.token_hex(16)
        settings = Settings(
            account_sid=account_sid,
            auth_token=auth_token,
            secret_key=secrets.token_urlsafe(48).encode(),
            redis_url=redis_server.url,
            console_outbox="/dev/null",
        )
        return _measure(settings, log)
    finally:
        redis_server.stop()


def _measure(settings: Settings, log: Callable[[str], None]) -> dict[str, Any]:
    catcher = inprocess.CodeCatcher()
    app = create_app(settings, providers={channel: [catcher] for channel in Channel})
    container = app.extensions[CONTAINER_KEY]
    client = app.test_client()
    token = base64.b64encode(f"{settings.account_sid}:{settings.auth_token}".encode()).decode()
    headers = {"Authorization": f"Basic {token}"}

    def post(path: str, data: dict[str, str], expect: int = 201) -> dict[str, Any]:
        response = client.post(path, data=data, headers=headers)
        if response.status_code != expect:
            raise RuntimeError(f"{path}: HTTP {response.status_code} {response.get_data()!r}")
        body: dict[str, Any] = response.get_json()
        return body

    template = post("/v2/Templates", TEMPLATE)
    builtin = services.create(post, "Builtin", protected=False)
    templated = services.create(post, "Templated", protected=False)
    post(f"/v2/Services/{templated.sid}", {"DefaultTemplateSid": template["sid"]}, 200)
    substitutions = json.dumps({"shop": "Bench Shop"})

    def forms(sid: str, block: NumberBlock) -> Callable[[int], tuple[str, dict[str, str]]]:
        extra = {"TemplateCustomSubstitutions": substitutions} if sid == templated.sid else {}

        def form(index: int) -> tuple[str, dict[str, str]]:
            return (
                f"/v2/Services/{sid}/Verifications",
                {"To": block.number(index), "Channel": "sms", **extra},
            )

        return form

    blocks = {
        name: NumberBlock(BASE + offset * 50_000, ROUNDS * STARTS_PER_ROUND + 10, 1)
        for offset, name in enumerate(("builtin", "template"))
    }
    form = {
        "builtin": forms(builtin.sid, blocks["builtin"]),
        "template": forms(templated.sid, blocks["template"]),
    }
    # Warm up both: connections, scripts, the template cache, Jinja's compiled template.
    for make_form in form.values():
        for index in range(5):
            post(*make_form(ROUNDS * STARTS_PER_ROUND + index))
    inprocess.drain_outbox(container)

    rounds: dict[str, list[dict[str, float]]] = {"builtin": [], "template": []}
    for round_index in range(ROUNDS):
        order = ("builtin", "template") if round_index % 2 == 0 else ("template", "builtin")
        for name in order:
            first = round_index * STARTS_PER_ROUND
            make_form = form[name]

            def start(index: int, make: Any = make_form, offset: int = first) -> Any:
                return post(*make(offset + index))

            rounds[name].append(_round(start, STARTS_PER_ROUND))
            inprocess.drain_outbox(container)
        log(
            f"  round {round_index + 1}: CPU per start without argon2 "
            f"builtin {rounds['builtin'][-1]['cpu_ms']:.3f} ms, "
            f"template {rounds['template'][-1]['cpu_ms']:.3f} ms"
        )
    figures: dict[str, Any] = {
        name: {
            "cpu_ms_per_start_without_argon2": statistics.median(r["cpu_ms"] for r in results),
            "round_trips_per_start": statistics.fmean(r["round_trips"] for r in results),
            "rounds": results,
        }
        for name, results in rounds.items()
    }
    figures["cpu_ratio"] = (
        figures["template"]["cpu_ms_per_start_without_argon2"]
        / figures["builtin"]["cpu_ms_per_start_without_argon2"]
    )
    figures["starts_per_round"] = STARTS_PER_ROUND
    return figures


def _round(start: Callable[[int], Any], count: int) -> dict[str, float]:
    with inprocess.counting_round_trips() as counter, inprocess.timing_argon2() as argon2:
        cpu_before = time.process_time()
        for index in range(count):
            start(index)
        cpu = time.process_time() - cpu_before
    return {"cpu_ms": (cpu - argon2[0]) * 1000 / count, "round_trips": counter[0] / count}


def report(figures: dict[str, Any], log: Callable[[str], None]) -> bool:
    """Print the phase's figures; True when a target was missed."""
    builtin, template = figures["builtin"], figures["template"]
    ratio = figures["cpu_ratio"]
    # Counted in every thread: the template cache's refresh (about one read a second, off the
    # request path) shows as a few hundredths of a round trip per start.
    same_trips = template["round_trips_per_start"] - builtin["round_trips_per_start"] < 0.05
    log(
        f"  built-in wording: {builtin['cpu_ms_per_start_without_argon2']:.3f} ms CPU per start "
        f"without argon2, {builtin['round_trips_per_start']:.3f} round trips"
    )
    log(
        f"  operator template (DefaultTemplateSid + TemplateCustomSubstitutions): "
        f"{template['cpu_ms_per_start_without_argon2']:.3f} ms, "
        f"{template['round_trips_per_start']:.3f} round trips"
    )
    log(
        f"  template / built-in CPU = {ratio:.3f} (target <= {TARGET_CPU_RATIO}) "
        f"{'PASS' if ratio <= TARGET_CPU_RATIO else 'MISS'}; "
        f"same round trips: {'PASS' if same_trips else 'MISS'}"
    )
    return ratio > TARGET_CPU_RATIO or not same_trips
