"""Delivery receipts and the per-attempt delivery status, on real Redis with real providers
pointed at the HTTP stand-in.

A start is delivered by the app's worker through a `twilio://`, `vonage://` or `webhook+http://`
provider; the stand-in records the callback URL the provider was given; the test then posts
that provider's receipt to it: signed the provider's way (the `twilio` library's
`RequestValidator.compute_signature`, Vonage's `sig`, our webhook HMAC), or forged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from twilio.request_validator import RequestValidator
from werkzeug.test import TestResponse

from tests.conftest import Api, deliver_queued
from tests.support.fakes import START_MS, FixedClock
from tests.support.standin_http import StandinHttp
from verify_service.adapters.delivery.providers.registry import (
    ManagedProvider,
    build_providers,
    close_providers,
    parse_provider_list,
)
from verify_service.adapters.delivery.receipts import vonage_signature
from verify_service.app import create_app
from verify_service.domain.models import Channel
from verify_service.settings import Settings

TO = "+14155552671"
EMAIL = "ada@example.com"
PUBLIC = "https://verify.example.test"
TWILIO_SID = "AC" + "5eed" * 8
TWILIO_TOKEN = "twilio-standin-token-0123456789"
OTHER_TOKEN = "another-twilio-token-0123456789"
VONAGE_KEY = "a1b2c3d4"
VONAGE_SECRET = "vonage-api-secret"
VONAGE_SIGNATURE_SECRET = "vonage-signature-secret-0123"
WEBHOOK_SECRET = "whsec-receipts-0123456789"
UNKNOWN_ATTEMPT = "VL" + "0" * 32
ATTEMPT_FIELDS = {
    "attempt_sid",
    "verification_sid",
    "service_sid",
    "channel",
    "status",
    "provider",
    "messaging_service_sid",
    "provider_message_id",
    "error_code",
    "date_created",
    "date_updated",
    "date_sent",
    "date_delivered",
    "url",
}


@pytest.fixture
def standin() -> Iterator[StandinHttp]:
    with StandinHttp(twilio_credentials=(TWILIO_SID, TWILIO_TOKEN)) as server:
        yield server


MakeApp = Callable[..., Flask]


@pytest.fixture
def make_app(
    settings: Settings, redis_client: redis.Redis, clock: FixedClock, standin: StandinHttp
) -> Iterator[MakeApp]:
    """An app whose channels use the given DSN lists (`{standin}` is the stand-in's
    host:port); its providers are built once and closed at the end."""
    built: list[dict[Channel, list[ManagedProvider]]] = []

    def make(public_url: str | None = PUBLIC, **dsns: str) -> Flask:
        configured = replace(settings, public_url=public_url)
        for channel in Channel:
            value = dsns.get(channel.value)
            if value is not None:
                configs = parse_provider_list(channel, value.format(standin=standin.netloc))
                configured = replace(configured, **{f"{channel.value}_providers": configs})
        providers = {
            channel: build_providers(channel, configured.providers_for(channel))
            for channel in Channel
        }
        built.append(providers)
        return create_app(configured, clock=clock, providers=providers)

    yield make
    for providers in built:
        close_providers(providers)


TWILIO_DSN = f"twilio+http://{TWILIO_SID}:{TWILIO_TOKEN}@{{standin}}?from=+15005550006"
VONAGE_DSN = (
    f"vonage+http://{VONAGE_KEY}:{VONAGE_SECRET}@{{standin}}?from=Acme"
    f"&signature_secret={VONAGE_SIGNATURE_SECRET}"
)
WEBHOOK_DSN = f"webhook+http://{{standin}}/send?secret={WEBHOOK_SECRET}"


@pytest.fixture
def twilio_app(make_app: MakeApp) -> Flask:
    return make_app(sms=TWILIO_DSN, call=TWILIO_DSN, email=WEBHOOK_DSN)


@pytest.fixture
def api(twilio_app: Flask) -> Api:
    return Api(twilio_app.test_client())


def start(api: Api, to: str = TO, channel: str = "sms") -> tuple[str, str, str]:
    """Start and deliver; (service sid, verification sid, attempt sid)."""
    service = api.create_service()
    response = api.start(service, to=to, channel=channel)
    assert response.status_code == 201, response.json
    body: Any = response.json
    return service, body["sid"], body["send_code_attempts"][-1]["attempt_sid"]


def attempt(api: Api, attempt_sid: str) -> dict[str, Any]:
    response = api.get(f"/v2/DeliveryAttempts/{attempt_sid}")
    assert response.status_code == 200, response.json
    body: dict[str, Any] = response.json  # type: ignore[assignment]
    return body


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


# -- Twilio ---------------------------------------------------------------------------------


def twilio_post(
    client: FlaskClient,
    url: str,
    params: dict[str, str],
    token: str | None = TWILIO_TOKEN,
    signature: str | None = None,
    sign_params: dict[str, str] | None = None,
) -> TestResponse:
    """POST a status callback as Twilio would, signed with `token` over `sign_params`
    (default: the params sent); `signature` replaces it outright."""
    headers = {}
    if signature is None and token is not None:
        signature = RequestValidator(token).compute_signature(url, sign_params or params)
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    return client.post(path_of(url), data=params, headers=headers)


def message_callback(sid: str, status: str, **extra: str) -> dict[str, str]:
    return {
        "AccountSid": TWILIO_SID,
        "MessageSid": sid,
        "SmsSid": sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "To": TO,
        "From": "+15005550006",
        "ApiVersion": "2010-04-01",
        **extra,
    }


def twilio_sent(standin: StandinHttp) -> tuple[str, str]:
    """The StatusCallback URL and the message sid of the last Twilio request."""
    request, reply = standin.requests[-1], standin.replies[-1]
    return request.form["StatusCallback"], reply["sid"]


def test_the_worker_gives_twilio_the_receipt_url_of_the_attempt(
    api: Api, standin: StandinHttp
) -> None:
    """StatusCallback is {VERIFY_PUBLIC_URL}/v2/DeliveryReceipts/Twilio/{VL}."""
    _, _, attempt_sid = start(api)
    callback, message_sid = twilio_sent(standin)
    assert callback == f"{PUBLIC}/v2/DeliveryReceipts/Twilio/{attempt_sid}"
    record = attempt(api, attempt_sid)
    assert record["status"] == "sent"
    assert record["provider_message_id"] == message_sid
    assert record["provider"] == f"twilio+http://{standin.netloc}"


def test_without_a_public_url_no_callback_is_given(make_app: MakeApp, standin: StandinHttp) -> None:
    """A provider cannot reach a host we do not know: no VERIFY_PUBLIC_URL, no receipts."""
    app = make_app(public_url=None, sms=TWILIO_DSN)
    start(Api(app.test_client()))
    assert "StatusCallback" not in standin.requests[-1].form


def test_a_signed_twilio_receipt_moves_the_attempt_to_delivered(
    api: Api, standin: StandinHttp, clock: FixedClock
) -> None:
    """Signed with the provider's auth token → 204, delivered, with its time."""
    _, _, attempt_sid = start(api)
    callback, sid = twilio_sent(standin)
    clock.advance(7)

    response = twilio_post(api.client, callback, message_callback(sid, "delivered"))

    assert response.status_code == 204
    record = attempt(api, attempt_sid)
    assert record["status"] == "delivered"
    assert record["error_code"] is None
    assert record["date_delivered"] == record["date_updated"]
    assert record["date_delivered"] != record["date_sent"]


