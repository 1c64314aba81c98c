"""`Settings.from_env`: VERIFY_* variables only, validated at start, secrets never echoed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from verify_service.adapters.argon2_hasher import DEFAULT_PROFILE
from verify_service.settings import KNOWN_VARIABLES, ConfigError, Settings, unknown_variables

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "settings-test-auth-token-7f3a"
SECRET_KEY = "settings-test-secret-key-at-least-32-bytes-9c1e"
REDIS_URL = "redis://127.0.0.1:6390/0"


def production_env(**overrides: str) -> dict[str, str]:
    env = {
        "VERIFY_REDIS_URL": REDIS_URL,
        "VERIFY_ACCOUNT_SID": ACCOUNT_SID,
        "VERIFY_AUTH_TOKEN": AUTH_TOKEN,
        "VERIFY_SECRET_KEY": SECRET_KEY,
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v != "<unset>"}


# -- embedded mode --------------------------------------------------------------------------


def test_embedded_mode_generates_ephemeral_credentials() -> None:
    """No VERIFY_REDIS_URL: the embedded store, with credentials made up for this run."""
    settings = Settings.from_env({})
    assert settings.embedded
    assert settings.redis_url is None
    assert settings.ephemeral_credentials
    assert re.fullmatch(r"AC[0-9a-f]{32}", settings.account_sid)
    assert len(settings.auth_token) >= 16
    assert len(settings.secret_key) >= 32


def test_embedded_mode_generates_new_credentials_at_every_start() -> None:
    """Generated credentials are random, not a default someone could guess."""
    first, second = Settings.from_env({}), Settings.from_env({})
    assert first.account_sid != second.account_sid
    assert first.auth_token != second.auth_token
    assert first.secret_key != second.secret_key


def test_embedded_mode_keeps_credentials_that_are_given() -> None:
    """With all three set, the embedded mode uses them and says they are not ephemeral."""
    settings = Settings.from_env(production_env(VERIFY_REDIS_URL="<unset>"))
    assert settings.embedded
    assert not settings.ephemeral_credentials
    assert settings.account_sid == ACCOUNT_SID
    assert settings.auth_token == AUTH_TOKEN
    assert settings.secret_key == SECRET_KEY.encode()


def test_empty_redis_url_means_embedded() -> None:
    """An empty variable counts as unset (as in `VERIFY_REDIS_URL= verify-service serve`)."""
    assert Settings.from_env({"VERIFY_REDIS_URL": ""}).embedded


# -- with Redis -----------------------------------------------------------------------------


def test_production_env_is_read_as_given() -> None:
    """Every variable lands in its field, with documented defaults for the rest."""
    settings = Settings.from_env(production_env())
    assert not settings.embedded
    assert not settings.ephemeral_credentials
    assert settings.redis_url == REDIS_URL
    assert settings.account_sid == ACCOUNT_SID
    assert settings.auth_token == AUTH_TOKEN
    assert settings.secret_key == SECRET_KEY.encode()
    assert settings.public_url is None
    assert settings.console_outbox is None
    assert settings.argon2_profile == DEFAULT_PROFILE
    assert settings.redis_timeout_seconds == 1.0
    assert settings.key_prefix == "vs"


def test_an_outbox_that_cannot_be_opened_stops_the_start(tmp_path: Path) -> None:
    """A console outbox in a missing folder is a start-up error naming the variable."""
    with pytest.raises(ConfigError, match="VERIFY_CONSOLE_OUTBOX"):
        Settings.from_env(production_env(VERIFY_CONSOLE_OUTBOX=str(tmp_path / "no" / "x")))


def test_a_bad_log_level_stops_the_start() -> None:
    """VERIFY_LOG_LEVEL must be a level name."""
    with pytest.raises(ConfigError, match="VERIFY_LOG_LEVEL"):
        Settings.from_env(production_env(VERIFY_LOG_LEVEL="chatty"))


def test_optional_variables_are_read(tmp_path: Path) -> None:
    """Public URL (trailing slash dropped), outbox, profile, timeout and key prefix."""
    outbox = str(tmp_path / "outbox.jsonl")
    settings = Settings.from_env(
        production_env(
            VERIFY_PUBLIC_URL="https://verify.example.com/",
            VERIFY_CONSOLE_OUTBOX=outbox,
            VERIFY_ARGON2_PROFILE="otp-2m",
            VERIFY_REDIS_TIMEOUT_SECONDS="0.25",
            VERIFY_REDIS_KEY_PREFIX="tenant-a",
        )
    )
    assert settings.public_url == "https://verify.example.com"
    assert settings.console_outbox == outbox
    assert settings.argon2_profile == "otp-2m"
    assert settings.redis_timeout_seconds == 0.25
    assert settings.key_prefix == "tenant-a"


@pytest.mark.parametrize("value", ["-", ""])
def test_console_outbox_dash_or_empty_means_standard_output(value: str) -> None:
    """`-` is the usual spelling of standard output."""
    assert Settings.from_env(production_env(VERIFY_CONSOLE_OUTBOX=value)).console_outbox is None


@pytest.mark.parametrize(
    "url",
    [
        "redis://localhost:6379/0",
        "rediss://cache.internal:6380",
        "unix:///run/redis.sock",
        "redis+cluster://10.0.0.1:7000,10.0.0.2:7000,10.0.0.3:7000",
        "rediss+cluster://user:pw-for-test@cache.internal:7000",
    ],
)
def test_redis_url_schemes_are_accepted(url: str) -> None:
    """TCP, TLS and Unix socket URLs, and a Redis Cluster's nodes (plain or TLS)."""
    assert Settings.from_env(production_env(VERIFY_REDIS_URL=url)).redis_url == url


