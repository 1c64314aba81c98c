"""The attempt history's packed record and status (attempt_records.py): what a bucket holds
per attempt, read back exactly, and nothing read from a value it did not write."""

from __future__ import annotations

import pytest

from verify_service.adapters.redis_store.attempts.attempt_records import (
    decode_status,
    pack_message_id,
    pack_record,
    unpack_message_id,
    unpack_record,
)
from verify_service.domain import sids

DAY_START = 20_000 * sids.DAY_MS


@pytest.mark.parametrize(
    ("message_id", "size"),
    [
        ("SM" + "0123456789abcdef" * 2, 17),
        ("MM" + "f" * 32, 17),
        ("CA" + "a" * 32, 17),
        ("XY" + "b" * 32, 19),
        ("wh_0123", 7),
        ("<abc@mail.example>", 18),
    ],
)
def test_a_message_id_packs_small_and_reads_back(message_id: str, size: int) -> None:
    """Twilio-style sids take 17 bytes (19 for other prefixes), anything else its text."""
    packed = pack_message_id(message_id)
    assert len(packed) == size
    assert unpack_message_id(packed) == message_id


def test_a_text_message_id_cannot_pass_for_a_packed_one() -> None:
    """A provider id starting with a marker byte loses it, so it never reads as a sid."""
    assert unpack_message_id(pack_message_id("\x01" + "x" * 16)) == "x" * 16


def test_a_record_reads_back_and_refuses_what_it_did_not_write() -> None:
    verification = "VE" + "ab" * 16
    blob = pack_record("0123456789abcd", verification, "whatsapp", "GB", b"k1:sealed")
    record = unpack_record(blob)
    assert record is not None
    assert (record.key, record.verification_sid, record.channel, record.country) == (
        "0123456789abcd",
        verification,
        "whatsapp",
        "GB",
    )
    assert record.sealed_to == b"k1:sealed"
    assert unpack_record(pack_record("00" * 7, verification, "email", None, b"x")).country is None  # type: ignore[union-attr]
    assert unpack_record(b"short") is None
    with pytest.raises(ValueError, match="channel"):
        pack_record("00" * 7, verification, "fax", None, b"x")


def test_a_status_reads_as_the_former_status_fields() -> None:
    """Entry at +1 000 ms (base 36 'rs'), sent 400 ms and delivered 3 000 ms after it."""
    raw = b"d0000rs\x1f\x1f\x1fb4\x1f2bc\x1ftwilio\x1f\x1f" + pack_message_id("SM" + "1" * 32)
    fields = decode_status(raw, DAY_START)
    assert fields == {
        "ca": str(DAY_START + 1000),
        "t_queued": str(DAY_START + 1000),
        "t_sent": str(DAY_START + 1400),
        "t_delivered": str(DAY_START + 4000),
        "ua": str(DAY_START + 4000),
        "status": "delivered",
        "provider": "twilio",
        "pmid": "SM" + "1" * 32,
    }


@pytest.mark.parametrize(
    ("provider", "expected"),
    [
        (b"twilio", {"provider": "twilio"}),  # before receipt senders
        (b"twilio\x1efp", {"provider": "twilio", "rs": "fp"}),  # before routes
        (
            b"twilio\x1efp\x1eMG" + b"1" * 32,
            {"provider": "twilio", "rs": "fp", "mg": "MG" + "1" * 32},
        ),
        (b"\x1e\x1eMG" + b"1" * 32, {"mg": "MG" + "1" * 32}),  # failed on every provider
    ],
)
def test_the_provider_part_reads_name_receipt_sender_and_route(
    provider: bytes, expected: dict[str, str]
) -> None:
    """`name[\x1esender[\x1eroute sid]]`: each part after the name read when present."""
    raw = b"f0000rs\x1f\x1f\x1f\x1f2bc\x1f" + provider + b"\x1f\x1f"
    fields = decode_status(raw, DAY_START)
    assert {k: v for k, v in fields.items() if k in ("provider", "rs", "mg")} == expected


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"x0000rs\x1f\x1f\x1f\x1f\x1f\x1f\x1f",
        b"d0000rs\x1f\x1f",
        b"d!!!!!!\x1f\x1f\x1f\x1f\x1f\x1f\x1f",
    ],
)
def test_a_status_it_did_not_write_reads_as_nothing(raw: bytes) -> None:
    assert decode_status(raw, DAY_START) == {}
