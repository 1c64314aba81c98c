"""Twilio's JSON shapes (snake_case, every field of the spec, absolute URLs)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from verify_service.application.access.api_keys import ApiKey
from verify_service.application.attempts.attempts import Attempt, AttemptSummary, Tally
from verify_service.application.delivery.delivery_receipts import AttemptRecord
from verify_service.application.protection.safe_list import SafeListEntry
from verify_service.domain.models import Channel, Verification
from verify_service.domain.protection.number_intelligence import describe, lookup_json
from verify_service.domain.protection.rate_limits import Bucket, RateLimit
from verify_service.domain.service import Service


def twilio_time(epoch_ms: int) -> str:
    """`YYYY-MM-DDTHH:MM:SSZ`, the only form the SDK parses into a datetime."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_ms // 1000))


def service_json(service: Service, account_sid: str, base_url: str) -> dict[str, Any]:
    url = f"{base_url}/v2/Services/{service.sid}"
    return {
        "sid": service.sid,
        "account_sid": account_sid,
        "friendly_name": service.friendly_name,
        "code_length": service.code_length,
        "lookup_enabled": service.lookup_enabled,
        "psd2_enabled": service.psd2_enabled,
        "skip_sms_to_landlines": service.skip_sms_to_landlines,
        "dtmf_input_required": service.dtmf_input_required,
        "tts_name": service.tts_name,
        "do_not_share_warning_enabled": service.do_not_share_warning_enabled,
        "custom_code_enabled": service.custom_code_enabled,
        "push": {
            "include_date": service.push_include_date,
            "apn_credential_sid": service.push_apn_credential_sid,
            "fcm_credential_sid": service.push_fcm_credential_sid,
        },
        "totp": {
            "issuer": service.totp_issuer,
            "time_step": service.totp_time_step,
            "code_length": service.totp_code_length,
            "skew": service.totp_skew,
        },
        "default_template_sid": service.default_template_sid,
        "whatsapp": {
            "msg_service_sid": service.whatsapp_msg_service_sid,
            "from": service.whatsapp_from,
        },
        "passkeys": {
            "relying_party": {
                "id": service.passkeys_relying_party_id,
                "name": service.passkeys_relying_party_name,
                "origins": list(service.passkeys_relying_party_origins)
                if service.passkeys_relying_party_origins is not None
                else None,
            },
            "authenticator_attachment": service.passkeys_authenticator_attachment,
            "discoverable_credentials": service.passkeys_discoverable_credentials,
            "user_verification": service.passkeys_user_verification,
        },
        "verify_event_subscription_enabled": service.verify_event_subscription_enabled,
        "verification_ttl_seconds": service.verification_ttl_seconds,
        "webotp_domain": service.webotp_domain,
        "fallback_channels": [channel.value for channel in service.fallback_channels],
        "fallback_after_seconds": service.fallback_after_seconds,
        "sends_per_destination_per_hour": service.sends_per_destination_per_hour,
        "sends_per_destination_per_day": service.sends_per_destination_per_day,
        "checks_per_destination_per_hour": service.checks_per_destination_per_hour,
        "starts_per_service_per_minute": service.starts_per_service_per_minute,
        "starts_per_device_ip_per_hour": service.starts_per_device_ip_per_hour,
        "daily_send_cap": service.daily_send_cap,
        "daily_country_send_cap": service.daily_country_send_cap,
        "daily_email_send_cap": service.daily_email_send_cap,
        "geo_permissions": service.geo_permissions,
        "fraud_guard": {
            "mode": service.fraud_guard_mode,
            "min_sends": service.fraud_guard_min_sends,
            "min_approval_rate": service.fraud_guard_min_approval_rate,
            "window_seconds": service.fraud_guard_window_seconds,
            "cooldown_seconds": service.fraud_guard_cooldown_seconds,
        },
        # The fixed codes are write-only, like secrets: only the destinations are shown.
        "test_destinations": [destination for destination, _code in service.test_destinations],
        "date_created": twilio_time(service.date_created_ms),
        "date_updated": twilio_time(service.date_updated_ms),
        "url": url,
        "links": {
            "verification_checks": f"{url}/VerificationCheck",
            "verifications": f"{url}/Verifications",
            "rate_limits": f"{url}/RateLimits",
            "messaging_configurations": f"{url}/MessagingConfigurations",
            "entities": f"{url}/Entities",
            "webhooks": f"{url}/Webhooks",
            "access_tokens": f"{url}/AccessTokens",
        },
    }


