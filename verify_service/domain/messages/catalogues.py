"""The compiled gettext catalogues under `verify_service/locales/`, one per shipped locale.

The service reads the committed `.mo` files with the standard library's `gettext`: no
i18n package at run time, and nothing to compile at start-up. `pybabel compile` writes
them from the `.po` sources, and a unit test fails when a `.mo` lags behind its `.po`
(docs/messages.md explains the workflow and the choice).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from gettext import GNUTranslations, NullTranslations
from importlib.resources import files
from importlib.resources.abc import Traversable

from verify_service.domain.messages.catalogue_checks import CatalogueError, check_catalogue
from verify_service.domain.messages.locales import SUPPORTED_LOCALES
from verify_service.domain.messages.message_templates import LocaleStyle

SOURCE_LOCALE = "en"
CATALOGUE_DOMAIN = "messages"

# Catalogue folder per locale, where it is not the locale spelt gettext's way (pt-BR ->
# pt_BR). zh-CN reads the simplified-Chinese `zh` catalogue; the source has none.
_FOLDER_OF_LOCALE: dict[str, str | None] = {SOURCE_LOCALE: None, "zh-CN": "zh"}

# BCP-47 tag for the text-to-speech voice of a call in each locale.
VOICE_LANGUAGE: dict[str, str] = {
    "af": "af-ZA",
    "ar": "ar-AE",
    "ca": "ca-ES",
    "cs": "cs-CZ",
    "da": "da-DK",
    "de": "de-DE",
    "el": "el-GR",
    "en": "en-US",
    "en-GB": "en-GB",
    "es": "es-ES",
    "et": "et-EE",
    "fi": "fi-FI",
    "fr": "fr-FR",
    "he": "he-IL",
    "hi": "hi-IN",
    "hr": "hr-HR",
    "hu": "hu-HU",
    "id": "id-ID",
    "it": "it-IT",
    "ja": "ja-JP",
    "kn": "kn-IN",
    "ko": "ko-KR",
    "lt": "lt-LT",
    "mr": "mr-IN",
    "ms": "ms-MY",
    "nb": "nb-NO",
    "nl": "nl-NL",
    "pl": "pl-PL",
    "pt": "pt-PT",
    "pt-BR": "pt-BR",
    "ro": "ro-RO",
    "ru": "ru-RU",
    "sk": "sk-SK",
    "sv": "sv-SE",
    "te": "te-IN",
    "th": "th-TH",
    "tl": "fil-PH",  # Tagalog voices are listed under Filipino
    "tr": "tr-TR",
    "vi": "vi-VN",
    "zh": "zh-CN",
    "zh-CN": "zh-CN",
    "zh-HK": "zh-HK",  # Cantonese
}
RIGHT_TO_LEFT = frozenset({"ar", "he"})


@dataclass(frozen=True, slots=True)
class LocaleCatalogue:
    """A locale's words (its translations) and what else it needs (its style)."""

    style: LocaleStyle
    translations: NullTranslations


def default_catalogue_root() -> Traversable:
    """`verify_service/locales`, wherever the package is installed."""
    return files("verify_service").joinpath("locales")


def catalogue_folder(locale: str) -> str | None:
    """The folder of a locale's catalogue (`pt-BR` -> `pt_BR`), None for the source."""
    return _FOLDER_OF_LOCALE.get(locale, locale.replace("-", "_"))


def load_catalogues(
    root: Traversable | None = None, locales: frozenset[str] = SUPPORTED_LOCALES
) -> Mapping[str, LocaleCatalogue]:
    """Every locale's catalogue, each checked (`catalogue_checks`); raises CatalogueError."""
    root = root or default_catalogue_root()
    loaded = {}
    for locale in sorted(locales):
        style = LocaleStyle(locale, VOICE_LANGUAGE[locale], locale in RIGHT_TO_LEFT)
        folder = catalogue_folder(locale)
        translations = NullTranslations() if folder is None else _read(root, folder, locale)
        check_catalogue(style, translations, source=folder is None)
        loaded[locale] = LocaleCatalogue(style, translations)
    return loaded


def _read(root: Traversable, folder: str, locale: str) -> GNUTranslations:
    path = root.joinpath(folder, "LC_MESSAGES", f"{CATALOGUE_DOMAIN}.mo")
    try:
        with path.open("rb") as compiled:
            return GNUTranslations(compiled)
    except (OSError, ValueError) as exc:  # missing, or not a .mo file
        raise CatalogueError(f"{locale}: cannot read {folder}/LC_MESSAGES: {exc}") from exc