@pytest.mark.parametrize(
    "missing", ["VERIFY_SECRET_KEY", "VERIFY_AUTH_TOKEN", "VERIFY_ACCOUNT_SID"]
)
def test_missing_secret_with_redis_is_a_config_error_naming_it(missing: str) -> None:
    """Secrets have no defaults outside the embedded mode."""
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(production_env(**{missing: "<unset>"}))
    assert missing in str(raised.value)


@pytest.mark.parametrize(
    "missing", ["VERIFY_SECRET_KEY", "VERIFY_AUTH_TOKEN", "VERIFY_ACCOUNT_SID"]
)
def test_empty_secret_with_redis_counts_as_missing(missing: str) -> None:
    """`VERIFY_SECRET_KEY=` is not a secret."""
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(production_env(**{missing: ""}))
    assert missing in str(raised.value)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("VERIFY_ACCOUNT_SID", "AC0123456789abcdef"),  # too short
        ("VERIFY_ACCOUNT_SID", "AC" + "0123456789ABCDEF" * 2),  # upper-case hex
        ("VERIFY_ACCOUNT_SID", "VA" + "0123456789abcdef" * 2),  # wrong prefix
        ("VERIFY_ACCOUNT_SID", "AC" + "0123456789abcdeg" * 2),  # not hex
        ("VERIFY_AUTH_TOKEN", "tok-xq7-short"),  # 13 < 16 characters
        ("VERIFY_SECRET_KEY", "secret-zq9-only-31-bytes-long.."),  # 31 < 32 bytes
        ("VERIFY_REDIS_URL", "http://user:hunter2pw@cache:6379"),
        ("VERIFY_REDIS_URL", "cache.internal:6379"),
        ("VERIFY_PUBLIC_URL", "verify.example.com"),
        ("VERIFY_PUBLIC_URL", "ftp://verify.example.com"),
        ("VERIFY_PUBLIC_URL", "https://"),
        ("VERIFY_PUBLIC_URL", "https://verify.example.com/?tenant=a"),
        ("VERIFY_ARGON2_PROFILE", "otp-1k-insecure"),
        ("VERIFY_REDIS_TIMEOUT_SECONDS", "fast"),
        ("VERIFY_REDIS_TIMEOUT_SECONDS", "0.001"),
        ("VERIFY_REDIS_TIMEOUT_SECONDS", "-1"),
        ("VERIFY_REDIS_TIMEOUT_SECONDS", "31"),
        ("VERIFY_REDIS_TIMEOUT_SECONDS", "nan"),
        ("VERIFY_REDIS_TIMEOUT_SECONDS", "inf"),
        ("VERIFY_REDIS_KEY_PREFIX", "has space"),
        ("VERIFY_REDIS_KEY_PREFIX", "x" * 33),
        ("VERIFY_REDIS_KEY_PREFIX", "{tag}"),
    ],
)
def test_malformed_variable_is_a_config_error_naming_it_but_not_its_value(
    variable: str, value: str
) -> None:
    """The operator learns which variable to fix; logs never get the (maybe secret) value."""
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(production_env(**{variable: value}))
    message = str(raised.value)
    assert variable in message
    assert value not in message


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("VERIFY_AUTH_TOKEN", "tok-xq7-short"),
        ("VERIFY_SECRET_KEY", "secret-zq9-only-31-bytes-long.."),
    ],
)
def test_short_secret_is_refused_in_embedded_mode_too(variable: str, value: str) -> None:
    """A secret that is given is checked even when the embedded mode could make one up."""
    env = production_env(VERIFY_REDIS_URL="<unset>", **{variable: value})
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(env)
    assert variable in str(raised.value)
    assert value not in str(raised.value)


