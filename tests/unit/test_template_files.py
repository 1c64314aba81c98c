"""Template files (`VERIFY_TEMPLATES_DIR`): checked at start-up and by `verify-service
templates check`, a bad file named with its field; sids stable from the file name."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from verify_service.adapters.template_files import (
    TemplateFileError,
    file_template_sid,
    load_template_dir,
)
from verify_service.cli import main
from verify_service.domain.templates.template import Source

GOOD = """
friendly_name = "Shop"
allow_links = false
[variables]
app = 20
[translations.en]
sms = "{{app}}: {{code}} is your {{friendly_name}} code"
call = "Your code is {{code}}"
[translations.fr]
sms = "{{app}} : votre code {{friendly_name}} est {{code}}"
call = "Votre code est {{code}}"
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, "utf-8")
    return path


def test_a_directory_of_templates_loads_with_sids_from_the_file_names(tmp_path: Path) -> None:
    path = write(tmp_path, "shop.toml", GOOD)
    write(tmp_path, "fixed.toml", f'sid = "HJ{"ab" * 16}"\n' + GOOD)
    write(tmp_path, "notes.txt", "not a template")
    loaded = {template.sid: template for template in load_template_dir(str(tmp_path))}
    assert set(loaded) == {file_template_sid(path), "HJ" + "ab" * 16}
    assert file_template_sid(path) == file_template_sid(Path("/elsewhere/shop.toml"))
    assert all(template.source is Source.FILE for template in loaded.values())


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (GOOD.replace("{{code}} is your", "is your"), "[translations.en] sms"),
        (GOOD.replace("{{app}} :", "{{ app.__class__ }} :"), "[translations.fr] sms"),
        (
            GOOD.replace('friendly_name = "Shop"', 'friendly_name = "' + "N" * 33 + '"'),
            "friendly_name: 1-32 characters",
        ),
        ("colour = 1\n" + GOOD, "unknown keys ['colour']"),
        ("friendly_name = ", "cannot be read as TOML"),
    ],
)
def test_a_bad_file_is_refused_naming_the_file_and_the_field(
    tmp_path: Path, text: str, named: str
) -> None:
    path = write(tmp_path, "bad.toml", text)
    with pytest.raises(TemplateFileError) as refused:
        load_template_dir(str(tmp_path))
    assert str(path) in str(refused.value)
    assert named in str(refused.value)


def test_the_cli_checks_files_offline(tmp_path: Path) -> None:
    good = write(tmp_path, "good.toml", GOOD)
    bad = write(tmp_path, "bad.toml", GOOD.replace("{{code}} is your", "is your"))
    result = CliRunner().invoke(main, ["templates", "check", str(good)])
    assert result.exit_code == 0, result.output
    assert "ok (2 locales; sms, call)" in result.output
    result = CliRunner().invoke(main, ["templates", "check", str(good), str(bad)])
    assert result.exit_code == 1
    assert f"{bad}: [translations.en] sms" in result.stderr


