"""The console as a support agent uses it all day (issue 9, item 19): the sign-in form keeps
the user name after a wrong password, sends are counted like checks, an ended verification
says who ended it and why, the audit page pages and filters on the server, and every time
is shown in the configured display time zone."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime

import pytest
import redis
from flask import Flask

from tests.conftest import Api
from tests.integration.test_console import ADMIN_PASSWORD, PASSWORD, TO, Console
from tests.integration.test_store_scripts import run_concurrently
from tests.support.fakes import FixedClock, RecordingSender
from verify_service.app import CONTAINER_KEY, build_staff_users, create_app
from verify_service.application.audit.ports import AuditEntry
from verify_service.domain.errors import NotFound
from verify_service.domain.models import EndedBy, VerificationStatus
from verify_service.settings import Settings


def _console(app: Flask) -> Console:
    users = build_staff_users(app.extensions[CONTAINER_KEY])
    users.add("sam", PASSWORD, "support")
    users.add("ada", ADMIN_PASSWORD, "admin")
    return Console(app.test_client())


@pytest.fixture
def console(app: Flask) -> Console:
    return _console(app)


@pytest.fixture
def signed_in(console: Console) -> Console:
    assert console.login().status_code == 303
    return console


@pytest.fixture
def admin(console: Console) -> Console:
    assert console.login("ada", ADMIN_PASSWORD).status_code == 303
    return console


@pytest.fixture
def service_sid(api: Api) -> str:
    return api.create_service(FriendlyName="Acme")


def _field(page: str, name: str) -> str:
    found = re.search(rf'<input id="{name}" name="{name}"[^>]*? value="([^"]*)"', page)
    assert found is not None, f"no {name} input"
    return found.group(1)


# -- (a) the sign-in form keeps the user name ------------------------------------------------


def test_a_wrong_password_keeps_the_user_name_and_clears_the_password(console: Console) -> None:
    """After a refusal the name is filled in again; the password never comes back."""
    refused = console.login(name="sam", password="not the password!")
    assert refused.status_code == 401
    page = refused.get_data(as_text=True)
    assert _field(page, "name") == "sam"
    assert "not the password!" not in page
    assert re.search(r'<input id="password"[^>]*autofocus', page)


def test_an_unknown_name_is_kept_too_and_escaped(console: Console) -> None:
    """Any typed name comes back as typed (HTML-escaped), so the page reveals nothing new."""
    refused = console.login(name='<b>"eve"</b>', password="not the password!")
    assert refused.status_code == 401
    page = refused.get_data(as_text=True)
    assert _field(page, "name") == "&lt;b&gt;&#34;eve&#34;&lt;/b&gt;"
    assert '<b>"eve"</b>' not in page


# -- (b) sends counted like checks ---------------------------------------------------------


def test_sends_are_shown_as_n_of_5_like_checks(
    signed_in: Console, api: Api, service_sid: str
) -> None:
    """One send reads "1 of 5"; a resend makes it "2 of 5"."""
    api.start(service_sid)
    signed_in.search(service_sid)
    assert re.search(r"<dt>Sends</dt><dd[^>]*>1 of 5</dd>", signed_in.text)
    assert re.search(r"<dt>Checks</dt><dd[^>]*>0 of 5</dd>", signed_in.text)
    signed_in.resend()
    assert re.search(r"<dt>Sends</dt><dd[^>]*>2 of 5</dd>", signed_in.text)


# -- (f) the service selector at phone width (the browser test measures it at 375 px) ---------


def test_the_service_selector_shows_names_and_tells_twins_apart(
    signed_in: Console, api: Api
) -> None:
    """Options are the services' names (short enough for a phone); two services of one name
    get their sids' last six characters; every option carries the full sid as its title."""
    acme = api.create_service(FriendlyName="Acme")
    shop_a = api.create_service(FriendlyName="Shop")
    shop_b = api.create_service(FriendlyName="Shop")
    page = signed_in.get("/console/search").get_data(as_text=True)
    options = dict(
        re.findall(r'<option value="(VA[0-9a-f]{32})" title="\1" *>([^<]*)</option>', page)
    )
    assert options == {
        acme: "Acme",
        shop_a: f"Shop · …{shop_a[-6:]}",
        shop_b: f"Shop · …{shop_b[-6:]}",
    }


# -- (c) who ended a verification, and why -------------------------------------------------


