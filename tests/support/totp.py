"""TOTP codes from implementations independent of the server's (which uses pyotp): Debian's
`oathtool` for 6-8 digits, and RFC 6238 written out here from the RFC's text for any number of
digits (oathtool refuses fewer than 6). tests/unit/test_independent_totp.py checks the two agree
with each other and with the RFC's Appendix B vectors, so a spec that uses them relies on two
implementations, neither of them the server's."""

from __future__ import annotations

import base64
import hashlib
import hmac
import shutil
import subprocess
from dataclasses import dataclass

ALGORITHMS = ("sha1", "sha256", "sha512")
OATHTOOL = "oathtool"

# RFC 6238, Appendix B: the seeds (ASCII) per hash, 30 s steps, 8 digits.
RFC6238_SEEDS = {
    "sha1": b"12345678901234567890",
    "sha256": b"12345678901234567890123456789012",
    "sha512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
RFC6238_VECTORS = (  # (Unix time, SHA1, SHA256, SHA512)
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
)


def base32(seed: bytes) -> str:
    """The seed as an authenticator app takes it: RFC 4648 Base32, padding left out."""
    return base64.b32encode(seed).decode().rstrip("=")


def seed_of(secret: str) -> bytes:
    return base64.b32decode(secret + "=" * (-len(secret) % 8))


def rfc6238(secret: str, at_seconds: int, time_step: int, digits: int, alg: str) -> str:
    """RFC 6238 section 4 over RFC 4226 section 5.3: T = floor(time / X), HMAC over T as
    8 big-endian bytes, dynamic truncation, modulo 10^digits, zero-padded."""
    counter = (at_seconds // time_step).to_bytes(8, "big")
    mac = hmac.new(seed_of(secret), counter, getattr(hashlib, alg)).digest()
    offset = mac[-1] & 0x0F
    binary = int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(binary % 10**digits).zfill(digits)


def oathtool(secret: str, at_seconds: int, time_step: int, digits: int, alg: str) -> str:
    """Debian's oathtool (6, 7 or 8 digits only)."""
    if shutil.which(OATHTOOL) is None:  # .ci/run installs it
        raise RuntimeError("oathtool is missing: apt-get install oathtool")
    completed = subprocess.run(
        [
            OATHTOOL,
            f"--totp={alg}",
            f"--time-step-size={time_step}s",
            f"--digits={digits}",
            f"--now=@{at_seconds}",
            "--base32",
            secret,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    )
    return completed.stdout.strip()


def code(
    secret: str, at_seconds: int, time_step: int = 30, digits: int = 6, alg: str = "sha1"
) -> str:
    """The code an authenticator app shows at `at_seconds`: oathtool where it can (6-8
    digits), RFC 6238 as written here for 3-5 digits."""
    if 6 <= digits <= 8:
        return oathtool(secret, at_seconds, time_step, digits, alg)
    return rfc6238(secret, at_seconds, time_step, digits, alg)


@dataclass(frozen=True)
class Totp:
    """A factor's TOTP parameters as the test knows them (its secret from `binding`)."""

    secret: str
    time_step: int = 30
    digits: int = 6
    alg: str = "sha1"

    def at(self, at_seconds: int) -> str:
        return code(self.secret, at_seconds, self.time_step, self.digits, self.alg)

    def at_step(self, step: int) -> str:
        """The code of time step number `step` (its first second)."""
        return self.at(step * self.time_step)

    def step_of(self, at_seconds: int) -> int:
        return at_seconds // self.time_step

    def distinct(self, steps: list[int]) -> bool:
        """Whether the codes of these steps all differ (short codes collide: a denial spec
        with a code that happens to equal an accepted one would prove nothing)."""
        codes = [self.at_step(step) for step in steps]
        return len(set(codes)) == len(codes)


def wrong(right: str) -> str:
    """A code of the same length that is not `right`."""
    return f"{(int(right) + 1) % 10 ** len(right):0{len(right)}d}"
