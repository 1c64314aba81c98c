"""A passkey factor's `config`: the relying party (id, name, origins), authenticator
attachment, discoverable credentials and user verification (WebAuthn Level 3, §5.4).

A factor's config comes from the request's `config`, each absent part from the service's
`Passkeys.*` settings (stored on the Service since before passkeys worked). The relying party
id and at least one origin are required: without them no browser can make a credential the
service could check, so their absence is a 400 naming the setting, never a default guessed
from the request's host.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import idna

from verify_service.domain.errors import InvalidMfaRequest, InvalidParameter
from verify_service.domain.service import Service

MAX_ORIGINS = 10
MAX_ORIGIN_LENGTH = 300  # https:// + a 253-character host + :port
MAX_RELYING_PARTY_NAME_LENGTH = 64
# Unicode categories a shown name may not hold: controls (NUL, newline), format characters
# (bidi overrides, zero-width), surrogates, private-use, unassigned, line/paragraph separators.
_UNSHOWABLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


_E = TypeVar("_E", bound=enum.StrEnum)


class AuthenticatorAttachment(enum.StrEnum):
    PLATFORM = "platform"
    CROSS_PLATFORM = "cross-platform"
    ANY = "any"  # no `authenticatorAttachment` in the creation options


class Requirement(enum.StrEnum):
    """WebAuthn's `residentKey` and `userVerification` values."""

    REQUIRED = "required"
    PREFERRED = "preferred"
    DISCOURAGED = "discouraged"


# Twilio's example factor (twilio_verify_v2.yaml, createPasskeys) shows `preferred` for both;
# `any` attachment lets a user pick a phone or a security key as well as the device itself.
DEFAULT_ATTACHMENT = AuthenticatorAttachment.ANY
DEFAULT_DISCOVERABLE = Requirement.PREFERRED
DEFAULT_USER_VERIFICATION = Requirement.PREFERRED

# An RP id is a registrable domain or `localhost` (WebAuthn §5.1.3 `rp.id`): lower-case
# RFC 1123 labels, no scheme, port or path.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_RP_ID = re.compile(rf"(?=.{{1,253}}\Z){_LABEL}(?:\.{_LABEL})*")


@dataclass(frozen=True, slots=True)
class PasskeyConfig:
    relying_party_id: str
    relying_party_name: str
    origins: tuple[str, ...]
    authenticator_attachment: AuthenticatorAttachment
    discoverable_credentials: Requirement
    user_verification: Requirement

    def as_wire(self) -> dict[str, Any]:
        """Twilio's `config` object of a passkeys factor."""
        return {
            "relying_party": {
                "id": self.relying_party_id,
                "name": self.relying_party_name,
                "origins": list(self.origins),
            },
            "authenticator_attachment": self.authenticator_attachment.value,
            "discoverable_credentials": self.discoverable_credentials.value,
            "user_verification": self.user_verification.value,
        }

    @classmethod
    def from_wire(cls, config: dict[str, Any]) -> PasskeyConfig:
        """Back from `as_wire` (as stored on the factor)."""
        party = config["relying_party"]
        return cls(
            relying_party_id=str(party["id"]),
            relying_party_name=str(party["name"]),
            origins=tuple(str(origin) for origin in party["origins"]),
            authenticator_attachment=AuthenticatorAttachment(config["authenticator_attachment"]),
            discoverable_credentials=Requirement(config["discoverable_credentials"]),
            user_verification=Requirement(config["user_verification"]),
        )


def _ascii_host(value: str) -> str | None:
    """A host name in the form browsers put in an origin and hash as an RP id: lower-case
    ASCII, an internationalised name in its IDNA (`xn--`) form (UTS #46, as the WHATWG URL
    standard); None when it is not a host name (a control character, a space, a name IDNA
    refuses)."""
    if not value or any(unicodedata.category(char)[0] in "CZ" for char in value):
        return None
    if value.isascii():
        return value.lower()
    try:
        return idna.encode(value, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        return None


def require_relying_party_id(value: str, parameter: str) -> str:
    """A registrable domain (or `localhost`), in its ASCII (IDNA) form."""
    rp_id = _ascii_host(value.strip())
    if rp_id is None or not _RP_ID.fullmatch(rp_id):
        raise InvalidMfaRequest(parameter, "a domain name such as example.com, no scheme or port")
    return rp_id


def require_origin(value: str, rp_id: str | None, parameter: str) -> str:
    """An origin a ceremony may run on: `https://host[:port]` with `host` the RP id or one of
    its subdomains (WebAuthn §13.4.9), or `http://localhost[:port]` (or a `*.localhost` name),
    which browsers treat as secure contexts too. The host is kept in its ASCII (IDNA) form,
    the form a browser writes in `clientDataJSON.origin`. `rp_id` None: the form only (a
    service's origins set before its RP id). A refusal never repeats the value."""
    if len(value) > MAX_ORIGIN_LENGTH or any(
        unicodedata.category(char)[0] in "CZ" for char in value.strip()
    ):
        raise InvalidMfaRequest(parameter, "not an origin (https://host[:port])")
    origin = value.strip().rstrip("/")
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        raise InvalidMfaRequest(parameter, "not an origin (https://host[:port])") from None
    host = _ascii_host(parts.hostname or "")
    if host is None or not _RP_ID.fullmatch(host):
        raise InvalidMfaRequest(parameter, "the host is not a domain name")
    scheme = parts.scheme.lower()
    loopback = host == "localhost" or host.endswith(".localhost")  # RFC 6761: loopback
    secure = scheme == "https" or (scheme == "http" and loopback)
    if not secure or parts.path or parts.query or parts.fragment or parts.username:
        raise InvalidMfaRequest(
            parameter, "origins are https://host[:port] (http only for localhost)"
        )
    if rp_id is not None and host != rp_id and not host.endswith("." + rp_id):
        raise InvalidMfaRequest(
            parameter, "the host is not the relying party id nor one of its subdomains"
        )
    default = {"https": 443, "http": 80}[scheme]
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != default else "")


