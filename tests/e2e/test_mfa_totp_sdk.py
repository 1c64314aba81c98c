"""TOTP factors and challenges through the official SDK against the real server (gunicorn,
two workers) and Redis, on the wall clock: the lifecycle and the races (every state change
is one Lua script: docs/mfa.md)."""

from __future__ import annotations

from twilio.rest import Client

from tests.support import core_specs
from tests.support.processes import ApiServer


def test_a_totp_factor_and_its_challenges_live_their_whole_life(twilio: Client) -> None:
    core_specs.totp_lifecycle(twilio)


def test_sixteen_concurrent_challenges_with_the_same_right_code_approve_once(
    twilio: Client, api_server: ApiServer
) -> None:
    core_specs.sixteen_right_totp_codes_approve_once(twilio, [api_server.url])


def test_sixty_concurrent_wrong_answers_count_exactly_five(
    twilio: Client, api_server: ApiServer
) -> None:
    core_specs.sixty_wrong_totp_answers_count_exactly_five(twilio, [api_server.url])
