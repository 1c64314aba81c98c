"""TOTP factors accept the codes an authenticator app shows, for every algorithm, time step,
code length and skew Twilio allows, and no others (issue 11, items 2 and 8).

The codes come from Debian's oathtool or from RFC 6238 as written in tests/support/totp.py,
and the RFC's own Appendix B vectors go through `Binding.Secret`; the server's clock is moved
by the test (tests/support/clocked_server.py), never waited for."""

from __future__ import annotations

import urllib.parse

import pytest
import requests
from twilio.rest import Client

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.e2e.mfa.conftest import (
    IDENTITY,
    NOW,
    at,
    create_entity,
    create_factor,
    create_service,
    enrolled,
    secret_for,
)
from tests.support.clocked_server import ClockedServer
from tests.support.fakes import FixedClock
from tests.support.totp import ALGORITHMS, RFC6238_SEEDS, RFC6238_VECTORS, Totp, base32

# A wrong code is no error and leaves the challenge pending (answerable again, within the
# wrong-code limit): Twilio's behaviour since "Verify TOTP: Change in API response when
# AuthPayload is incorrect" (twilio.com/docs/verify/quickstarts/, October 2021).
WRONG_CODE = "pending"

VECTORS = [
    pytest.param(alg, when, row[1 + index], id=f"{alg}-T{when}")
    for row in RFC6238_VECTORS
    for index, alg in enumerate(ALGORITHMS)
    for when in [row[0]]
]


@pytest.mark.parametrize(("alg", "when", "code"), VECTORS)
def test_the_rfc_6238_test_vectors_verify_a_factor_with_that_seed(
    client: Client, server_clock: FixedClock, alg: str, when: int, code: str
) -> None:
    """RFC 6238 Appendix B: a factor whose Binding.Secret is the RFC's seed, 30 s steps and
    8 digits, with no skew, is verified at time T by exactly the RFC's code."""
    service_sid = create_service(client)
    at(server_clock, when)
    factor = create_factor(
        client, service_sid, Totp(base32(RFC6238_SEEDS[alg]), 30, 8, alg), skew=0
    )
    assert factor.verify(code) == "verified"


@pytest.mark.parametrize("alg", ALGORITHMS)
@pytest.mark.parametrize("time_step", [20, 30, 60])
@pytest.mark.parametrize("digits", [3, 6, 8])
def test_a_factor_takes_the_codes_of_its_algorithm_time_step_and_length(
    client: Client, server_clock: FixedClock, alg: str, time_step: int, digits: int
) -> None:
    """Config.Alg, Config.TimeStep and Config.CodeLength are echoed in `config`; the code of
    now verifies the factor; one step later that step's code approves a challenge, and a code
    from outside the skew window does not (the challenge stays `pending`, WRONG_CODE)."""
    service_sid = create_service(client)
    base = Totp("", time_step, digits, alg)
    first = NOW // time_step
    secret = secret_for(f"{alg}/{time_step}/{digits}", base, range(first - 1, first + 5))
    totp = Totp(secret, time_step, digits, alg)
    factor = create_factor(client, service_sid, totp)
    fetched = factor.entity.factors(factor.sid).fetch()
    assert fetched.config == {
        "alg": alg,
        "time_step": time_step,
        "code_length": digits,
        "skew": 1,
    }
    assert factor.verify(totp.at_step(first)) == "verified"

    at(server_clock, (first + 1) * time_step)
    assert factor.challenge(totp.at_step(first + 4)) == WRONG_CODE
    assert factor.challenge(totp.at_step(first + 1)) == "approved"


SKEW_CASES = [pytest.param(skew, id=f"skew{skew}") for skew in (0, 1, 2)]


@pytest.mark.parametrize("skew", SKEW_CASES)
def test_a_challenge_takes_codes_up_to_skew_steps_either_side_and_no_further(
    client: Client, server_clock: FixedClock, skew: int
) -> None:
    """With Config.Skew=k, at step s: codes of steps s-k-1 and s+k+1 are wrong codes (the
    challenge stays pending), codes of steps s-k and s+k approve (in that order: a later step,
    once accepted, closes the earlier ones)."""
    service_sid = create_service(client)
    first = NOW // 30
    now_step = first + 10
    probe = Totp("", 30, 6, "sha1")
    window = range(now_step - skew - 1, now_step + skew + 2)
    totp = Totp(secret_for(f"skew{skew}", probe, window), 30, 6, "sha1")
    factor = enrolled(client, server_clock, service_sid, totp, skew=skew)
    at(server_clock, now_step * 30 + 15)  # the middle of step s

    assert factor.challenge(totp.at_step(now_step - skew - 1)) == WRONG_CODE
    assert factor.challenge(totp.at_step(now_step + skew + 1)) == WRONG_CODE
    assert factor.challenge(totp.at_step(now_step - skew)) == "approved"
    if skew:
        assert factor.challenge(totp.at_step(now_step + skew)) == "approved"


@pytest.mark.parametrize("skew", SKEW_CASES)
def test_factor_verification_takes_codes_up_to_skew_steps_either_side_and_no_further(
    client: Client, server_clock: FixedClock, skew: int
) -> None:
    """The same window verifies a factor: steps s±(k+1) leave it unverified, step s-k
    verifies it."""
    service_sid = create_service(client)
    now_step = NOW // 30
    probe = Totp("", 30, 6, "sha1")
    window = range(now_step - skew - 1, now_step + skew + 2)
    totp = Totp(secret_for(f"verify-skew{skew}", probe, window), 30, 6, "sha1")
    factor = create_factor(client, service_sid, totp, skew=skew)
    at(server_clock, now_step * 30 + 15)

    assert factor.verify(totp.at_step(now_step - skew - 1)) == "unverified"
    assert factor.verify(totp.at_step(now_step + skew + 1)) == "unverified"
    assert factor.verify(totp.at_step(now_step - skew)) == "verified"


