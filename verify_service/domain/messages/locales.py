"""Locales a verification may ask for (Twilio Verify's list, reference notes §6)."""

from __future__ import annotations

from verify_service.domain.errors import InvalidParameter

_LOCALE_LIST = (
    "af ar ca zh zh-CN zh-HK hr cs da nl en en-GB et fi fr de el he hi hu id it ja kn ko lt "
    "ms mr nb pl pt pt-BR ro ru sk es sv tl te th tr vi"
)
SUPPORTED_LOCALES = frozenset(_LOCALE_LIST.split())
_BY_LOWER = {locale.lower(): locale for locale in SUPPORTED_LOCALES}


def require_supported_locale(value: str) -> str:
    """The canonical spelling of a supported locale (`pt_br` -> `pt-BR`), else 60200."""
    canonical = _BY_LOWER.get(value.strip().replace("_", "-").lower())
    if canonical is None:
        raise InvalidParameter("Locale", "unsupported locale")
    return canonical