def require_display_name(value: str, parameter: str) -> str:
    """A name a browser shows (the relying party's, in its passkey dialogs): 1-64 characters,
    no control, format or line-separator character (no NUL, no bidi override, no newline)."""
    name = value.strip()
    if not name or len(name) > MAX_RELYING_PARTY_NAME_LENGTH:
        raise InvalidMfaRequest(parameter, f"1-{MAX_RELYING_PARTY_NAME_LENGTH} characters")
    if any(
        unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") for char in name
    ):
        raise InvalidMfaRequest(parameter, "no control or invisible characters")
    return name


def _choice(kind: type[_E], value: Any, parameter: str, default: _E) -> _E:
    if value is None or value == "":
        return default
    try:
        return kind(str(value).strip().lower())
    except ValueError:
        raise InvalidMfaRequest(parameter, ", ".join(member.value for member in kind)) from None


def resolve_passkey_config(requested: dict[str, Any] | None, service: Service) -> PasskeyConfig:
    """The factor's config: `requested` (the request's `config`, Twilio's snake_case keys)
    over the service's `Passkeys.*` settings. A missing relying party id or origin is a 400
    naming both places it may come from."""
    requested = requested or {}
    party = requested.get("relying_party")
    party = {} if party is None else party
    if not isinstance(party, dict):
        raise InvalidMfaRequest("config.relying_party", "an object")
    raw_id = party.get("id") or service.passkeys_relying_party_id
    if not raw_id:
        raise InvalidMfaRequest(
            "config.relying_party.id",
            "no relying party id: give config.relying_party.id or set the service's"
            " Passkeys.RelyingParty.Id",
        )
    parameter = "config.relying_party.id" if party.get("id") else "Passkeys.RelyingParty.Id"
    rp_id = require_relying_party_id(_text(raw_id, parameter), parameter)
    raw_origins = party.get("origins") or service.passkeys_relying_party_origins or ()
    parameter = (
        "config.relying_party.origins" if party.get("origins") else "Passkeys.RelyingParty.Origins"
    )
    if isinstance(raw_origins, str) or not isinstance(raw_origins, list | tuple):
        raise InvalidMfaRequest(parameter, "a list of origins")
    if not raw_origins:
        raise InvalidMfaRequest(
            "config.relying_party.origins",
            "no relying party origin: give config.relying_party.origins or set the service's"
            " Passkeys.RelyingParty.Origins",
        )
    if len(raw_origins) > MAX_ORIGINS:
        raise InvalidMfaRequest(parameter, f"at most {MAX_ORIGINS} origins")
    origins = tuple(
        dict.fromkeys(require_origin(_text(o, parameter), rp_id, parameter) for o in raw_origins)
    )
    raw_name = party.get("name") or service.passkeys_relying_party_name or service.friendly_name
    name = require_display_name(
        _text(raw_name, "config.relying_party.name"), "config.relying_party.name"
    )
    return PasskeyConfig(
        relying_party_id=rp_id,
        relying_party_name=name,
        origins=origins,
        authenticator_attachment=_choice(
            AuthenticatorAttachment,
            requested.get("authenticator_attachment") or service.passkeys_authenticator_attachment,
            "config.authenticator_attachment",
            DEFAULT_ATTACHMENT,
        ),
        discoverable_credentials=_choice(
            Requirement,
            requested.get("discoverable_credentials") or service.passkeys_discoverable_credentials,
            "config.discoverable_credentials",
            DEFAULT_DISCOVERABLE,
        ),
        user_verification=_choice(
            Requirement,
            requested.get("user_verification") or service.passkeys_user_verification,
            "config.user_verification",
            DEFAULT_USER_VERIFICATION,
        ),
    )