def test_a_command_stops_at_a_bad_template_file_with_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`serve` too, before any worker starts: `configuration error: VERIFY_TEMPLATES_DIR:
    <file>: <field>`."""
    bad = write(tmp_path, "bad.toml", GOOD.replace("{{code}} is your", "is your"))
    for name in [name for name in __import__("os").environ if name.startswith("VERIFY_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("VERIFY_TEMPLATES_DIR", str(tmp_path))
    result = CliRunner().invoke(main, ["keys", "list"])  # every command loads its settings
    assert result.exit_code == 1
    assert f"configuration error: VERIFY_TEMPLATES_DIR: {bad}: [translations.en] sms" in (
        result.stderr
    )


def test_the_template_file_printed_in_the_docs_passes_the_check(tmp_path: Path) -> None:
    """docs/messages.md's example, as printed, is what an operator copies first."""
    docs = (Path(__file__).parents[2] / "docs" / "messages.md").read_text("utf-8")
    section = docs.split("A template file (`verify-service templates check FILE...`", 1)[1]
    printed = section.split("```toml\n", 1)[1].split("```", 1)[0]
    path = write(tmp_path, "shop.toml", printed)
    result = CliRunner().invoke(main, ["templates", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert "ok (2 locales; sms, call, email)" in result.output


def test_a_missing_directory_is_named_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not `VERIFY_TEMPLATES_DIR: VERIFY_TEMPLATES_DIR …`: the caller adds the name."""
    for name in [name for name in __import__("os").environ if name.startswith("VERIFY_")]:
        monkeypatch.delenv(name)
    missing = tmp_path / "templates"
    monkeypatch.setenv("VERIFY_TEMPLATES_DIR", str(missing))
    result = CliRunner().invoke(main, ["keys", "list"])
    assert result.exit_code == 1
    assert (
        f"configuration error: VERIFY_TEMPLATES_DIR: {missing}: not a directory\n" in result.stderr
    )


def test_the_cli_checks_the_templates_dir_when_given_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`verify-service templates check` alone checks what `serve` would read, every file
    reported (not only the first bad one); without the variable it says what to give."""
    for name in [name for name in __import__("os").environ if name.startswith("VERIFY_")]:
        monkeypatch.delenv(name)
    result = CliRunner().invoke(main, ["templates", "check"])
    assert result.exit_code == 2
    assert "give FILE... or set VERIFY_TEMPLATES_DIR" in result.stderr
    good = write(tmp_path, "good.toml", GOOD)
    bad = write(tmp_path, "bad.toml", GOOD.replace("{{code}} is your", "is your"))
    monkeypatch.setenv("VERIFY_TEMPLATES_DIR", str(tmp_path))
    result = CliRunner().invoke(main, ["templates", "check"])
    assert result.exit_code == 1
    assert f"{good}: HJ" in result.stdout
    assert f"error: {bad}: [translations.en] sms" in result.stderr


@pytest.mark.parametrize(
    ("text", "named"),
    [
        # The locale as the file spells it, not the API's canonical `pt-BR`.
        (
            'friendly_name = "Shop"\n[translations.pt_br]\nsms = "no code"\n',
            "[translations.pt_br] sms: {{ code }} exactly once",
        ),
        (
            'friendly_name = "Shop"\n[translations.en]\nemail_subject = "Hi"\n'
            'email_text = "{{code}}"\nemail_html = "<p title={{friendly_name}}>{{code}}</p>"\n',
            "[translations.en] email_html: {{ friendly_name }} is in the unquoted value",
        ),
        (
            'friendly_name = "Shop"\n[translations.en]\nsms = "{{code}} " \n'
            '[translations.fr]\ncall = "{{code}}"\n',
            "[translations.fr]: the same parts in every locale",
        ),
        (
            'friendly_name = "Shop"\n[translations.en]\nsmss = "{{code}}"\n',
            "[translations.en] smss: not a part",
        ),
        (
            'friendly_name = "Shop"\n[translations.xx]\nsms = "{{code}}"\n',
            "[translations.xx]: not a locale",
        ),
        (
            'friendly_name = "Shop"\n[translations.en]\nsms = "{{code}} at shop.example.com"\n',
            "[translations.en] sms: no links or web addresses unless allow_links = true",
        ),
        (
            'friendly_name = "Shop"\ndefault_locale = "fr"\n[translations.en]\nsms = "{{code}}"\n',
            "default_locale: not a locale of [translations]",
        ),
        (
            'friendly_name = "Shop"\n[variables]\nshop = 0\n[translations.en]\nsms = "{{code}}"\n',
            "[variables] shop: 1-100 characters",
        ),
        (
            'friendly_name = "Shop"\n[translations.en]\nsms = "' + "{{code}} " + "W" * 400 + '"\n',
            "[translations.en] sms: the longest SMS",
        ),
    ],
)
def test_file_errors_name_the_table_and_key_the_file_wrote(
    tmp_path: Path, text: str, named: str
) -> None:
    """`templates check` speaks the file's language: `[translations.pt_br] sms`, never
    the API's `Translations.pt-BR.Sms`, `DefaultLocale` or `AllowLinks`."""
    bad = write(tmp_path, "bad.toml", text)
    result = CliRunner().invoke(main, ["templates", "check", str(bad)])
    assert result.exit_code == 1
    assert f"error: {bad}: {named}" in result.stderr
    for api_name in ("Translations", "DefaultLocale", "AllowLinks", "Variables", "Sms"):
        assert api_name not in result.stderr
