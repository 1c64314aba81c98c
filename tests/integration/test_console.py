"""The support console (`/console`) through Flask's test client, on a real Redis."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterator

import argon2
import pytest
import redis
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import Api, deliver_queued
from tests.support.fakes import FixedClock, RecordingSender
from verify_service.adapters.password_hasher import Argon2PasswordHasher
from verify_service.adapters.redis_store.scripts import ScriptBook
from verify_service.adapters.redis_store.support.staff_user_store import (
    RedisStaffUserStore,
    StaffKeys,
)
from verify_service.app import CONTAINER_KEY, build_staff_users, create_app
from verify_service.application.support.staff_users import StaffUserRecord, StaffUsers
from verify_service.cli import main
from verify_service.domain.staff import StaffRole
from verify_service.settings import Settings

TO = "+14155552671"
MASKED = "+1 415 •••• 671"
PASSWORD = "correct horse battery"
ADMIN_PASSWORD = "admin horse battery staple"
_HIDDEN = re.compile(r'name="(csrf_token|login_token|search|verification)" value="([^"]*)"')


def hidden(page: TestResponse, name: str) -> str:
    values = dict(_HIDDEN.findall(page.get_data(as_text=True)))
    return values[name]


class Console:
    """The console as a browser drives it: forms with their hidden tokens."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.page: TestResponse | None = None

    @property
    def text(self) -> str:
        assert self.page is not None
        return self.page.get_data(as_text=True)

    def login(self, name: str = "sam", password: str = PASSWORD) -> TestResponse:
        form = self.client.get("/console/login")
        self.page = self.client.post(
            "/console/login",
            data={"login_token": hidden(form, "login_token"), "name": name, "password": password},
        )
        return self.page

    def get(self, path: str) -> TestResponse:
        self.page = self.client.get(path, follow_redirects=True)
        return self.page

    def csrf(self) -> str:
        return hidden(self.client.get("/console/search"), "csrf_token")

    def search(self, service_sid: str, to: str = TO) -> TestResponse:
        self.page = self.client.post(
            "/console/search", data={"csrf_token": self.csrf(), "service": service_sid, "to": to}
        )
        return self.page

    def act(self, action: str, reason: str = "", details: str = "", **fields: str) -> TestResponse:
        assert self.page is not None
        data = {
            "csrf_token": hidden(self.page, "csrf_token"),
            "search": hidden(self.page, "search"),
            "verification": hidden(self.page, "verification"),
            "reason": reason,
            "details": details,
            **fields,
        }
        self.page = self.client.post(f"/console/{action}", data=data)
        return self.page

    def resend(
        self, channel: str = "sms", reason: str = "Customer did not receive the code"
    ) -> TestResponse:
        return self.act("resend", reason=reason, channel=channel)

    def cancel(self, reason: str = "Customer asked to stop this verification") -> TestResponse:
        return self.act("cancel", reason=reason)


@pytest.fixture
def staff(app: Flask) -> StaffUsers:
    users = build_staff_users(app.extensions[CONTAINER_KEY])
    users.add("sam", PASSWORD, "support")
    users.add("ada", ADMIN_PASSWORD, "admin")
    return users


@pytest.fixture
def console(app: Flask, staff: StaffUsers) -> Console:
    return Console(app.test_client())


@pytest.fixture
def signed_in(console: Console) -> Console:
    assert console.login().status_code == 303
    return console


@pytest.fixture
def service_sid(api: Api) -> str:
    return api.create_service(FriendlyName="Acme")


def audit_entries(app: Flask) -> list[dict[str, object]]:
    records, _more = app.extensions[CONTAINER_KEY].audit.newest(100)
    return [dataclasses.asdict(record.entry) for record in records]


# -- sign-in, sessions, CSRF -------------------------------------------------------------------


def test_sign_in_sets_a_secure_httponly_strict_session_cookie(console: Console) -> None:
    """The session cookie is Secure, HttpOnly, SameSite=Strict, scoped to /console."""
    response = console.login()
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/console/search")
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("vs_console="))
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Path=/console" in cookie
    assert len(cookie.split(";")[0].removeprefix("vs_console=")) >= 43  # 256 bits


