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
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from verify_service.domain.errors import InvalidMfaRequest, InvalidParameter
from verify_service.domain.service import Service

MAX_ORIGINS = 10
MAX_RELYING_PARTY_NAME_LENGTH = 64


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


def require_relying_party_id(value: str, parameter: str) -> str:
    rp_id = value.strip().lower()
    if not _RP_ID.fullmatch(rp_id):
        raise InvalidMfaRequest(parameter, "a domain name such as example.com, no scheme or port")
    return rp_id


def require_origin(value: str, rp_id: str, parameter: str) -> str:
    """An origin a ceremony may run on: `https://host[:port]` with `host` the RP id or one of
    its subdomains (WebAuthn §13.4.9), or `http://localhost[:port]` (or a `*.localhost` name),
    which browsers treat as secure contexts too."""
    origin = value.strip().lower().rstrip("/")
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        raise InvalidMfaRequest(parameter, f"{value!r} is not an origin") from None
    host = parts.hostname or ""
    loopback = host == "localhost" or host.endswith(".localhost")  # RFC 6761: loopback
    secure = parts.scheme == "https" or (parts.scheme == "http" and loopback)
    if not secure or parts.path or parts.query or parts.fragment or parts.username:
        raise InvalidMfaRequest(
            parameter, "origins are https://host[:port] (http only for localhost)"
        )
    if host != rp_id and not host.endswith("." + rp_id):
        raise InvalidMfaRequest(parameter, f"{host} is not {rp_id} nor one of its subdomains")
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


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
    name = _text(raw_name, "config.relying_party.name").strip()
    if not name or len(name) > MAX_RELYING_PARTY_NAME_LENGTH:
        raise InvalidMfaRequest(
            "config.relying_party.name", f"1-{MAX_RELYING_PARTY_NAME_LENGTH} characters"
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


def validate_passkey_settings(changes: dict[str, Any]) -> None:
    """The service's `Passkeys.*` settings, checked when set (60200 naming the setting), so a
    factor made later does not fail on a setting stored long before. Values are normalised in
    place; an empty value clears a setting."""
    rp_id = changes.get("passkeys_relying_party_id")
    if rp_id:
        changes["passkeys_relying_party_id"] = _setting(
            require_relying_party_id, rp_id, "Passkeys.RelyingParty.Id"
        )
    elif "passkeys_relying_party_id" in changes:
        changes["passkeys_relying_party_id"] = None
    name = changes.get("passkeys_relying_party_name")
    if name is not None and len(name.strip()) > MAX_RELYING_PARTY_NAME_LENGTH:
        raise InvalidParameter(
            "Passkeys.RelyingParty.Name", f"at most {MAX_RELYING_PARTY_NAME_LENGTH} characters"
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


def _setting(rule: Any, value: str, parameter: str) -> str:
    """A factor-config rule applied to a service setting: 60200 (the Service's code)."""
    try:
        checked: str = rule(value, parameter)
    except InvalidMfaRequest as exc:
        raise InvalidParameter(parameter, exc.reason) from None
    return checked