def test_a_new_factor_takes_twilios_defaults_without_service_totp_settings(
    client: Client,
) -> None:
    """Without Config.* nor the service's Totp.*: sha1, 30 s, 6 digits, skew 1, unverified,
    and a generated Base32 secret of at least 160 bits (RFC 4226 recommends 160)."""
    service_sid = create_service(client)
    create_entity(client, service_sid)
    created = (
        client.verify.v2.services(service_sid)
        .entities(IDENTITY)
        .new_factors.create(friendly_name="Ann's phone", factor_type="totp")
    )
    assert created.config == {"alg": "sha1", "time_step": 30, "code_length": 6, "skew": 1}
    assert (created.status, created.factor_type) == ("unverified", "totp")
    secret = created.binding["secret"]
    assert set(secret) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    assert len(secret) * 5 >= 160


def test_a_new_factor_takes_the_services_totp_settings_as_defaults(
    client: Client, server_clock: FixedClock
) -> None:
    """The service's Totp.TimeStep, CodeLength and Skew are a new factor's defaults (and
    what its URI says); codes of that length and step verify it."""
    service_sid = create_service(
        client, totp_issuer="Acme Login", totp_time_step=60, totp_code_length=8, totp_skew=2
    )
    create_entity(client, service_sid)
    created = (
        client.verify.v2.services(service_sid)
        .entities(IDENTITY)
        .new_factors.create(friendly_name="Ann's phone", factor_type="totp")
    )
    assert created.config == {"alg": "sha1", "time_step": 60, "code_length": 8, "skew": 2}
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(created.binding["uri"]).query)
    assert (query["digits"], query["period"]) == (["8"], ["60"])
    totp = Totp(created.binding["secret"], 60, 8, "sha1")
    entity = client.verify.v2.services(service_sid).entities(IDENTITY)
    # Two steps back is inside a skew of 2 (and outside the default skew of 1).
    entity.factors(created.sid).update(auth_payload=totp.at(NOW - 120))
    assert entity.factors(created.sid).fetch().status == "verified"


def test_a_factors_own_config_overrides_the_services_totp_settings(client: Client) -> None:
    service_sid = create_service(client, totp_time_step=60, totp_code_length=8, totp_skew=2)
    create_entity(client, service_sid)
    created = (
        client.verify.v2.services(service_sid)
        .entities(IDENTITY)
        .new_factors.create(
            friendly_name="Ann's phone",
            factor_type="totp",
            config_time_step=20,
            config_code_length=4,
            config_skew=0,
            config_alg="sha512",
        )
    )
    assert created.config == {"alg": "sha512", "time_step": 20, "code_length": 4, "skew": 0}


@pytest.mark.parametrize(
    ("issuer", "expected_issuer"),
    [("Acme Login", "Acme Login"), (None, "Acme")],
    ids=["Totp.Issuer", "service-friendly-name"],
)
def test_the_otpauth_uri_names_the_factor_and_carries_its_parameters(
    client: Client, server_clock: FixedClock, issuer: str | None, expected_issuer: str
) -> None:
    """binding.uri is otpauth://totp/<issuer>:<friendly name>?secret&issuer&algorithm&digits
    &period (issuer: Totp.Issuer, else the service's friendly name); an app that reads only
    the URI computes codes the factor accepts."""
    service_sid = create_service(client, **({"totp_issuer": issuer} if issuer else {}))
    create_entity(client, service_sid)
    created = (
        client.verify.v2.services(service_sid)
        .entities(IDENTITY)
        .new_factors.create(
            friendly_name="Ann's phone",
            factor_type="totp",
            config_alg="sha256",
            config_code_length=7,
            config_time_step=60,
        )
    )
    uri = urllib.parse.urlsplit(created.binding["uri"])
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert urllib.parse.unquote(uri.path) == f"/{expected_issuer}:Ann's phone"
    query = urllib.parse.parse_qs(uri.query, strict_parsing=True)
    assert query == {
        "secret": [created.binding["secret"]],
        "issuer": [expected_issuer],
        "algorithm": ["SHA256"],
        "digits": ["7"],
        "period": ["60"],
    }

    from_uri = Totp(query["secret"][0], int(query["period"][0]), 7, "sha256")
    entity = client.verify.v2.services(service_sid).entities(IDENTITY)
    entity.factors(created.sid).update(auth_payload=from_uri.at(NOW))
    assert entity.factors(created.sid).fetch().status == "verified"


def test_the_secret_is_returned_on_create_only(
    client: Client, clocked_server: ClockedServer
) -> None:
    """`binding` (secret and URI) is in the create answer and nowhere after: not in a fetch,
    a list, or an update's answer."""
    service_sid = create_service(client)
    totp = Totp(secret_for("once"))
    factor = create_factor(client, service_sid, totp)
    base = f"{clocked_server.url}/v2/Services/{service_sid}/Entities/{IDENTITY}/Factors"
    auth = (ACCOUNT_SID, AUTH_TOKEN)
    answers = [
        requests.get(f"{base}/{factor.sid}", auth=auth, timeout=30),
        requests.get(base, auth=auth, timeout=30),
        requests.post(f"{base}/{factor.sid}", data={"FriendlyName": "Ann"}, auth=auth, timeout=30),
    ]
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert totp.secret not in answer.text
        assert "binding" not in answer.text
        assert "otpauth" not in answer.text