def test_console_pages_need_a_session_not_basic_auth(console: Console, api: Api) -> None:
    """The API's credentials do not open the console: its pages send you to sign in."""
    response = console.client.get("/console/search", headers=api.headers)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/console/login")


def test_wrong_password_and_unknown_user_get_the_same_answer(console: Console) -> None:
    """A refusal never says whether the user exists."""
    wrong = console.login(password="not the password!")
    unknown = console.login(name="nobody")
    assert wrong.status_code == unknown.status_code == 401
    message = "Wrong user name or password, or the account is locked or disabled."
    assert message in wrong.get_data(as_text=True)
    assert message in unknown.get_data(as_text=True)


def test_fifth_wrong_password_locks_the_user_until_an_admin_unlocks_it(
    console: Console, staff: StaffUsers, app: Flask
) -> None:
    """After 5 failures in a row even the right password is refused; `unlock` lifts it."""
    for _ in range(5):
        assert console.login(password="wrong password!!").status_code == 401
    assert console.login().status_code == 401
    assert any(
        entry["action"] == "console.login" and entry["outcome"] == "locked"
        for entry in audit_entries(app)
    )
    staff.unlock("sam")
    assert console.login().status_code == 303


def test_sign_in_attempts_are_throttled_per_user_name(
    settings: Settings, redis_client: redis.Redis, clock: FixedClock, sender: RecordingSender
) -> None:
    """The 11th attempt within 15 minutes is 429 before any password is compared."""
    app = create_app(
        dataclasses.replace(settings, console_max_login_failures=100),
        clock=clock,
        providers=sender.as_providers(),
    )
    build_staff_users(app.extensions[CONTAINER_KEY]).add("sam", PASSWORD, "support")
    console = Console(app.test_client())
    for _ in range(10):
        assert console.login(password="wrong password!!").status_code == 401
    throttled = console.login()
    assert throttled.status_code == 429
    assert "Too many sign-in attempts" in throttled.get_data(as_text=True)
    clock.advance(15 * 60 + 1)
    assert console.login().status_code == 303


def test_a_hash_made_with_older_parameters_is_replaced_at_sign_in(app: Flask) -> None:
    """argon2-cffi's check_needs_rehash: the stored hash moves to the current parameters."""
    container = app.extensions[CONTAINER_KEY]
    cheap = Argon2PasswordHasher(argon2.PasswordHasher(time_cost=1, memory_cost=8192))
    store = RedisStaffUserStore(container.redis, ScriptBook(), StaffKeys("it"))
    store.create(StaffUserRecord("old", StaffRole.SUPPORT, cheap.hash(PASSWORD)))
    key = "it:{staff}:user:old"
    assert b"m=8192,t=1" in container.redis.hget(key, "hash")
    assert Console(app.test_client()).login("old").status_code == 303
    upgraded = container.redis.hget(key, "hash")
    assert b"m=65536,t=3,p=4" in upgraded
    assert argon2.PasswordHasher().verify(upgraded, PASSWORD)


def test_a_session_ends_after_the_idle_timeout(signed_in: Console, clock: FixedClock) -> None:
    """15 minutes without a request end the session; an action then is refused."""
    clock.advance(14 * 60)
    assert signed_in.client.get("/console/search").status_code == 200
    csrf = signed_in.csrf()
    clock.advance(15 * 60 + 1)
    assert signed_in.client.get("/console/search").headers["Location"].endswith("/login")
    refused = signed_in.client.post("/console/logout", data={"csrf_token": csrf})
    assert refused.status_code == 401
    assert "Your session has ended" in refused.get_data(as_text=True)