def test_receipts_take_no_basic_auth_and_the_rest_still_does(
    api: Api, standin: StandinHttp
) -> None:
    """Receipt routes are exempt from HTTP Basic (the signature is their authentication);
    every other route still answers 401 without credentials."""
    _, _, attempt_sid = start(api)
    callback, sid = twilio_sent(standin)
    client = api.client
    assert twilio_post(client, callback, message_callback(sid, "sent")).status_code == 204
    assert client.get(f"/v2/DeliveryAttempts/{attempt_sid}").status_code == 401
    # A GET on a receipt path is no receipt route: credentials first, as everywhere.
    assert client.get(path_of(callback)).status_code == 401


@pytest.mark.parametrize(
    "forge",
    ["forged signature", "no signature", "wrong token", "altered params", "other url"],
)
def test_badly_signed_twilio_receipts_are_refused_and_change_nothing(
    api: Api, standin: StandinHttp, forge: str
) -> None:
    _, _, attempt_sid = start(api)
    callback, sid = twilio_sent(standin)
    params = message_callback(sid, "delivered")
    before = attempt(api, attempt_sid)
    if forge == "forged signature":
        response = twilio_post(
            api.client, callback, params, signature=base64.b64encode(b"x" * 20).decode()
        )
    elif forge == "no signature":
        response = twilio_post(api.client, callback, params, token=None)
    elif forge == "wrong token":
        response = twilio_post(api.client, callback, params, token=OTHER_TOKEN)
    elif forge == "altered params":
        signed = message_callback(sid, "undelivered")
        response = twilio_post(api.client, callback, params, sign_params=signed)
    else:
        # A valid signature for another attempt's URL, replayed against this one.
        other = callback.replace(attempt_sid, UNKNOWN_ATTEMPT)
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(other, params)
        response = twilio_post(api.client, callback, params, signature=signature)

    assert response.status_code == 403
    assert response.json == {
        "code": 20003,
        "message": "Permission Denied",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 403,
    }
    assert attempt(api, attempt_sid) == before


