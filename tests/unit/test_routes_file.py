"""VERIFY_ROUTES_FILE (docs/providers.md, "Routes"): parsed and checked at start-up, every
problem naming the route and the entry and never a secret; `verify-service routes list`
shows the sids services name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from verify_service.adapters.delivery.providers.routes import derived_route_sid
from verify_service.cli import main
from verify_service.domain.models import Channel
from verify_service.settings import ConfigError, Settings

SECRET = "s3cr3t-token-never-echoed"
TWILIO = f"twilio://AC{'a' * 32}:{SECRET}@default?from=+15005550006"
ENV = {
    "VERIFY_ACCOUNT_SID": "AC" + "1" * 32,
    "VERIFY_AUTH_TOKEN": "t" * 32,
    "VERIFY_SECRET_KEY": "k" * 48,
}


def settings_with(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "routes.toml"
    path.write_text(text, encoding="utf-8")
    return Settings.from_env({**ENV, "VERIFY_ROUTES_FILE": str(path)})


def test_a_route_has_its_lists_senders_and_a_sid_derived_from_its_name(tmp_path: Path) -> None:
    """No `sid =`: the sid is derived from the name (stable); the lists keep their order."""
    settings = settings_with(
        tmp_path,
        f"""
whatsapp_senders = ["+14155550100"]
[routes.india]
sms = "console:// || {TWILIO}"
whatsapp = "{TWILIO}"
whatsapp_senders = ["whatsapp:+14155550112"]
[routes.eu]
sid = "MG{"0" * 32}"
call = "console://"
""",
    )
    india, eu = settings.routes.routes
    assert india.sid == derived_route_sid("india") == derived_route_sid("india")
    assert india.sid.startswith("MG")
    assert len(india.sid) == 34
    assert eu.sid == "MG" + "0" * 32
    assert [config.KIND for config in india.providers_for(Channel.SMS) or ()] == [
        "console",
        "twilio",
    ]
    assert india.providers_for(Channel.CALL) is None
    book = settings.route_book()
    assert book.routes[india.sid].whatsapp_senders == {"+14155550112", "+15005550006"}
    assert book.whatsapp_senders == {"+14155550100"}
    assert [c.KIND for c in settings.receipt_providers_for(Channel.SMS)] == [
        "console",
        "console",
        "twilio",
    ]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        (
            f'[routes.india]\nsms = "console:// || {TWILIO.replace("twilio", "twillio")}"',
            "route 'india' sms entry 2",
        ),
        (f'[routes.india]\nsms = "{TWILIO}&colour=red"', "route 'india' sms entry 1"),
        ('[routes.india]\nemail = "console://"', "route 'india': unknown key 'email'"),
        ('[routes.india]\nsid = "MG123"', "route 'india': sid"),
        ("[routes.india]\n", "route 'india' has no provider list"),
        ('[routes."India!"]\nsms = "console://"', "route name"),
        ('[routes.india]\nsms = "console://"\nwhatsapp_senders = ["0800"]', "whatsapp_senders"),
        (
            f'[routes.a]\nsid = "MG{"0" * 32}"\nsms = "console://"\n'
            f'[routes.b]\nsid = "MG{"0" * 32}"\nsms = "console://"',
            "route 'b': same sid as route 'a'",
        ),
        ("routes = 3", "[routes] must be a table"),
        ("[routes.india\n", "is not valid TOML"),
    ],
)
def test_a_bad_routes_file_stops_the_start_naming_the_route_and_entry(
    tmp_path: Path, text: str, names: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        settings_with(tmp_path, text)
    message = str(refused.value)
    assert message.startswith("VERIFY_ROUTES_FILE")
    assert names in message
    assert SECRET not in message


def test_a_missing_routes_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="VERIFY_ROUTES_FILE cannot be read"):
        Settings.from_env({**ENV, "VERIFY_ROUTES_FILE": str(tmp_path / "absent.toml")})


def test_routes_list_prints_each_route_without_a_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "routes.toml"
    path.write_text(f'[routes.india]\nsms = "{TWILIO} || console://"\n', encoding="utf-8")
    for name, value in {**ENV, "VERIFY_ROUTES_FILE": str(path)}.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(main, ["routes", "list"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    assert json.loads(result.stdout) == {
        "name": "india",
        "sid": derived_route_sid("india"),
        "channels": ["sms"],
        "providers": {"sms": 2},
        "whatsapp_senders": [],
    }


def test_routes_list_shows_the_senders_of_the_global_whatsapp_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `Whatsapp.From` may name for a service without `Whatsapp.MsgServiceSid`: on
    standard error, so that standard output stays one route per JSON line."""
    path = tmp_path / "routes.toml"
    path.write_text(
        'whatsapp_senders = ["+14155550100"]\n[routes.india]\nsms = "console://"\n',
        encoding="utf-8",
    )
    for name, value in {**ENV, "VERIFY_ROUTES_FILE": str(path)}.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(main, ["routes", "list"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["name"] == "india"
    assert "global WhatsApp senders (no Whatsapp.MsgServiceSid): +14155550100" in result.stderr