def test_a_session_ends_at_its_absolute_lifetime_however_active(
    signed_in: Console, clock: FixedClock
) -> None:
    """8 hours after sign-in the session ends, even with a request every 10 minutes."""
    for _ in range(47):
        clock.advance(10 * 60)
        assert signed_in.client.get("/console/search").status_code == 200
    clock.advance(10 * 60)
    assert signed_in.client.get("/console/search").status_code == 303


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_a_form_without_the_session_csrf_token_is_refused(
    signed_in: Console, service_sid: str, token: str | None
) -> None:
    """Every POST needs the session's CSRF token."""
    data = {"service": service_sid, "to": TO}
    if token is not None:
        data["csrf_token"] = token
    response = signed_in.client.post("/console/search", data=data)
    assert response.status_code == 403
    assert "did not come from the console" in response.get_data(as_text=True)


def test_sign_in_without_the_login_token_is_refused(console: Console) -> None:
    response = console.client.post("/console/login", data={"name": "sam", "password": PASSWORD})
    assert response.status_code == 403


def test_sign_out_deletes_the_session(signed_in: Console) -> None:
    """After sign-out the old cookie opens nothing."""
    cookie = signed_in.client.get_cookie("vs_console", path="/console")
    assert cookie is not None
    response = signed_in.client.post("/console/logout", data={"csrf_token": signed_in.csrf()})
    assert response.status_code == 303
    signed_in.client.set_cookie("vs_console", cookie.value, path="/console")
    assert signed_in.client.get("/console/search").status_code == 303


def test_a_disabled_user_is_signed_out_at_its_next_request(
    signed_in: Console, staff: StaffUsers
) -> None:
    staff.disable("sam")
    assert signed_in.client.get("/console/search").status_code == 303
    assert signed_in.login().status_code == 401


def test_support_users_get_403_on_admin_pages(signed_in: Console) -> None:
    for path in ("/console/audit", "/console/keys"):
        assert signed_in.client.get(path).status_code == 403


def test_admins_see_the_audit_log_and_api_keys_without_secrets(
    console: Console, app: Flask, api: Api
) -> None:
    created = api.post("/v2/Keys", FriendlyName="Backend", Role="backend")
    assert created.status_code == 201, created.json
    key = created.json
    assert key is not None
    console.login("ada", ADMIN_PASSWORD)
    keys_page = console.get("/console/keys").get_data(as_text=True)
    assert key["sid"] in keys_page
    assert "backend" in keys_page
    assert key["secret"] not in keys_page
    audit_page = console.get("/console/audit").get_data(as_text=True)
    assert "keys.create" in audit_page
    assert "console.login" in audit_page


# -- search and the timeline -------------------------------------------------------------------


def test_search_shows_the_timeline_with_a_masked_destination(
    signed_in: Console, api: Api, service_sid: str
) -> None:
    """Status, masked destination, channel, sends with delivery status and provider,
    checks with outcomes: and never the full number."""
    started = api.start(service_sid)
    assert started.status_code == 201
    api.check(service_sid, "000000", To=TO)
    page = signed_in.search(service_sid)
    assert page.status_code == 200
    text = signed_in.text
    assert MASKED in text
    assert started.json is not None
    assert started.json["sid"] in text
    assert "pending" in text
    assert "recording" in text  # the provider that took the send
    assert "delivery-sent" in text
    assert "check-wrong" in text
    assert TO not in text
    assert "4155552671" not in text


def test_search_with_no_pending_verification_says_so(signed_in: Console, service_sid: str) -> None:
    signed_in.search(service_sid, "someone@example.com")
    assert "No verification is pending" in signed_in.text
    assert "s•••@example.com" in signed_in.text


def test_search_refuses_a_malformed_destination(signed_in: Console, service_sid: str) -> None:
    assert signed_in.search(service_sid, "415-555").status_code == 400


def test_resend_adds_a_send_on_another_channel_and_is_audited(
    signed_in: Console, api: Api, service_sid: str, app: Flask
) -> None:
    api.start(service_sid)
    signed_in.search(service_sid)
    page = signed_in.act(
        "resend",
        reason="Customer asked for another channel",
        details="prefers a call",
        channel="call",
    )
    assert page.status_code == 200, signed_in.text
    assert "A new code was sent by call" in signed_in.text
    deliver_queued(app)
    signed_in.search(service_sid)
    assert signed_in.text.count('data-label="Channel">call<') == 1
    assert signed_in.text.count('data-label="Channel">sms<') == 1
    entry = next(e for e in audit_entries(app) if e["action"] == "console.resend")
    assert entry["actor"] == "sam"
    assert entry["role"] == "support"
    assert entry["outcome"] == "ok"
    assert entry["reason"] == "Customer asked for another channel: prefers a call"
    assert TO not in str(entry)