def test_a_receipt_for_another_message_sid_is_refused(api: Api, standin: StandinHttp) -> None:
    """Correctly signed, but about another message than the one recorded: 403."""
    _, _, attempt_sid = start(api)
    callback, _ = twilio_sent(standin)
    response = twilio_post(api.client, callback, message_callback("SM" + "f" * 32, "failed"))
    assert response.status_code == 403
    assert attempt(api, attempt_sid)["status"] == "sent"


def test_a_receipt_for_another_account_is_refused(api: Api, standin: StandinHttp) -> None:
    _, _, attempt_sid = start(api)
    callback, sid = twilio_sent(standin)
    params = message_callback(sid, "delivered", AccountSid="AC" + "1" * 32)
    assert twilio_post(api.client, callback, params).status_code == 403
    assert attempt(api, attempt_sid)["status"] == "sent"


def test_a_receipt_for_an_unknown_attempt_is_404(api: Api) -> None:
    url = f"{PUBLIC}/v2/DeliveryReceipts/Twilio/{UNKNOWN_ATTEMPT}"
    response = twilio_post(api.client, url, message_callback("SM" + "a" * 32, "delivered"))
    assert response.status_code == 404
    assert response.json["code"] == 20404  # type: ignore[index]
    malformed = twilio_post(api.client, f"{PUBLIC}/v2/DeliveryReceipts/Twilio/VLnope", {})
    assert malformed.status_code == 404


def test_an_older_status_after_a_newer_one_does_not_move_it_back(
    api: Api, standin: StandinHttp, clock: FixedClock
) -> None:
    """Twilio's callbacks can arrive out of order, and be replayed: only forward moves count,
    and a final status (delivered, undelivered, failed) is final."""
    _, _, attempt_sid = start(api)
    callback, sid = twilio_sent(standin)
    clock.advance(5)
    assert twilio_post(api.client, callback, message_callback(sid, "delivered")).status_code == 204
    delivered = attempt(api, attempt_sid)
    clock.advance(5)
    for late in ("sent", "sending", "queued", "undelivered", "delivered"):
        assert twilio_post(api.client, callback, message_callback(sid, late)).status_code == 204
    assert attempt(api, attempt_sid) == delivered


