"""What the views need from the composition root, kept on the Flask app."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, request

from verify_service.application.protection.rate_limit_catalog import RateLimitCatalog
from verify_service.application.protection.safe_list import SafeList
from verify_service.application.services.service_catalog import ServiceCatalog
from verify_service.application.verifications.verifications import Verifications
from verify_service.domain.messages.email_sender import NO_EMAIL_SENDERS, EmailSenderPolicy
from verify_service.http.access.auth import current_principal

EXTENSION_KEY = "verify_service"


@dataclass(frozen=True, slots=True)
class Components:
    catalog: ServiceCatalog
    verifications: Verifications
    public_url: str | None
    rate_limits: RateLimitCatalog | None = None
    safe_list: SafeList | None = None
    # VERIFY_EMAIL_SENDERS: the senders a start's ChannelConfiguration.from may choose.
    email_senders: EmailSenderPolicy = NO_EMAIL_SENDERS


def components() -> Components:
    found: Components = current_app.extensions[EXTENSION_KEY]
    return found


def base_url() -> str:
    """VERIFY_PUBLIC_URL, or the URL this request reached us at."""
    return components().public_url or request.host_url.rstrip("/")


def account_sid() -> str:
    return current_principal().account_sid