def test_resend_past_the_send_limit_shows_60203(
    signed_in: Console, api: Api, service_sid: str, app: Flask
) -> None:
    """A console resend is a start: the sixth send is refused like the API's, readably."""
    for _ in range(5):
        assert api.start(service_sid).status_code == 201
    signed_in.search(service_sid)
    page = signed_in.resend()
    assert page.status_code == 429
    assert "Max send attempts reached (error 60203)" in signed_in.text
    assert any(
        e["action"] == "console.resend" and e["outcome"] == "60203" for e in audit_entries(app)
    )


def test_resend_respects_the_per_destination_hourly_limit(signed_in: Console, api: Api) -> None:
    """The service's SendsPerDestinationPerHour counts a console resend like any start."""
    service_sid = api.create_service(SendsPerDestinationPerHour=1)
    api.start(service_sid)
    signed_in.search(service_sid)
    assert signed_in.resend().status_code == 429
    # Twilio answers a destination's send limit with 60203 too, and says when it frees.
    assert "Max send attempts reached (error 60203). Try again in 61 minutes." in signed_in.text


def test_an_action_needs_a_reason_without_digits(
    signed_in: Console, api: Api, service_sid: str
) -> None:
    api.start(service_sid)
    signed_in.search(service_sid)
    assert signed_in.act("cancel").status_code == 400
    assert "choose a reason" in signed_in.text
    assert signed_in.act("cancel", details="code was 123456").status_code == 400
    assert "no codes or numbers" in signed_in.text


def test_cancel_ends_the_verification_and_lists_it_as_ended(
    signed_in: Console, api: Api, service_sid: str, app: Flask
) -> None:
    started = api.start(service_sid)
    assert started.json is not None
    sid = started.json["sid"]
    signed_in.search(service_sid)
    page = signed_in.cancel()
    assert page.status_code == 200
    assert "The verification was canceled" in signed_in.text
    assert "No verification is pending" in signed_in.text
    assert sid in signed_in.text  # now among the ended ones
    assert "status-canceled" in signed_in.text
    assert api.fetch(service_sid, sid).status_code == 404
    entry = next(e for e in audit_entries(app) if e["action"] == "console.cancel")
    assert entry["target"] == f"{service_sid}/{sid}"
    assert entry["reason"] == "Customer asked to stop this verification"


def test_an_action_on_a_verification_that_ended_meanwhile_changes_nothing(
    signed_in: Console, api: Api, service_sid: str
) -> None:
    started = api.start(service_sid)
    assert started.json is not None
    signed_in.search(service_sid)
    api.update(service_sid, started.json["sid"], "canceled")
    assert signed_in.resend().status_code == 409
    assert "no longer the pending one" in signed_in.text
    assert api.start(service_sid).json["send_code_attempts"].__len__() == 1  # type: ignore[index]


def test_a_search_token_from_another_session_is_refused(
    signed_in: Console, api: Api, service_sid: str, app: Flask
) -> None:
    api.start(service_sid)
    signed_in.search(service_sid)
    stolen = hidden(signed_in.page, "search")  # type: ignore[arg-type]
    other = Console(app.test_client())
    other.login("ada", ADMIN_PASSWORD)
    page = other.client.post(
        "/console/cancel",
        data={
            "csrf_token": other.csrf(),
            "search": stolen,
            "verification": "VE" + "0" * 32,
            "reason": "Suspected fraud or account takeover",
        },
    )
    assert page.status_code == 400


# -- no code, no number, anywhere ----------------------------------------------------------


@pytest.fixture
def captured_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.DEBUG):
        yield caplog