def test_an_undelivered_receipt_records_twilios_error_code(api: Api, standin: StandinHttp) -> None:
    _, _, attempt_sid = start(api)
    callback, sid = twilio_sent(standin)
    params = message_callback(sid, "undelivered", ErrorCode="30003")
    assert twilio_post(api.client, callback, params).status_code == 204
    record = attempt(api, attempt_sid)
    assert (record["status"], record["error_code"]) == ("undelivered", "30003")
    assert record["date_delivered"] is None


@pytest.mark.parametrize(
    ("call_status", "expected"),
    [("completed", "delivered"), ("busy", "undelivered"), ("no-answer", "undelivered")],
)
def test_call_status_callbacks_map_to_our_statuses(
    api: Api, standin: StandinHttp, call_status: str, expected: str
) -> None:
    _, _, attempt_sid = start(api, channel="call")
    callback, call_sid = twilio_sent(standin)
    assert call_sid.startswith("CA")
    params = {"AccountSid": TWILIO_SID, "CallSid": call_sid, "CallStatus": call_status}
    assert twilio_post(api.client, callback, params).status_code == 204
    assert attempt(api, attempt_sid)["status"] == expected


def test_a_twilio_receipt_for_an_attempt_of_another_kind_is_refused(
    api: Api, standin: StandinHttp
) -> None:
    """The e-mail attempt went to the webhook gateway: no twilio:// provider serves e-mail,
    so no Twilio signature can be right for it."""
    _, _, attempt_sid = start(api, to=EMAIL, channel="email")
    url = f"{PUBLIC}/v2/DeliveryReceipts/Twilio/{attempt_sid}"
    response = twilio_post(api.client, url, message_callback("SM" + "a" * 32, "delivered"))
    assert response.status_code == 403
    assert attempt(api, attempt_sid)["status"] == "sent"


# -- Vonage ---------------------------------------------------------------------------------


def vonage_sig(secret: str, params: dict[str, str]) -> str:
    """Vonage's signed webhooks, SHA-256 HMAC, written out from Vonage's description."""
    text = "".join(
        "&" + key + "=" + value.replace("&", "_").replace("=", "_")
        for key, value in sorted(params.items())
    )
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest().upper()


