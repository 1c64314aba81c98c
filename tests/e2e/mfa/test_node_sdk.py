"""TOTP end to end with the official twilio Node SDK (issue 11, item 8): tests/node/mfa_totp.js
against the gunicorn server, the SDK pinned by tests/node/package-lock.json.

`.ci/run` installs it with `npm ci --prefix tests/node`; run locally without that, this test
runs the same `npm ci` first (the only download, from the lock file). Without `node` on the
machine it is skipped, saying so; in CI node is there and it must pass."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
import redis

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.e2e.mfa.conftest import IDENTITY
from tests.support.processes import REPO, ApiServer

NODE_DIR = REPO / "tests" / "node"


@pytest.fixture(scope="session")
def node() -> str:
    found = shutil.which("node")
    if found is None:
        pytest.skip("node is not installed here (CI installs it; .ci/run runs this test)")
    if not (NODE_DIR / "node_modules" / "twilio" / "package.json").exists():
        npm = shutil.which("npm")
        assert npm is not None, "npm is missing: cannot install tests/node (npm ci)"
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--prefix", str(NODE_DIR)],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return found


def test_totp_enrolment_and_login_with_the_node_sdk(
    node: str, api_server: ApiServer, redis_client: redis.Redis
) -> None:
    completed = subprocess.run(
        [node, str(NODE_DIR / "mfa_totp.js")],
        env={
            **os.environ,
            "VERIFY_URL": api_server.url,
            "ACCOUNT_SID": ACCOUNT_SID,
            "AUTH_TOKEN": AUTH_TOKEN,
            "IDENTITY": IDENTITY,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    seen = json.loads(completed.stdout.strip().splitlines()[-1])

    factor = seen["factor"]
    assert seen["entity"]["sid"].startswith("YE")
    assert seen["entity"]["identity"] == IDENTITY
    assert factor["sid"].startswith("YF")
    assert (factor["status"], factor["factorType"]) == ("unverified", "totp")
    assert factor["config"] == {"alg": "sha1", "time_step": 60, "code_length": 6, "skew": 2}
    assert factor["uri"].startswith("otpauth://totp/")
    assert seen["verifiedStatus"] == "verified"
    assert seen["challenge"]["sid"].startswith("YC")
    assert seen["challenge"]["status"] == "approved"
    assert seen["challenge"]["factorSid"] == factor["sid"]
    assert seen["listed"] == [{"sid": factor["sid"], "status": "verified"}]
    assert (seen["removed"], seen["afterRemove"], seen["entityRemoved"]) == (True, 0, True)