def test_no_page_and_no_log_line_ever_shows_a_code_or_the_full_number(
    console: Console,
    api: Api,
    service_sid: str,
    sender: RecordingSender,
    app: Flask,
    captured_logs: pytest.LogCaptureFixture,
) -> None:
    """Every console page is rendered after sends whose codes the test knows; none of them
    (nor any log record) contains a code or the full number."""
    started = api.start(service_sid)
    assert started.json is not None
    sid = started.json["sid"]
    api.check(service_sid, "000000", To=TO)
    pages = [console.get("/console/login"), console.login("ada", ADMIN_PASSWORD)]
    pages += [console.get("/console/search"), console.search(service_sid)]
    pages.append(console.resend(channel="call"))
    deliver_queued(app)
    pages.append(console.search(service_sid))
    pages.append(console.act("resend", reason="", channel="sms"))  # an error page
    pages.append(console.cancel())
    pages += [console.get("/console/audit"), console.get("/console/keys")]
    pages.append(console.client.post("/console/search", data={"to": TO}))  # CSRF refusal
    codes = sender.codes_for(sid)
    assert len(codes) == 2
    for page in pages:
        body = page.get_data(as_text=True)
        for code in codes:
            assert code not in body
        assert TO not in body
    logged = "\n".join(record.getMessage() for record in captured_logs.records)
    for code in codes:
        assert code not in logged
    assert TO not in logged


# -- the CLI -----------------------------------------------------------------------------------


def test_cli_adds_disables_and_unlocks_users(
    settings: Settings, redis_client: redis.Redis, app: Flask
) -> None:
    env = {
        "VERIFY_REDIS_URL": settings.redis_url or "",
        "VERIFY_ACCOUNT_SID": settings.account_sid,
        "VERIFY_AUTH_TOKEN": settings.auth_token,
        "VERIFY_SECRET_KEY": settings.secret_key.decode(),
        "VERIFY_REDIS_KEY_PREFIX": settings.key_prefix,
    }
    runner = CliRunner()
    added = runner.invoke(
        main,
        ["user", "add", "kim", "--role", "support", "--password-stdin"],
        input=PASSWORD + "\n",
        env=env,
    )
    assert added.exit_code == 0, added.output
    again = runner.invoke(
        main,
        ["user", "add", "kim", "--role", "admin", "--password-stdin"],
        input=PASSWORD + "\n",
        env=env,
    )
    assert again.exit_code == 1
    assert "has this name already" in again.output
    short = runner.invoke(
        main,
        ["user", "add", "lee", "--role", "admin", "--password-stdin"],
        input="short\n",
        env=env,
    )
    assert short.exit_code == 1
    console = Console(app.test_client())
    assert console.login("kim").status_code == 303
    listed = runner.invoke(main, ["user", "list"], env=env)
    assert '"name": "kim"' in listed.output
    assert "argon2" not in listed.output
    assert runner.invoke(main, ["user", "disable", "kim"], env=env).exit_code == 0
    assert Console(app.test_client()).login("kim").status_code == 401
    assert runner.invoke(main, ["user", "enable", "kim"], env=env).exit_code == 0
    assert runner.invoke(main, ["user", "unlock", "kim"], env=env).exit_code == 0
    assert runner.invoke(main, ["user", "unlock", "nobody"], env=env).exit_code == 1
    assert Console(app.test_client()).login("kim").status_code == 303


def test_console_user_changes_from_the_cli_are_audited(app: Flask, cli: CliRunner) -> None:
    added = cli.invoke(
        main,
        ["user", "add", "robin", "--role", "support", "--password-stdin"],
        input="correct horse battery\n",
    )
    assert added.exit_code == 0, added.output
    assert cli.invoke(main, ["user", "disable", "robin"]).exit_code == 0
    assert cli.invoke(main, ["user", "disable", "nobody"]).exit_code == 1
    entries = app.extensions[CONTAINER_KEY].audit.newest(10)[0]
    seen = [(e.entry.action, e.entry.target, e.entry.outcome) for e in entries]
    assert seen == [
        ("users.disable", "nobody", "refused"),
        ("users.disable", "robin", "ok"),
        ("users.add", "robin", "ok"),
    ]
    assert all("correct horse" not in str(e.entry) for e in entries)