def dlr(
    standin: StandinHttp, clock: FixedClock, status: str = "delivered", **extra: str
) -> tuple[str, dict[str, str]]:
    """The callback URL Vonage was given and a signed DLR for the last message."""
    request, reply = standin.requests[-1], standin.replies[-1]
    params = {
        "msisdn": TO.removeprefix("+"),
        "to": "Acme",
        "network-code": "23410",
        "messageId": reply["messages"][0]["message-id"],
        "price": "0.03330000",
        "status": status,
        "scts": "2609211200",
        "err-code": "0",
        "api-key": VONAGE_KEY,
        "client-ref": request.form["client-ref"],
        "message-timestamp": "2026-09-21 12:00:00",
        "timestamp": str(clock.now // 1000),
        "nonce": "a3e1c2b0-7d1f-4b1e-9a0c-1f2e3d4c5b6a",
        **extra,
    }
    params["sig"] = vonage_sig(VONAGE_SIGNATURE_SECRET, params)
    return request.form["callback"], params


@pytest.fixture
def vonage_api(make_app: MakeApp) -> Api:
    return Api(make_app(sms=VONAGE_DSN).test_client())


def test_vonage_signature_matches_vonages_own_test_vector() -> None:
    """md5hash with secret "secret" (the vector of Vonage's Python SDK tests)."""
    params = {"a": "1", "b": "2", "timestamp": "1461605396"}
    assert vonage_signature("secret", "md5hash", params) == "6af838ef94998832dbfc29020b564830"
    assert vonage_signature("secret", "sha256", params) == vonage_sig("secret", params).lower()


@pytest.mark.parametrize("method", ["GET", "POST form", "POST json"])
def test_a_signed_vonage_dlr_moves_the_attempt_to_delivered(
    vonage_api: Api, standin: StandinHttp, clock: FixedClock, method: str
) -> None:
    _, _, attempt_sid = start(vonage_api)
    callback, params = dlr(standin, clock)
    assert callback == f"{PUBLIC}/v2/DeliveryReceipts/Vonage/{attempt_sid}"
    client = vonage_api.client
    if method == "GET":
        response = client.get(path_of(callback), query_string=params)
    elif method == "POST form":
        response = client.post(path_of(callback), data=params)
    else:
        response = client.post(path_of(callback), json=params)
    assert response.status_code == 204
    record = attempt(vonage_api, attempt_sid)
    assert (record["status"], record["error_code"]) == ("delivered", None)


def test_a_rejected_vonage_dlr_records_failed_with_its_err_code(
    vonage_api: Api, standin: StandinHttp, clock: FixedClock
) -> None:
    _, _, attempt_sid = start(vonage_api)
    callback, params = dlr(standin, clock, status="rejected", **{"err-code": "6"})
    assert vonage_api.client.get(path_of(callback), query_string=params).status_code == 204
    record = attempt(vonage_api, attempt_sid)
    assert (record["status"], record["error_code"]) == ("failed", "6")


@pytest.mark.parametrize(
    "forge", ["unsigned", "bad sig", "altered", "stale timestamp", "other client-ref"]
)
def test_badly_signed_vonage_dlrs_are_refused(
    vonage_api: Api, standin: StandinHttp, clock: FixedClock, forge: str
) -> None:
    _, _, attempt_sid = start(vonage_api)
    callback, params = dlr(standin, clock)
    if forge == "unsigned":
        del params["sig"]
    elif forge == "bad sig":
        params["sig"] = vonage_sig("not-the-signature-secret", params)
    elif forge == "altered":
        params["status"] = "failed"
    elif forge == "stale timestamp":
        del params["sig"]
        params["timestamp"] = str(clock.now // 1000 - 3600)
        params["sig"] = vonage_sig(VONAGE_SIGNATURE_SECRET, params)
    else:
        # A signed DLR of another attempt, replayed to this attempt's URL.
        del params["sig"]
        params["client-ref"] = UNKNOWN_ATTEMPT
        params["sig"] = vonage_sig(VONAGE_SIGNATURE_SECRET, params)
    response = vonage_api.client.get(path_of(callback), query_string=params)
    assert response.status_code == 403
    assert response.json["code"] == 20003  # type: ignore[index]
    assert attempt(vonage_api, attempt_sid)["status"] == "sent"


def test_without_a_signature_secret_vonage_dlrs_are_refused(
    make_app: MakeApp, standin: StandinHttp, clock: FixedClock
) -> None:
    """No signature_secret= on the DSN: nothing can authenticate a DLR, so all are refused."""
    unsigned_dsn = f"vonage+http://{VONAGE_KEY}:{VONAGE_SECRET}@{{standin}}?from=Acme"
    api = Api(make_app(sms=unsigned_dsn).test_client())
    _, _, attempt_sid = start(api)
    callback, params = dlr(standin, clock)
    assert api.client.get(path_of(callback), query_string=params).status_code == 403
    assert attempt(api, attempt_sid)["status"] == "sent"


# -- webhook --------------------------------------------------------------------------------


def webhook_post(
    client: FlaskClient,
    url: str,
    document: dict[str, Any],
    clock: FixedClock,
    secret: str = WEBHOOK_SECRET,
    raw: bytes | None = None,
) -> TestResponse:
    """`document` signed and posted as the gateway would (`raw`: these bytes instead)."""
    body = json.dumps(document).encode() if raw is None else raw
    timestamp = str(clock.now // 1000)
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    headers = {
        "Content-Type": "application/json",
        "X-Verify-Timestamp": timestamp,
        "X-Verify-Signature": "sha256=" + digest.hexdigest(),
    }
    return client.post(path_of(url), data=body, headers=headers)


def test_a_signed_webhook_receipt_moves_the_attempt(
    api: Api, standin: StandinHttp, clock: FixedClock
) -> None:
    _, _, attempt_sid = start(api, to=EMAIL, channel="email")
    request, reply = standin.requests[-1], standin.replies[-1]
    callback = request.json["status_callback_url"]
    assert callback == f"{PUBLIC}/v2/DeliveryReceipts/Webhook/{attempt_sid}"
    document = {
        "attempt_sid": attempt_sid,
        "status": "undelivered",
        "provider_message_id": reply["id"],
        "error_code": 550,
    }
    assert webhook_post(api.client, callback, document, clock).status_code == 204
    record = attempt(api, attempt_sid)
    assert (record["status"], record["error_code"]) == ("undelivered", "550")
    assert record["provider_message_id"] == reply["id"]


@pytest.mark.parametrize("forge", ["wrong secret", "other attempt", "other message"])
def test_badly_signed_or_misdirected_webhook_receipts_are_refused(
    api: Api, standin: StandinHttp, clock: FixedClock, forge: str
) -> None:
    _, _, attempt_sid = start(api, to=EMAIL, channel="email")
    callback = standin.requests[-1].json["status_callback_url"]
    document = {"attempt_sid": attempt_sid, "status": "delivered"}
    secret = WEBHOOK_SECRET
    if forge == "wrong secret":
        secret = "whsec-not-the-one-0123456789"
    elif forge == "other attempt":
        document["attempt_sid"] = UNKNOWN_ATTEMPT
    else:
        document["provider_message_id"] = "wh_someone_else"
    response = webhook_post(api.client, callback, document, clock, secret=secret)
    assert response.status_code == 403
    assert attempt(api, attempt_sid)["status"] == "sent"


def test_an_unsigned_webhook_receipt_is_refused(api: Api, standin: StandinHttp) -> None:
    _, _, attempt_sid = start(api, to=EMAIL, channel="email")
    callback = standin.requests[-1].json["status_callback_url"]
    response = api.client.post(
        path_of(callback), json={"attempt_sid": attempt_sid, "status": "delivered"}
    )
    assert response.status_code == 403
    assert attempt(api, attempt_sid)["status"] == "sent"


def test_a_signed_but_malformed_webhook_receipt_is_400(
    api: Api, standin: StandinHttp, clock: FixedClock
) -> None:
    _, _, attempt_sid = start(api, to=EMAIL, channel="email")
    callback = standin.requests[-1].json["status_callback_url"]
    document = {"attempt_sid": attempt_sid, "status": "read-by-the-cat"}
    response = webhook_post(api.client, callback, document, clock)
    assert response.status_code == 400
    assert response.json["code"] == 60200  # type: ignore[index]
    assert attempt(api, attempt_sid)["status"] == "sent"


def test_a_signed_webhook_receipt_giving_a_key_twice_is_400_naming_it(
    api: Api, standin: StandinHttp, clock: FixedClock
) -> None:
    """Signed, but ambiguous: the gateway's parser may have meant the first `status`, ours
    would read the last. Refused as every caller's JSON is (domain/json_input.py)."""
    _, _, attempt_sid = start(api, to=EMAIL, channel="email")
    callback = standin.requests[-1].json["status_callback_url"]
    raw = f'{{"attempt_sid": "{attempt_sid}", "status": "failed", "status": "delivered"}}'
    response = webhook_post(api.client, callback, {}, clock, raw=raw.encode())
    assert (response.status_code, response.json["code"]) == (400, 60200)  # type: ignore[index]
    assert response.json["message"] == (  # type: ignore[index]
        "Invalid parameter: status (a key given more than once in one object)"
    )
    assert attempt(api, attempt_sid)["status"] == "sent"
    assert webhook_post(api.client, callback, json.loads(raw), clock).status_code == 204
    assert attempt(api, attempt_sid)["status"] == "delivered"


# -- the extension endpoints ----------------------------------------------------------------


def test_delivery_attempts_lists_every_send_without_the_destination(
    api: Api, standin: StandinHttp, clock: FixedClock
) -> None:
    service, verification_sid, first = start(api)
    resend = api.start(service, to=TO, channel="call")
    second = resend.json["send_code_attempts"][-1]["attempt_sid"]  # type: ignore[index]
    callback, sid = twilio_sent(standin)
    clock.advance(3)
    call = {"AccountSid": TWILIO_SID, "CallSid": sid, "CallStatus": "completed"}
    assert twilio_post(api.client, callback, call).status_code == 204

    list_url = f"/v2/Services/{service}/Verifications/{verification_sid}/DeliveryAttempts"
    response = api.get(list_url)

    assert response.status_code == 200
    body: Any = response.json
    assert body["meta"] == {"key": "delivery_attempts", "url": PUBLIC + list_url}
    attempts = body["delivery_attempts"]
    assert [a["attempt_sid"] for a in attempts] == [first, second]
    assert all(set(a) == ATTEMPT_FIELDS for a in attempts)
    assert [(a["channel"], a["status"]) for a in attempts] == [
        ("sms", "sent"),
        ("call", "delivered"),
    ]
    assert attempts[1] == {
        "attempt_sid": second,
        "verification_sid": verification_sid,
        "service_sid": service,
        "channel": "call",
        "status": "delivered",
        "provider": f"twilio+http://{standin.netloc}",
        "messaging_service_sid": None,
        "provider_message_id": sid,
        "error_code": None,
        "date_created": "2026-09-21T14:13:20Z",
        "date_updated": "2026-09-21T14:13:23Z",
        "date_sent": "2026-09-21T14:13:20Z",
        "date_delivered": "2026-09-21T14:13:23Z",
        "url": f"{PUBLIC}/v2/DeliveryAttempts/{second}",
    }
    assert TO not in response.get_data(as_text=True)
    assert TO.removeprefix("+") not in response.get_data(as_text=True)


def test_one_attempt_stays_readable_after_its_verification_ended(api: Api) -> None:
    service, verification_sid, attempt_sid = start(api)
    assert api.update(service, verification_sid, "canceled").status_code == 200

    list_url = f"/v2/Services/{service}/Verifications/{verification_sid}/DeliveryAttempts"
    assert api.get(list_url).status_code == 404
    record = attempt(api, attempt_sid)
    assert (record["verification_sid"], record["status"]) == (verification_sid, "sent")


def test_unknown_or_malformed_attempts_are_404(api: Api) -> None:
    for sid in (UNKNOWN_ATTEMPT, "VLnot-a-sid", "VE" + "0" * 32):
        response = api.get(f"/v2/DeliveryAttempts/{sid}")
        assert response.status_code == 404
        assert response.json["code"] == 20404  # type: ignore[index]
    service = api.create_service()
    response = api.get(f"/v2/Services/{service}/Verifications/VE{'0' * 32}/DeliveryAttempts")
    assert response.status_code == 404


def test_an_undelivered_receipt_sends_the_fallback_channel_at_once(
    api: Api, standin: StandinHttp, clock: FixedClock
) -> None:
    """Fallback does not wait for its timeout when the provider reports the SMS undelivered."""
    service = api.create_service()
    updated = api.post(
        f"/v2/Services/{service}", FallbackChannels="call", FallbackAfterSeconds="600"
    )
    assert updated.status_code == 200, updated.json
    response = api.start(service, to=TO)
    body: Any = response.json
    callback, sid = twilio_sent(standin)
    assert (
        twilio_post(api.client, callback, message_callback(sid, "undelivered")).status_code == 204
    )

    deliver_queued(api.client.application)  # the clock has not moved: only the receipt acts
    fetched: Any = api.fetch(service, body["sid"]).json
    assert [a["channel"] for a in fetched["send_code_attempts"]] == ["SMS", "CALL"]
    assert fetched["channel"] == "call"
    assert clock.now_ms() == START_MS
