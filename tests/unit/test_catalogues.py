"""The gettext catalogues: complete, faithful to their templates, compiled, and short enough.

Babel reads the `.po`/`.pot` sources here; the service itself reads only the committed
`.mo` files (docs/messages.md, "Compiled catalogues").
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from verify_service.domain.messages.catalogue_checks import (
    MAX_SMS_SEGMENTS,
    CatalogueError,
    placeholders,
    worst_case_sms_sizes,
)
from verify_service.domain.messages.catalogues import (
    SOURCE_LOCALE,
    catalogue_folder,
    default_catalogue_root,
    load_catalogues,
)
from verify_service.domain.messages.locales import SUPPORTED_LOCALES
from verify_service.domain.messages.message_templates import CODE, DO_NOT_SHARE, TEMPLATES
from verify_service.domain.messages.sms_encoding import SmsEncoding

ROOT = Path(str(default_catalogue_root()))
TEMPLATES_SOURCE = Path(__file__).parents[2] / "verify_service/domain/messages/message_templates.py"
FOLDERS = sorted(path.parent.parent.name for path in ROOT.glob("*/LC_MESSAGES/messages.po"))


def po(folder: str) -> Catalog:
    with (ROOT / folder / "LC_MESSAGES/messages.po").open("rb") as source:
        return read_po(source)


def translations(catalog: Catalog) -> dict[str, str]:
    """msgid -> msgstr of the entries gettext would use (translated, not fuzzy)."""
    return {
        str(message.id): str(message.string)
        for message in catalog
        if message.id and message.string and not message.fuzzy
    }


def test_there_is_a_catalogue_for_every_twilio_locale_but_the_source() -> None:
    """42 locales: English is the source, zh-CN reads `zh`; every other has its folder."""
    expected = {catalogue_folder(locale) for locale in SUPPORTED_LOCALES} - {None}
    assert set(FOLDERS) == expected
    assert len(FOLDERS) == 40
    assert catalogue_folder(SOURCE_LOCALE) is None


def test_the_template_file_lists_every_message_of_the_source() -> None:
    """`messages.pot` is up to date with `message_templates.py` (rerun `pybabel extract`)."""
    extracted = {
        message
        for _line, message, _comments, _context in extract_from_file(
            "python", str(TEMPLATES_SOURCE), keywords={"N_": None}
        )
    }
    with (ROOT / "messages.pot").open("rb") as source:
        template = {str(message.id) for message in read_po(source) if message.id}
    assert extracted == template == set(TEMPLATES)


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_catalogue_translates_every_message_and_keeps_its_placeholders(
    folder: str,
) -> None:
    """No message left to English, none obsolete, every `%(name)s` kept."""
    catalog = po(folder)
    translated = translations(catalog)
    assert set(translated) == set(TEMPLATES)
    for template, text in translated.items():
        assert placeholders(text) == placeholders(template), template
        assert text.count("%") == template.count("%"), "a stray % breaks formatting"
    assert list(catalog.check()) == []  # Babel's own python-format checks


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_compiled_catalogue_is_up_to_date_with_its_source(folder: str) -> None:
    """The committed `.mo` holds exactly the `.po`'s translations (rerun `pybabel compile`)."""
    with (ROOT / folder / "LC_MESSAGES/messages.mo").open("rb") as compiled:
        assert translations(read_mo(compiled)) == translations(po(folder))


def test_no_compiled_catalogue_is_left_without_its_source() -> None:
    """A `.mo` whose `.po` was removed would still be loaded."""
    compiled = sorted(path.parent.parent.name for path in ROOT.glob("*/LC_MESSAGES/*.mo"))
    assert compiled == FOLDERS


# -- the length budget -----------------------------------------------------------------------


@pytest.mark.parametrize("locale", sorted(SUPPORTED_LOCALES))
def test_the_worst_case_sms_fits_in_two_parts(locale: str) -> None:
    """30-character name, 10-digit code, warning: 2 parts in every locale; with PSD2 terms,
    an app hash and a WebOTP line too, 2 GSM-7 or 4 UCS-2 parts (docs/messages.md)."""
    catalogue = load_catalogues(locales=frozenset({locale}))[locale]
    sizes = worst_case_sms_sizes(catalogue.style, catalogue.translations)
    assert sizes["warning only"].segments <= MAX_SMS_SEGMENTS
    every = sizes["every option"]
    limit = MAX_SMS_SEGMENTS if every.encoding is SmsEncoding.GSM7 else 4
    assert every.segments <= limit


def test_the_english_sms_is_gsm7_once_on_the_wire() -> None:
    """Twilio's typographic apostrophe is UCS-2; the wire text swaps it and stays GSM-7."""
    catalogue = load_catalogues(locales=frozenset({"en"}))["en"]
    sizes = worst_case_sms_sizes(catalogue.style, catalogue.translations)
    assert sizes["every option"].encoding is SmsEncoding.GSM7
    assert sizes["every option"].segments == 2


# -- a broken catalogue stops the service --------------------------------------------------


@pytest.fixture
def french(tmp_path: Path) -> Path:
    """A copy of the catalogues whose French one each test may break."""
    shutil.copytree(ROOT, tmp_path / "locales")
    return tmp_path / "locales"


def recompile(root: Path, template: str, text: str) -> None:
    """Rewrite the French `.mo` with `template` translated as `text` ('' leaves it out)."""
    catalog = po("fr")
    catalog[template].string = text
    with (root / "fr/LC_MESSAGES/messages.mo").open("wb") as compiled:
        write_mo(compiled, catalog)


def test_the_shipped_catalogues_load() -> None:
    """The package's own catalogues pass every check."""
    assert set(load_catalogues()) == SUPPORTED_LOCALES


def test_a_missing_translation_is_a_configuration_error(french: Path) -> None:
    """Untranslated is an error, not a silent English sentence in a French SMS."""
    recompile(french, CODE, "")
    with pytest.raises(CatalogueError, match="fr: no translation"):
        load_catalogues(french, frozenset({"fr"}))


def test_a_translation_that_drops_the_code_is_a_configuration_error(french: Path) -> None:
    """A message without its code must never be sent."""
    recompile(french, CODE, "Votre code de vérification %(friendly_name)s")
    with pytest.raises(CatalogueError, match="placeholders"):
        load_catalogues(french, frozenset({"fr"}))


def test_a_translation_over_two_parts_is_a_configuration_error(french: Path) -> None:
    """A long warning would make every French SMS cost 3 parts: refused at load."""
    recompile(french, DO_NOT_SHARE, "%(message)s. " + "Ne le partagez avec personne. " * 6)
    with pytest.raises(CatalogueError, match=r"fr: the worst-case SMS .* GSM-7 parts, more than 2"):
        load_catalogues(french, frozenset({"fr"}))


def test_an_unreadable_catalogue_is_a_configuration_error(french: Path) -> None:
    """A missing or corrupt `.mo` stops the load and names the locale."""
    (french / "fr/LC_MESSAGES/messages.mo").write_bytes(b"not a catalogue")
    with pytest.raises(CatalogueError, match="fr: cannot read"):
        load_catalogues(french, frozenset({"fr"}))