def _text(value: Any, parameter: str) -> str:
    if not isinstance(value, str):
        raise InvalidMfaRequest(parameter, "a string")
    return value


def validate_passkey_settings(changes: dict[str, Any], current: Service | None = None) -> None:
    """The service's `Passkeys.*` settings, checked when set (60200 naming the setting), so a
    factor made later does not fail on a setting stored long before. Values are normalised in
    place; an empty value clears a setting. Origins are checked against the RP id the service
    will have (this change's, else `current`'s): on a change of either, both are checked."""
    rp_id = changes.get("passkeys_relying_party_id")
    if rp_id:
        changes["passkeys_relying_party_id"] = _setting(
            require_relying_party_id, rp_id, "Passkeys.RelyingParty.Id"
        )
    elif "passkeys_relying_party_id" in changes:
        changes["passkeys_relying_party_id"] = None
    _validate_origin_settings(changes, current)
    name = changes.get("passkeys_relying_party_name")
    if name is not None:
        changes["passkeys_relying_party_name"] = (
            _setting(require_display_name, name, "Passkeys.RelyingParty.Name")
            if name.strip()
            else None
        )
    for key, kind, wire in (
        ("passkeys_authenticator_attachment", AuthenticatorAttachment, "AuthenticatorAttachment"),
        ("passkeys_discoverable_credentials", Requirement, "DiscoverableCredentials"),
        ("passkeys_user_verification", Requirement, "UserVerification"),
    ):
        value = changes.get(key)
        if value is None:
            continue
        if not value.strip():
            changes[key] = None
            continue
        try:
            changes[key] = kind(value.strip().lower()).value
        except ValueError:
            allowed = ", ".join(member.value for member in kind)
            raise InvalidParameter(f"Passkeys.{wire}", allowed) from None


def _validate_origin_settings(changes: dict[str, Any], current: Service | None) -> None:
    """`Passkeys.RelyingParty.Origins`: at most MAX_ORIGINS origins, each one
    `require_origin` accepts for the effective RP id (normalised in place)."""
    parameter = "Passkeys.RelyingParty.Origins"
    if "passkeys_relying_party_id" in changes:
        rp_id = changes["passkeys_relying_party_id"]
    else:
        rp_id = current.passkeys_relying_party_id if current is not None else None
    if "passkeys_relying_party_origins" in changes:
        origins = changes["passkeys_relying_party_origins"]
    elif "passkeys_relying_party_id" in changes and current is not None:
        origins = current.passkeys_relying_party_origins  # still on the new RP id?
    else:
        return
    if not origins:
        return  # none set (or cleared)
    if len(origins) > MAX_ORIGINS:
        raise InvalidParameter(parameter, f"at most {MAX_ORIGINS} origins")
    checked = tuple(
        dict.fromkeys(
            _setting(lambda value, name: require_origin(value, rp_id, name), str(o), parameter)
            for o in origins
        )
    )
    if "passkeys_relying_party_origins" in changes:
        changes["passkeys_relying_party_origins"] = checked


def _setting(rule: Any, value: str, parameter: str) -> str:
    """A factor-config rule applied to a service setting: 60200 (the Service's code)."""
    try:
        checked: str = rule(value, parameter)
    except InvalidMfaRequest as exc:
        raise InvalidParameter(parameter, exc.reason) from None
    return checked


def sign_in_origins(config: PasskeyConfig, service: Service) -> tuple[str, ...]:
    """The origins a factor signs in from now: its own, narrowed to the service's current
    `Passkeys.RelyingParty.Origins` when the service sets some (an operator who removes an
    origin removes it for every existing passkey too). Compared in normalised form."""
    own = _normalised_origins(config.origins)
    if not service.passkeys_relying_party_origins:
        return own
    current = set(_normalised_origins(service.passkeys_relying_party_origins))
    return tuple(origin for origin in own if origin in current)


def sign_in_requires_user_verification(config: PasskeyConfig, service: Service) -> bool:
    """User verification at sign-in: required when the factor's config or the service's
    current `Passkeys.UserVerification` requires it (raising the service's setting reaches
    every existing passkey)."""
    return (
        config.user_verification is Requirement.REQUIRED
        or (service.passkeys_user_verification or "").strip().lower() == Requirement.REQUIRED.value
    )


def _normalised_origins(origins: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """`require_origin`'s form of each origin (one stored before it normalised as it does
    now); one it refuses is dropped (it can never match a browser's origin)."""
    kept: dict[str, None] = {}
    for origin in origins:
        try:
            kept[require_origin(str(origin), None, "origins")] = None
        except InvalidMfaRequest:
            continue
    return tuple(kept)
