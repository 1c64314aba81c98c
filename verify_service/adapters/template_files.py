"""Templates from files: `VERIFY_TEMPLATES_DIR`, one template per `*.toml` file.

Read and checked at start-up like a template made through the API (domain/templates/
checks.py): a file that fails a check stops the service with a message naming the file,
and the table and key as the file writes them (`[translations.fr] sms`, not the API's
`Translations.fr.Sms`: `file_field`). The sid is the file's `sid` if it has one, else
derived from the file name (`HJ` + 32 hex digits of SHA-256 of `file:<name without
.toml>`), so it stays the same across restarts and machines. File templates are read-only
through the API.

    friendly_name = "Acme"
    default_locale = "en"      # optional: "en" if present, else the first locale
    allow_links = false        # optional
    [variables]                # optional: name = longest value
    app = 20
    [translations.en]
    sms = "{{code}} is your {{friendly_name}} code for {{app}}"
    call = "Your code is {{code}}"
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from verify_service.domain import sids
from verify_service.domain.errors import InvalidParameter
from verify_service.domain.templates.builtin import BUILTIN_TEMPLATE_SID
from verify_service.domain.templates.checks import build_template, canonical_locale
from verify_service.domain.templates.template import MessageTemplate, Part, Source, derived_sid

_KEYS = frozenset(
    {"sid", "friendly_name", "default_locale", "allow_links", "variables", "translations"}
)
MAX_TEMPLATE_FILE_BYTES = 65_536


class TemplateFileError(Exception):
    """A template file cannot be used: names the file and the field."""


def file_template_sid(path: Path) -> str:
    return derived_sid(f"file:{path.stem}")


def load_template_file(path: Path) -> MessageTemplate:
    try:
        raw = path.read_bytes()
        if len(raw) > MAX_TEMPLATE_FILE_BYTES:
            raise TemplateFileError(f"{path}: larger than {MAX_TEMPLATE_FILE_BYTES} bytes")
        values = tomllib.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TemplateFileError(f"{path}: cannot be read as TOML: {exc}") from None
    unknown = sorted(set(values) - _KEYS)
    if unknown:
        raise TemplateFileError(f"{path}: unknown keys {unknown} (known: {sorted(_KEYS)})")
    sid = values.pop("sid", None) or file_template_sid(path)
    if not isinstance(sid, str) or not sids.is_sid(sid, "HJ"):
        raise TemplateFileError(f"{path}: sid: HJ and 32 lower-case hex digits")
    if sid == BUILTIN_TEMPLATE_SID:  # it would replace the built-in wording everywhere
        raise TemplateFileError(f"{path}: sid: {sid} is the built-in template's")
    if not isinstance(values.get("allow_links", False), bool):
        raise TemplateFileError(f"{path}: allow_links: true or false")
    try:
        modified_ms = int(path.stat().st_mtime * 1000)  # the file's dates, as listed
        return build_template(
            sid=sid,
            source=Source.FILE,
            date_created_ms=modified_ms,
            date_updated_ms=modified_ms,
            **values,
        )
    except InvalidParameter as exc:
        field = file_field(exc.parameter, values.get("translations"))
        raise TemplateFileError(f"{path}: {field}: {file_reason(exc.reason)}") from None


# The API's parameters (`Translations.fr.EmailHtml`) as the file writes them.
_TOP_KEYS = {
    "FriendlyName": "friendly_name",
    "DefaultLocale": "default_locale",
    "AllowLinks": "allow_links",
}
_PART_KEYS = {part.wire_name: part.value for part in Part}
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_REASONS = {
    "unless AllowLinks": "unless allow_links = true",
    "not a locale of Translations": "not a locale of [translations]",
}


def file_field(parameter: str, translations: object) -> str:
    """`parameter` (`build_template`'s error) as the file's own table and key:
    `Translations.pt-BR.EmailHtml` is `[translations.pt_br] email_html` when the file wrote
    `[translations.pt_br]`; `Variables.shop` is `[variables] shop`."""
    head, _, rest = parameter.partition(".")
    if head in _TOP_KEYS:
        return _TOP_KEYS[head]
    if head == "Variables":
        return f"[variables] {rest}" if rest else "[variables]"
    if head != "Translations" or not rest:
        return "[translations]" if head == "Translations" else parameter
    keys = [str(key) for key in translations] if isinstance(translations, dict) else []
    # The key as written first (`given twice` names the second spelling), then as read.
    for key, name in [(key, key) for key in keys] + [(key, canonical_locale(key)) for key in keys]:
        table = f"[translations.{key if _BARE_KEY.fullmatch(key) else json.dumps(key)}]"
        if rest == name:
            return table
        if name is not None and rest.startswith(f"{name}."):
            part = rest[len(f"{name}.") :]
            return f"{table} {_PART_KEYS.get(part, part)}"
    return parameter


def file_reason(reason: str) -> str:
    for api_words, file_words in _REASONS.items():
        reason = reason.replace(api_words, file_words)
    return reason


def load_template_dir(directory: str | None) -> list[MessageTemplate]:
    """Every `*.toml` of `directory` (by name), checked; none when `directory` is None."""
    if not directory:
        return []
    root = Path(directory)
    if not root.is_dir():
        raise TemplateFileError(f"{directory}: not a directory")
    loaded: dict[str, MessageTemplate] = {}
    for path in sorted(root.glob("*.toml")):
        template = load_template_file(path)
        if template.sid in loaded:
            raise TemplateFileError(f"{path}: sid {template.sid} given by another file too")
        loaded[template.sid] = template
    return list(loaded.values())