def _verification_common(verification: Verification, account_sid: str) -> dict[str, Any]:
    return {
        "sid": verification.sid,
        "service_sid": verification.service_sid,
        "account_sid": account_sid,
        "to": verification.to,
        "channel": verification.channel.value,
        "status": verification.status.value,
        "valid": verification.valid,
        "amount": verification.amount,
        "payee": verification.payee,
        "date_created": twilio_time(verification.created_ms),
        "date_updated": twilio_time(verification.updated_ms),
    }


def verification_json(
    verification: Verification, account_sid: str, base_url: str
) -> dict[str, Any]:
    body = _verification_common(verification, account_sid)
    body["lookup"] = (
        lookup_json(describe(verification.to, with_carrier=True))
        if verification.lookup_enabled and verification.channel is not Channel.EMAIL
        else {}
    )
    body["send_code_attempts"] = [
        {
            "time": twilio_time(attempt.time_ms),
            "channel": attempt.channel.value.upper(),
            "attempt_sid": attempt.sid,
        }
        for attempt in verification.send_attempts
    ]
    body["sna"] = None
    body["url"] = (
        f"{base_url}/v2/Services/{verification.service_sid}/Verifications/{verification.sid}"
    )
    return body


def verification_check_json(verification: Verification, account_sid: str) -> dict[str, Any]:
    body = _verification_common(verification, account_sid)
    body["sna_attempts_error_codes"] = None
    return body