def test_a_console_cancel_shows_who_canceled_and_why(
    signed_in: Console, api: Api, service_sid: str
) -> None:
    """The ended verification names the agent, the role and the stated reason."""
    api.start(service_sid)
    signed_in.search(service_sid)
    signed_in.cancel(reason="Customer asked to stop this verification")
    assert re.search(
        r"Canceled by <strong>sam</strong> <span class=\"muted\">\(support\)</span>: "
        r"Customer asked to stop this verification",
        signed_in.text,
    )


def test_an_api_cancel_shows_the_credential_that_canceled(
    signed_in: Console, api: Api, service_sid: str, settings: Settings
) -> None:
    """A cancel through the API names the credential's sid and role (no reason)."""
    started = api.start(service_sid).json
    assert started is not None
    assert api.update(service_sid, started["sid"], "canceled").status_code == 200
    signed_in.search(service_sid)
    assert f"Canceled by <strong>{settings.account_sid}</strong>" in signed_in.text


def test_only_the_cancel_that_ended_it_is_recorded_under_a_race(
    app: Flask, api: Api, service_sid: str
) -> None:
    """16 concurrent cancels by different agents: one ends it, and that one is named."""
    started = api.start(service_sid).json
    assert started is not None
    container = app.extensions[CONTAINER_KEY]
    names = iter(range(16))

    def cancel() -> str | None:
        agent = f"agent{next(names)}"
        try:
            container.verifications.update_status(
                service_sid,
                started["sid"],
                VerificationStatus.CANCELED,
                EndedBy(agent, "support", "Customer asked to stop this verification"),
            )
        except NotFound:
            return None
        return agent

    winners = [agent for agent in run_concurrently(16, cancel) if agent is not None]
    assert len(winners) == 1
    [ended] = container.attempts.history_for(service_sid, TO)
    assert ended.outcome == "canceled"
    assert ended.ended_by == EndedBy(
        winners[0], "support", "Customer asked to stop this verification"
    )


def test_an_approval_by_a_code_names_nobody(
    signed_in: Console, api: Api, service_sid: str, sender: RecordingSender
) -> None:
    """Ended by the customer's right code: no "by" line is shown."""
    started = api.start(service_sid).json
    assert started is not None
    code = sender.last_code(started["sid"])
    assert api.check(service_sid, code, To=TO).json["status"] == "approved"  # type: ignore[index]
    signed_in.search(service_sid)
    assert "status-approved" in signed_in.text
    assert "ended-by" not in signed_in.text


# -- (d) the audit page: paging and filters ----------------------------------------------------


def _append(
    app: Flask, clock: FixedClock, actor: str, action: str, count: int = 1, step: float = 1
) -> None:
    """`count` entries, `step` seconds apart (the session's idle timeout is 15 minutes)."""
    audit = app.extensions[CONTAINER_KEY].audit
    for _ in range(count):
        clock.advance(step)
        audit.append(AuditEntry(actor, "support", action, "console", "ok", clock.now_ms()))


def _rows(page: str) -> list[str]:
    return re.findall(r'<td data-label="Action">([^<]*)</td>', page)


def _actors(page: str) -> list[str]:
    return re.findall(r'<td data-label="Actor">([^ <]*) ', page)


def _link(page: str, link_id: str) -> str | None:
    found = re.search(rf'<a id="{link_id}" href="([^"]*)"', page)
    return found.group(1).replace("&amp;", "&") if found else None


def test_the_audit_log_pages_25_entries_at_a_time(
    app: Flask, admin: Console, clock: FixedClock
) -> None:
    """60 entries and the sign-in: 25, 25, then the rest; each page links on and back."""
    _append(app, clock, "sam", "console.search", 60)
    first = admin.get("/console/audit").get_data(as_text=True)
    assert len(_rows(first)) == 25
    assert _link(first, "newest-page") is None
    older = _link(first, "older-page")
    assert older is not None
    second = admin.get(older).get_data(as_text=True)
    assert len(_rows(second)) == 25
    assert _link(second, "newest-page") == "/console/audit"
    third_link = _link(second, "older-page")
    assert third_link is not None
    third = admin.get(third_link).get_data(as_text=True)
    assert len(_rows(third)) == 11  # 60 + ada's sign-in
    assert _link(third, "older-page") is None


