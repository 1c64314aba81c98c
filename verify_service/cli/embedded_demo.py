"""What `serve` sets up on the embedded store (`make run`) so a newcomer can try everything
at once: a "Demo" service, a console admin with a password made for this run, and the banner
that prints them beside the API credentials and ready-to-paste examples.

The password is random (never a fixed demo password) and lives only as long as the process;
the embedded console serves loopback clients only unless `VERIFY_CONSOLE_SECURE_COOKIE=true`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from verify_service.app import Container, build_staff_users
from verify_service.cli.common import audit_cli
from verify_service.domain.keyring import Keyring
from verify_service.settings import Settings

DEMO_SERVICE_NAME = "Demo"
DEMO_CONSOLE_USER = "admin"
# 18 random bytes: 24 URL-safe characters (the console asks for at least 12).
DEMO_PASSWORD_BYTES = 18


@dataclass(frozen=True, slots=True)
class EmbeddedDemo:
    service_sid: str
    console_user: str
    console_password: str = field(repr=False)  # printed once, in the banner only


def create_demo(container: Container) -> EmbeddedDemo:
    """The Demo service and the console admin, in the embedded store before the fork."""
    service = container.catalog.create({"friendly_name": DEMO_SERVICE_NAME})
    password = secrets.token_urlsafe(DEMO_PASSWORD_BYTES)
    build_staff_users(container).add(DEMO_CONSOLE_USER, password, "admin")
    audit_cli(container, "users.add", DEMO_CONSOLE_USER, "ok")
    return EmbeddedDemo(service.sid, DEMO_CONSOLE_USER, password)


def embedded_banner(settings: Settings, demo: EmbeddedDemo, base: str) -> str:
    # Print the token only when it was generated here; one the operator set stays unprinted.
    token = (
        f"{settings.auth_token}   (generated for this run)"
        if settings.generated_auth_token
        else "(the value of VERIFY_AUTH_TOKEN)"
    )
    example_token = settings.auth_token if settings.generated_auth_token else "$AUTH_TOKEN"
    where = (
        "https only (VERIFY_CONSOLE_SECURE_COOKIE=true)"
        if settings.console_secure_cookie
        else "from this machine only"
    )
    service_sid = demo.service_sid
    webhooks = _webhooks_lines(settings)
    return f"""
  WARNING: no VERIFY_REDIS_URL -- running on the EMBEDDED in-process store.
  All state is lost when this process exits or its worker restarts. One worker only.
  Not for production.

  Account SID : {settings.account_sid}
  Auth token  : {token}
  Service SID : {service_sid}   ("{DEMO_SERVICE_NAME}", created at start)
  Console     : {base}/console/   ({where})
  Console user: {demo.console_user}   (role admin)
  Password    : {demo.console_password}   (generated for this run)
  Codes are written by the console provider to {settings.console_outbox or "standard output"}.
{webhooks}

  curl -u {settings.account_sid}:{example_token} --data-urlencode To=+14155552671 \\
       -d Channel=sms \\
       {base}/v2/Services/{service_sid}/Verifications

  python -c 'from twilio.rest import Client
  c = Client("{settings.account_sid}", "{example_token}")
  c.verify.base_url = "{base}"
  v = c.verify.v2.services("{service_sid}")
  print(v.verifications.create(to="+14155552671", channel="sms").status)'
"""


def _webhooks_lines(settings: Settings) -> str:
    """The webhook signing token (docs/webhooks.md, "Try it locally"): derived from the key
    made for this run, which `webhooks signing-token` cannot know; printed only then, as the
    auth token. And the allow-list a receiver on this machine needs."""
    keyring = Keyring(settings.key_ring())
    if settings.generated_secret_key:
        shown = (
            f"{keyring.webhook_signing_token()}   "
            f"(key {keyring.primary_id}, generated for this run)"
        )
    else:
        shown = "`verify-service webhooks signing-token` with the same VERIFY_SECRET_KEY(S)"
    lines = f"  Webhooks    : signing token {shown}"
    if not settings.webhook_allowed_networks:
        lines += (
            "\n                a receiver on this machine needs "
            "VERIFY_WEBHOOK_ALLOWED_NETWORKS=127.0.0.0/8"
        )
    return lines
