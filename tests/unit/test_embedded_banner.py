"""The embedded start-up banner's webhook lines (docs/webhooks.md, "Try it locally"): the
signing token of a key made for this run (nothing else can print it), never one derived
from a key the operator set; and the allow-list a local receiver needs, when unset."""

from __future__ import annotations

from click.testing import CliRunner

from verify_service.cli import main
from verify_service.cli.embedded_demo import EmbeddedDemo, embedded_banner
from verify_service.domain.keyring import Keyring
from verify_service.settings import Settings

DEMO = EmbeddedDemo("VA" + "0" * 32, "admin", "a-password-for-the-test")
BASE = "http://127.0.0.1:8080"
SECRET = "an-operator-secret-key-of-at-least-32-bytes"


def test_a_generated_key_s_signing_token_and_the_allow_list_hint_are_printed() -> None:
    settings = Settings.from_env({})
    token = Keyring(settings.key_ring()).webhook_signing_token()
    text = embedded_banner(settings, DEMO, BASE)
    assert f"Webhooks    : signing token {token}   (key k0, generated for this run)" in text
    assert "a receiver on this machine needs VERIFY_WEBHOOK_ALLOWED_NETWORKS=127.0.0.0/8" in text


def test_an_operator_s_key_is_never_turned_into_a_printed_token() -> None:
    settings = Settings.from_env(
        {"VERIFY_SECRET_KEY": SECRET, "VERIFY_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8"}
    )
    token = Keyring(settings.key_ring()).webhook_signing_token()
    text = embedded_banner(settings, DEMO, BASE)
    assert token not in text
    assert "`verify-service webhooks signing-token` with the same VERIFY_SECRET_KEY" in text
    assert "a receiver on this machine needs" not in text


def test_signing_token_without_a_key_points_at_the_banner_on_the_embedded_store() -> None:
    result = CliRunner().invoke(
        main,
        ["webhooks", "signing-token"],
        env={"VERIFY_SECRET_KEY": "", "VERIFY_SECRET_KEYS": "", "VERIFY_REDIS_URL": ""},
    )
    assert result.exit_code == 1
    assert "make run" in result.output
    assert "banner prints the token" in result.output
