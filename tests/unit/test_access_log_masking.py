"""The opt-in access log (`serve --access-log`) never carries a full phone number."""

from __future__ import annotations

from types import SimpleNamespace

from gunicorn.config import Config

from verify_service.server import MaskingLogger, mask_numbers


def test_a_number_in_a_path_is_masked_like_in_every_other_log() -> None:
    assert mask_numbers("/v2/SafeList/Numbers/%2B14155552671") == (
        "/v2/SafeList/Numbers/%2B14•••••••71"
    )
    assert mask_numbers("/v2/SafeList/Numbers/+447400123456") == (
        "/v2/SafeList/Numbers/+44••••••••56"
    )


def test_a_fraud_guard_prefix_and_sids_are_left_alone() -> None:
    path = "/v2/Services/VA0123456789abcdef0123456789abcdef/FraudGuard/Blocks/%2B44791"
    assert mask_numbers(path) == path


def test_the_gunicorn_logger_masks_the_request_line() -> None:
    logger = MaskingLogger(Config())
    request = SimpleNamespace(
        headers=[],
        uri="/v2/SafeList/Numbers/%2B14155552671",
        path="/v2/SafeList/Numbers/%2B14155552671",
        query="",
        method="GET",
        version=(1, 1),
    )
    response = SimpleNamespace(status="200 OK", sent=10, headers=[], response_length=10)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/v2/SafeList/Numbers/%2B14155552671",
        "PATH_INFO": "/v2/SafeList/Numbers/+14155552671",
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
    }
    atoms = logger.atoms(response, request, environ, SimpleNamespace(seconds=0, microseconds=1))
    assert "14155552671" not in atoms["r"]
    assert "14155552671" not in atoms["U"]
