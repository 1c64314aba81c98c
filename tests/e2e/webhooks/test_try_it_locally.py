"""docs/webhooks.md as a newcomer runs it: the receiver example, fed either form of
`verify-service webhooks signing-token`'s output, and the "Try it locally" section run as
printed: `make run` with the allow-list, its banner's signing token given to the receiver
(`flask --app receiver.py run`), the curl commands that subscribe it and start a
verification, and the signed event arriving and validating.

The only rewrites: the service's `127.0.0.1:8080` and the receiver's port 5000 become free
loopback ports; the banner's values come in as the variables the section names."""

from __future__ import annotations

import contextlib
import os
import re
import runpy
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from twilio.request_validator import RequestValidator

from tests.support.embedded import EmbeddedServer, clean_env
from tests.support.processes import REPO, free_port
from tests.support.readme import Block, blocks, commands

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")

DOC = REPO / "docs" / "webhooks.md"
RECEIVER_URL = "http://127.0.0.1:5000/verify-events"
_SIGNING_TOKEN = re.compile(r"signing token (?P<token>[0-9a-f]{32})\s+\(key (?P<key>[\w-]+)")
WAIT_SECONDS = 20.0


def receiver_source() -> str:
    found = [b for b in blocks(DOC) if b.language == "python" and "RequestValidator(" in b.text]
    assert len(found) == 1, "docs/webhooks.md shows no single receiver"
    return found[0].text


def section_blocks(tmp_path: Path) -> list[Block]:
    text = DOC.read_text("utf-8")
    start = text.index("### Try it locally")
    end = text.find("\n### ", start + 1)
    section = tmp_path / "section.md"
    section.write_text(text[start : end if end != -1 else None], "utf-8")
    return [block for block in blocks(section) if block.language == "sh"]


def load_receiver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tokens: str) -> tuple[Any, str]:
    path = tmp_path / "receiver.py"
    path.write_text(receiver_source(), "utf-8")
    url = "https://hooks.example.com/verify-events"
    monkeypatch.setenv("VERIFY_SIGNING_TOKENS", tokens)
    monkeypatch.setenv("WEBHOOK_URL", url)
    return runpy.run_path(str(path))["app"], url


def post_signed(app: Any, url: str, token: str, key_id: str) -> int:
    form = {
        "uuid": "e1",
        "type": "verification.started",
        "service_sid": "VA" + "0" * 32,
        "event_date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),  # the receiver's window
    }
    signature = RequestValidator(token).compute_signature(url, form)
    headers = {"X-Twilio-Signature": signature, "X-Verify-Signature-Key-Id": key_id}
    status: int = app.test_client().post("/verify-events", data=form, headers=headers).status_code
    return status


def test_the_receiver_takes_the_bare_signing_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`signing-token` without --all prints one token: the receiver uses it for any key id
    (it crashed at import, expecting `<key id> <token>` lines)."""
    token = "5f0c" * 8
    app, url = load_receiver(tmp_path, monkeypatch, token + "\n")
    assert post_signed(app, url, token, "k0") == 204
    assert post_signed(app, url, "9a3e" * 8, "k0") == 403


def test_the_receiver_picks_the_token_by_key_id_from_the_all_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    k2, k1 = "5f0c" * 8, "9a3e" * 8
    app, url = load_receiver(tmp_path, monkeypatch, f"k2 {k2}\nk1 {k1}\n")
    assert post_signed(app, url, k1, "k1") == 204
    assert post_signed(app, url, k2, "k2") == 204
    assert post_signed(app, url, k2, "k1") == 403
    assert post_signed(app, url, k2, "k9") == 403  # an unknown key id has no token


def _wait_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text("utf-8", errors="replace")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise AssertionError("the receiver did not listen:\n" + log.read_text("utf-8"))


@contextlib.contextmanager
def running(command: str, env: dict[str, str], cwd: Path, log: Path) -> Iterator[Any]:
    with log.open("wb") as output:
        process = subprocess.Popen(
            ["bash", "-c", command],
            env=env,
            cwd=cwd,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        # Its own process group (bash and flask): stopped together, and only it.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


def test_try_it_locally_as_printed(tmp_path: Path) -> None:
    if subprocess.run(["make", "-q", ".venv/.installed-run"], cwd=REPO, check=False).returncode:
        pytest.skip("`make run` would install packages first: run `make install`")
    start, receive, curls = section_blocks(tmp_path)
    (make_run,) = commands(start)
    (flask_run,) = commands(receive)
    api_port, receiver_port = free_port(), free_port()

    def rewrite(text: str) -> str:
        return (
            text.replace("127.0.0.1:8080", f"127.0.0.1:{api_port}")
            .replace("127.0.0.1:5000", f"127.0.0.1:{receiver_port}")
            .replace("--port 5000", f"--port {receiver_port}")
        )

    server = EmbeddedServer(
        ["bash", "-c", make_run], api_port, tmp_path, clean_env(PORT=str(api_port))
    )
    banner = server.start()
    try:
        signing = _SIGNING_TOKEN.search(banner.text)
        assert signing is not None, banner.text
        assert "VERIFY_WEBHOOK_ALLOWED_NETWORKS=127.0.0.0/8" not in banner.text  # set: no hint
        (tmp_path / "receiver.py").write_text(receiver_source(), "utf-8")
        env = clean_env(
            SIGNING_TOKEN=signing["token"],
            ACCOUNT_SID=banner.account_sid,
            AUTH_TOKEN=banner.auth_token,
            SERVICE_SID=banner.service_sid,
            PYTHONUNBUFFERED="1",
        )
        env["PATH"] = f"{REPO / '.venv' / 'bin'}:{env['PATH']}"
        log = tmp_path / "receiver.log"
        with running(rewrite(flask_run), env, tmp_path, log) as receiver:
            _wait_listening(receiver_port, receiver, log)
            created, started = (
                subprocess.run(
                    ["bash", "-c", rewrite(command)],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=30,
                    check=True,
                ).stdout
                for command in commands(curls)
            )
            assert '"sid": "YW' in created or '"sid":"YW' in created, created
            assert '"status": "pending"' in started or '"status":"pending"' in started, started
            deadline = time.monotonic() + WAIT_SECONDS
            while "verification.started {" not in log.read_text("utf-8", errors="replace"):
                assert time.monotonic() < deadline, log.read_text("utf-8") + server.stdout()
                time.sleep(0.1)
        text = re.sub(r"\x1b\[[0-9;]*m", "", log.read_text("utf-8"))  # werkzeug's colours
        assert '"POST /verify-events HTTP/1.1" 204' in text
        assert " 403 " not in text
    finally:
        server.stop()