def test_the_audit_log_filters_by_action_user_and_time(
    app: Flask, admin: Console, clock: FixedClock
) -> None:
    """Each filter, alone and together, lists exactly the matching entries (server-side)."""
    _append(app, clock, "sam", "console.search", 3, step=60)
    _append(app, clock, "kim", "console.cancel", 2, step=60)
    middle = clock.now_ms()
    _append(app, clock, "sam", "console.cancel", 4, step=60)
    _append(app, clock, "kim", "console.resend", 1, step=60)

    by_action = admin.get("/console/audit?action=console.cancel").get_data(as_text=True)
    assert _rows(by_action) == ["console.cancel"] * 6
    by_prefix = admin.get("/console/audit?action=console.").get_data(as_text=True)
    assert len(_rows(by_prefix)) == 11  # the ten and ada's sign-in
    by_user = admin.get("/console/audit?user=kim").get_data(as_text=True)
    assert _actors(by_user) == ["kim"] * 3
    both = admin.get("/console/audit?user=sam&action=console.cancel").get_data(as_text=True)
    assert _rows(both) == ["console.cancel"] * 4
    # The time range, to the minute in the display zone (UTC here): `until` includes its minute.
    start = _minute_utc(middle + 60_000)
    until = _minute_utc(middle + 3 * 60_000)
    ranged = admin.get(f"/console/audit?since={start}&until={until}").get_data(as_text=True)
    assert _rows(ranged) == ["console.cancel"] * 3
    assert _field(ranged, "since") == start  # the form shows the filter it applied


def test_filters_carry_over_to_the_next_page(app: Flask, admin: Console, clock: FixedClock) -> None:
    """Paging a filtered list stays filtered."""
    for _ in range(30):
        _append(app, clock, "sam", "console.search")
        _append(app, clock, "kim", "console.search")
    first = admin.get("/console/audit?user=kim").get_data(as_text=True)
    assert _actors(first) == ["kim"] * 25
    older = _link(first, "older-page")
    assert older is not None
    assert "user=kim" in older
    second = admin.get(older).get_data(as_text=True)
    assert _actors(second) == ["kim"] * 5


def test_a_malformed_time_filter_is_a_400_that_says_so(admin: Console) -> None:
    """A time that cannot be read is named, not silently ignored."""
    page = admin.get("/console/audit?since=yesterday")
    assert page.status_code == 400
    assert "From: enter a date and time." in page.get_data(as_text=True)


def test_no_entries_match_says_so(admin: Console) -> None:
    """A filter that matches nothing says so."""
    page = admin.get("/console/audit?user=nobody").get_data(as_text=True)
    assert "No entries match these filters" in page


# -- (e) the display time zone -----------------------------------------------------------------


def _minute_utc(milliseconds: int) -> str:
    return datetime.fromtimestamp(milliseconds / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def berlin_app(
    settings: Settings, redis_client: redis.Redis, clock: FixedClock, sender: RecordingSender
) -> Flask:
    return create_app(
        dataclasses.replace(settings, console_time_zone="Europe/Berlin"),
        clock=clock,
        providers=sender.as_providers(),
    )


def test_times_are_shown_in_the_configured_time_zone(berlin_app: Flask, clock: FixedClock) -> None:
    """VERIFY_CONSOLE_TIME_ZONE=Europe/Berlin: the audit log shows CEST/CET wall times."""
    clock.now = 1_790_000_000_000  # 2026-09-21 14:13:20 UTC
    console = _console(berlin_app)
    assert console.login("ada", ADMIN_PASSWORD).status_code == 303
    page = console.get("/console/audit").get_data(as_text=True)
    assert "2026-09-21 16:13:20 CEST" in page
    assert "UTC" not in page.replace("(UTC", "")
    assert "From (Europe/Berlin)" in page


def test_the_time_filter_is_read_in_the_configured_time_zone(
    berlin_app: Flask, clock: FixedClock
) -> None:
    """A filter "from 16:13" in Berlin is 14:13 UTC: the entry at 14:13:20 UTC matches."""
    clock.now = 1_790_000_000_000  # 2026-09-21 14:13:20 UTC = 16:13:20 CEST
    console = _console(berlin_app)
    assert console.login("ada", ADMIN_PASSWORD).status_code == 303
    matched = console.get("/console/audit?since=2026-09-21T16:13").get_data(as_text=True)
    assert _rows(matched) == ["console.login"]
    later = console.get("/console/audit?since=2026-09-21T16:14").get_data(as_text=True)
    assert _rows(later) == []
