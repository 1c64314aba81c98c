"""An attacker with an admin credential (or a stolen one) tries to point a webhook at
something only the server can reach (SSRF). Every such URL is refused when the webhook is
saved, on create and on update, with a 400 naming WebhookUrl and never echoing the URL, and
nothing is stored. The operator's allow-list (VERIFY_WEBHOOK_ALLOWED_NETWORKS) admits exactly
what it names: a receiver on loopback over plain http, nothing else."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest
import redis
import requests
from twilio.rest import Client

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.e2e.webhooks.conftest import PUBLIC_URL, create_service, snapshot
from tests.support.clocked_server import ClockedServer

ATTACKS = {
    "cloud metadata": "https://169.254.169.254/latest/meta-data/iam/",
    "cloud metadata over http": "http://169.254.169.254/latest/meta-data/",
    "metadata by a name": "https://metadata.example.com/latest/meta-data/",
    "metadata as one decimal": "https://2852039166/",
    "metadata in octal": "https://0251.0376.0251.0376/",
    "RFC 1918 10/8": "https://10.0.0.1/hook",
    "RFC 1918 172.16/12": "https://172.16.5.4/hook",
    "RFC 1918 192.168/16": "https://192.168.1.1/hook",
    "RFC 1918 by a name": "https://private.example.com/hook",
    "CGNAT": "https://100.64.0.1/hook",
    "CGNAT by a name": "https://cgnat.example.com/hook",
    "loopback http": "http://127.0.0.1:8080/hook",
    "loopback https": "https://127.0.0.1/hook",
    "loopback short": "http://127.1/",
    "loopback decimal": "http://2130706433/",
    "loopback hex parts": "http://0x7f.1/",
    "loopback hex": "http://0x7f000001/",
    "loopback octal": "http://017700000001/",
    "loopback trailing dot": "http://127.0.0.1./",
    "IPv6 loopback": "https://[::1]/",
    "IPv4-mapped loopback": "https://[::ffff:127.0.0.1]/",
    "IPv4-mapped metadata": "https://[::ffff:a9fe:a9fe]/",
    "IPv6 link-local": "https://[fe80::1]/",
    "IPv6 unique-local": "https://[fd00::1]/",
    "unspecified": "https://0.0.0.0/",
    "IPv6 unspecified": "https://[::]/",
    "multicast": "https://224.0.0.1/",
    "localhost over http": "http://localhost:8080/hook",
    "localhost over https": "https://localhost/hook",
    "localhost trailing dot": "https://localhost./hook",
    "a name answering loopback too": "https://rebind.example.com/hook",
    "a name answering mapped loopback": "https://mapped.example.com/hook",
    "http to a public name": "http://hooks.example.com/hook",
    "http to a public address": "http://93.184.216.34/hook",
    "user and password": "https://user:secret@hooks.example.com/hook",
    "user before a private host": "https://hooks.example.com@127.0.0.1/hook",
    "file scheme": "file:///etc/passwd",
    "gopher to Redis": "gopher://127.0.0.1:6379/_FLUSHALL",
    "dict scheme": "dict://127.0.0.1:6379/info",
    "ftp scheme": "ftp://hooks.example.com/",
    "no scheme": "//hooks.example.com/hook",
    "a name that does not resolve": "https://nowhere.invalid/hook",
    "a path not in ASCII": "https://hooks.example.com/café",
    "a NEL in the path": "https://hooks.example.com/a\x85b",
    "a line separator in the path": "https://hooks.example.com/a\u2028b",
}


@pytest.fixture
def existing(client: Client) -> tuple[str, str]:
    service_sid = create_service(client)
    webhook = client.verify.v2.services(service_sid).webhooks.create(
        friendly_name="Owl Bank", event_types=["*"], webhook_url=PUBLIC_URL
    )
    return service_sid, str(webhook.sid)


@pytest.mark.parametrize("operation", ["create", "update"])
@pytest.mark.parametrize("url", ATTACKS.values(), ids=ATTACKS.keys())
def test_an_unsafe_target_is_refused_when_saved(
    plain_server: ClockedServer,
    redis_client: redis.Redis,
    existing: tuple[str, str],
    operation: str,
    url: str,
) -> None:
    service_sid, webhook_sid = existing
    base = f"{plain_server.url}/v2/Services/{service_sid}/Webhooks"
    form = (
        {"FriendlyName": "x", "EventTypes": "*", "WebhookUrl": url}
        if operation == "create"
        else {"WebhookUrl": url}
    )
    before = snapshot(redis_client)
    response = requests.post(
        base if operation == "create" else f"{base}/{webhook_sid}",
        data=form,
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=30,
    )
    body = response.json()
    assert (response.status_code, body["code"]) == (400, 60200)
    assert body["message"].startswith("Invalid parameter: WebhookUrl")
    assert url not in body["message"]
    assert snapshot(redis_client) == before


@pytest.fixture
def receiver() -> Iterator[int]:
    """A plain http receiver on loopback (what a sidecar or a local relay would be)."""

    class Accept(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Accept)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_the_allow_list_admits_a_loopback_http_receiver(
    loopback_client: Client, loopback_server: ClockedServer, receiver: int
) -> None:
    """With 127.0.0.0/8 and ::1 allowed, http to loopback (any spelling) is saved."""
    service_sid = create_service(loopback_client)
    webhooks = loopback_client.verify.v2.services(service_sid).webhooks
    for url in (
        f"http://127.0.0.1:{receiver}/hook",
        f"http://localhost:{receiver}/hook",
        f"http://127.1:{receiver}/hook",
        f"https://[::1]:{receiver}/hook",
    ):
        created = webhooks.create(friendly_name="local", event_types=["*"], webhook_url=url)
        assert created.webhook_url == url
    assert requests.post(f"http://127.0.0.1:{receiver}/hook", timeout=5).status_code == 204


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/",
        "https://10.0.0.1/",
        "http://hooks.example.com/",
        "http://93.184.216.34/",
        "https://metadata.example.com/",
    ],
)
def test_the_allow_list_opens_only_what_it_names(
    loopback_client: Client, loopback_server: ClockedServer, url: str
) -> None:
    """Loopback allowed does not open the metadata address, RFC 1918 or plain http elsewhere."""
    service_sid = create_service(loopback_client)
    response = requests.post(
        f"{loopback_server.url}/v2/Services/{service_sid}/Webhooks",
        data={"FriendlyName": "x", "EventTypes": "*", "WebhookUrl": url},
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=30,
    )
    assert (response.status_code, response.json()["code"]) == (400, 60200)


def test_a_public_name_whose_answers_are_all_public_is_saved(client: Client) -> None:
    """The DNS check refuses by address, not by name: a public name is fine."""
    service_sid = create_service(client)
    created = client.verify.v2.services(service_sid).webhooks.create(
        friendly_name="named", event_types=["*"], webhook_url="https://hooks.example.com/h?x=1"
    )
    assert created.webhook_url == "https://hooks.example.com/h?x=1"