def page_json(
    key: str,
    records: list[dict[str, Any]],
    list_url: str,
    page: int,
    page_size: int,
    has_more: bool,
    filters: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Twilio's list envelope; `next_page_url` is absolute, and the SDK follows it verbatim,
    so it carries the list's `filters` (query parameters) too."""

    def page_url(number: int) -> str:
        return f"{list_url}?{urlencode({**(filters or {}), 'PageSize': page_size, 'Page': number})}"

    return {
        key: records,
        "meta": {
            "page": page,
            "page_size": page_size,
            "first_page_url": page_url(0),
            "previous_page_url": page_url(page - 1) if page > 0 else None,
            "url": page_url(page),
            "next_page_url": page_url(page + 1) if has_more else None,
            "key": key,
        },
    }


def _optional_time(epoch_ms: int | None) -> str | None:
    return None if epoch_ms is None else twilio_time(epoch_ms)


def delivery_attempt_json(record: AttemptRecord, base_url: str) -> dict[str, Any]:
    """One send attempt's delivery status (extension); never the destination."""
    return {
        "attempt_sid": record.attempt_sid,
        "verification_sid": record.verification_sid,
        "service_sid": record.service_sid,
        "channel": record.channel,
        "status": record.status,
        "provider": record.provider,
        "messaging_service_sid": record.messaging_service_sid,
        "provider_message_id": record.provider_message_id,
        "error_code": record.error_code,
        "date_created": _optional_time(record.created_ms),
        "date_updated": _optional_time(record.updated_ms),
        "date_sent": _optional_time(record.sent_ms),
        "date_delivered": _optional_time(record.delivered_ms),
        "url": f"{base_url}/v2/DeliveryAttempts/{record.attempt_sid}",
    }


def delivery_attempts_json(
    records: list[AttemptRecord], list_url: str, base_url: str
) -> dict[str, Any]:
    """A verification's attempts in send order (at most 5: one page, no paging)."""
    return {
        "delivery_attempts": [delivery_attempt_json(record, base_url) for record in records],
        "meta": {"key": "delivery_attempts", "url": list_url},
    }


def rate_limit_json(rate_limit: RateLimit, account_sid: str, base_url: str) -> dict[str, Any]:
    url = f"{base_url}/v2/Services/{rate_limit.service_sid}/RateLimits/{rate_limit.sid}"
    return {
        "sid": rate_limit.sid,
        "service_sid": rate_limit.service_sid,
        "account_sid": account_sid,
        "unique_name": rate_limit.unique_name,
        "description": rate_limit.description,
        "date_created": twilio_time(rate_limit.created_ms),
        "date_updated": twilio_time(rate_limit.updated_ms),
        "url": url,
        "links": {"buckets": f"{url}/Buckets"},
    }


def bucket_json(bucket: Bucket, account_sid: str, base_url: str) -> dict[str, Any]:
    return {
        "sid": bucket.sid,
        "rate_limit_sid": bucket.rate_limit_sid,
        "service_sid": bucket.service_sid,
        "account_sid": account_sid,
        "max": bucket.max,
        "interval": bucket.interval,
        "date_created": twilio_time(bucket.created_ms),
        "date_updated": twilio_time(bucket.updated_ms),
        "url": f"{base_url}/v2/Services/{bucket.service_sid}/RateLimits/"
        f"{bucket.rate_limit_sid}/Buckets/{bucket.sid}",
    }


def safe_list_json(entry: SafeListEntry, base_url: str) -> dict[str, Any]:
    """Twilio's `verify.v2.safelist`: the path segment is the number with its literal `+`,
    as Twilio's own URLs show it."""
    return {
        "sid": entry.sid,
        "phone_number": entry.phone_number,
        "url": f"{base_url}/v2/SafeList/Numbers/{entry.phone_number}",
    }


def api_key_json(key: ApiKey, base_url: str, secret: str | None = None) -> dict[str, Any]:
    """Twilio's Key resource (`sid`, `friendly_name`, dates, `secret` in the create answer
    only) plus the extensions `role` and `url`. Never a digest of the secret."""
    body: dict[str, Any] = {
        "sid": key.sid,
        "friendly_name": key.friendly_name,
        "date_created": twilio_time(key.created_ms),
        "date_updated": twilio_time(key.updated_ms),
    }
    if secret is not None:
        body["secret"] = secret
    body["role"] = key.role
    body["url"] = f"{base_url}/v2/Keys/{key.sid}"
    return body


def attempt_json(attempt: Attempt, account_sid: str, base_url: str) -> dict[str, Any]:
    """Twilio's `verify.v2.verification_attempt`. `channel_data.to` is masked (Twilio shows
    the number); `status` is Twilio's attempt status, `message_status` the delivery status,
    and `attempt_sid`, `provider`, `messaging_service_sid` (the route that sent it, null for
    the global list) are ours."""
    return {
        "sid": attempt.sid,
        "account_sid": account_sid,
        "service_sid": attempt.service_sid,
        "verification_sid": attempt.verification_sid,
        "date_created": twilio_time(attempt.created_ms),
        "date_updated": twilio_time(attempt.updated_ms),
        "conversion_status": "converted" if attempt.converted else "unconverted",
        "channel": attempt.channel,
        "price": None,
        "channel_data": {
            "verification_sid": attempt.verification_sid,
            "attempt_sid": attempt.sid,
            "to": attempt.masked_to,
            "status": _ATTEMPT_STATUS.get(attempt.outcome, "expired"),
            "message_status": attempt.delivery_status,
            "error_code": attempt.error_code,
            "country": attempt.country,
            "provider": attempt.provider,
            "messaging_service_sid": attempt.messaging_service_sid,
        },
        "url": f"{base_url}/v2/Attempts/{attempt.sid}",
    }


# How the attempt's verification stands, in Twilio's attempt statuses.
_ATTEMPT_STATUS = {"approved": "confirmed", "pending": "unconfirmed"}


def attempts_page_json(
    records: list[dict[str, Any]],
    list_url: str,
    filters: dict[str, str],
    page: int,
    page_size: int,
    next_token: str | None,
) -> dict[str, Any]:
    """Twilio's list envelope; the page URLs carry the filters (the SDK follows them
    verbatim), the next one a `PageToken` to go on from."""

    def url(number: int, token: str | None = None) -> str:
        query = {**filters, "PageSize": page_size, "Page": number}
        if token is not None:
            query["PageToken"] = token
        return f"{list_url}?{urlencode(query)}"

    return {
        "attempts": records,
        "meta": {
            "page": page,
            "page_size": page_size,
            "first_page_url": url(0),
            "previous_page_url": None,
            "url": url(page),
            "next_page_url": url(page + 1, next_token) if next_token is not None else None,
            "key": "attempts",
        },
    }


def _tally_json(tally: Tally) -> dict[str, Any]:
    return {
        "total_attempts": tally.total,
        "total_converted": tally.converted,
        "total_unconverted": tally.unconverted,
        "conversion_rate_percentage": tally.rate_percentage,
    }


def attempts_summary_json(summary: AttemptSummary, base_url: str) -> dict[str, Any]:
    """Twilio's `verify.v2.verification_attempts_summary`, plus `by_channel`, `by_country`
    and `complete` (extensions)."""
    return {
        **_tally_json(summary.overall),
        "url": f"{base_url}/v2/Attempts/Summary",
        "by_channel": {name: _tally_json(t) for name, t in sorted(summary.by_channel.items())},
        "by_country": {name: _tally_json(t) for name, t in sorted(summary.by_country.items())},
        "complete": summary.complete,
    }