def test_secret_length_is_counted_in_utf8_bytes() -> None:
    """32 bytes of key material, not 32 characters: 16 two-byte characters are enough."""
    settings = Settings.from_env(production_env(VERIFY_SECRET_KEY="é" * 16))
    assert len(settings.secret_key) == 32


def test_bounds_of_auth_token_and_timeout_are_inclusive() -> None:
    """16 characters of token and 0.05-30 s of timeout are allowed."""
    for timeout in ("0.05", "30"):
        settings = Settings.from_env(
            production_env(VERIFY_AUTH_TOKEN="t" * 16, VERIFY_REDIS_TIMEOUT_SECONDS=timeout)
        )
        assert settings.redis_timeout_seconds == float(timeout)


@pytest.mark.parametrize("embedded", [True, False])
def test_repr_never_shows_the_token_or_the_secret(embedded: bool) -> None:
    """Settings end up in logs and tracebacks; the secrets must not."""
    env = production_env(VERIFY_REDIS_URL="<unset>") if embedded else production_env()
    settings = Settings.from_env(env)
    for text in (repr(settings), str(settings), f"{settings}", f"{settings!r}"):
        assert AUTH_TOKEN not in text
        assert SECRET_KEY not in text
        assert repr(SECRET_KEY.encode()) not in text
        assert settings.account_sid in text


def test_repr_of_generated_settings_never_shows_the_generated_secrets() -> None:
    """The ephemeral credentials are printed once by the banner, not by every repr."""
    settings = Settings.from_env({})
    text = repr(settings)
    assert settings.auth_token not in text
    assert settings.secret_key.decode() not in text


README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_configuration_table_lists_exactly_the_known_variables() -> None:
    """Every variable the service reads has a row, and no row names one it does not read."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `VERIFY_")]
    listed = {
        name for row in rows for name in re.findall(r"`(VERIFY_[A-Z0-9_]+)`", row.split(" | ")[0])
    }
    assert listed == KNOWN_VARIABLES


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("VERIFY_REDIS_ULR", "VERIFY_REDIS_URL"),
        ("VERIFY_AUTHTOKEN", "VERIFY_AUTH_TOKEN"),
        ("VERIFY_SMS_PROVIDER", "VERIFY_SMS_PROVIDERS"),
        ("VERIFY_LOGLEVEL", "VERIFY_LOG_LEVEL"),
        ("VERIFY_ALLOW_EVICTION", "VERIFY_ALLOW_REDIS_EVICTION"),
    ],
)
def test_an_unknown_name_is_warned_about_with_the_closest_known_one(
    name: str, suggestion: str
) -> None:
    """A typo would silently leave a setting at its default (the embedded store, for one)."""
    assert unknown_variables({name: "x"}) == [
        f"unknown variable {name} is ignored (did you mean {suggestion}?)"
    ]


def test_known_names_other_prefixes_and_the_test_suites_variable_are_not_warned_about() -> None:
    """Only `VERIFY_*` names the service does not read are reported; nothing far from every
    known name gets a guess."""
    env = dict.fromkeys(KNOWN_VARIABLES, "x") | {
        "PATH": "/bin",
        "VERIFY_TEST_REDIS_SERVER": "x",
    }
    assert unknown_variables(env) == []
    assert unknown_variables({"VERIFY_FLAVOUR": "x"}) == [
        "unknown variable VERIFY_FLAVOUR is ignored"
    ]


def test_allow_redis_eviction_is_false_unless_set_to_true() -> None:
    """The override is off by default and takes only true or false."""
    assert Settings.from_env(production_env()).allow_redis_eviction is False
    env = production_env(VERIFY_ALLOW_REDIS_EVICTION="true")
    assert Settings.from_env(env).allow_redis_eviction is True
    with pytest.raises(ConfigError, match="VERIFY_ALLOW_REDIS_EVICTION must be true or false"):
        Settings.from_env(production_env(VERIFY_ALLOW_REDIS_EVICTION="yes"))
