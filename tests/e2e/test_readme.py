"""Every command the README shows runs as printed, the way a newcomer runs it: `make run`
serving on the embedded store, the curl commands and the Python snippet against it with the
values its banner printed, the `.venv/bin/verify-service` commands, and `make test`.

How, exactly (nothing else is changed):
- `make run` gets `PORT` in its environment (make's `PORT ?= 8080` takes it), a free loopback
  port, because 8080 may be taken on a test machine; the one rewrite in the commands and the
  snippet is `127.0.0.1:8080` → `127.0.0.1:<that port>`.
- The variables the README tells the reader to set (`ACCOUNT_SID`, `AUTH_TOKEN`,
  `SERVICE_SID`, `CODE`) come from the banner and from the code the server printed.
- `make test` runs with `PYTEST_ADDOPTS` naming one small module: the whole suite inside
  itself would recurse. It still runs the target, its venv and its pytest set-up as printed.
- Commands that install system packages (`apt-get`, `sudo …`) would be skipped: the README
  shows none today (`.ci/run` does that).
- Loopback only, no network; every process started here is stopped here.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest
import requests

from tests.support.embedded import Banner, EmbeddedServer, clean_env
from tests.support.processes import REPO, free_port
from tests.support.readme import README, Block, blocks, blocks_in, commands
from verify_service.cli import main

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed"),
]

DEFAULT_ADDRESS = "127.0.0.1:8080"
SYSTEM_INSTALLS = re.compile(r"^\s*(sudo\s|apt-get\s|apt\s|dnf\s|yum\s|brew\s)")
_CODE = re.compile(r"verification code is: (\d+)")
_LOGIN_TOKEN = re.compile(r'name="login_token" value="([^"]+)"')
WAIT_SECONDS = 15.0
VENV_BIN = REPO / ".venv" / "bin"


@dataclass
class Quickstart:
    server: EmbeddedServer
    banner: Banner
    port: int

    def rewrite(self, text: str) -> str:
        return text.replace(DEFAULT_ADDRESS, f"127.0.0.1:{self.port}")

    def env(self, **more: str) -> dict[str, str]:
        return clean_env(
            ACCOUNT_SID=self.banner.account_sid,
            AUTH_TOKEN=self.banner.auth_token,
            SERVICE_SID=self.banner.service_sid,
            **more,
        )

    def messages(self) -> list[dict[str, Any]]:
        """The console provider's JSON lines on the server's standard output."""
        return [
            json.loads(line)
            for line in self.server.stdout().splitlines()
            if line.startswith("{") and line.endswith("}")
        ]

    def code_of(self, message: dict[str, Any]) -> str:
        found = _CODE.search(message["body"])
        assert found is not None, message
        return found.group(1)

    def wait_for_message(self, seen: int) -> dict[str, Any]:
        """The first message after the `seen` already printed (delivery is asynchronous)."""
        deadline = time.monotonic() + WAIT_SECONDS
        while len(messages := self.messages()) <= seen:
            assert time.monotonic() < deadline, "the server printed no message"
            time.sleep(0.05)
        return messages[seen]


def shell_commands() -> list[tuple[Block, str]]:
    return [(block, command) for block in blocks_in("sh") for command in commands(block)]


def readme_command(starting: str) -> str:
    found = [command for _block, command in shell_commands() if command.startswith(starting)]
    assert len(found) == 1, f"the README shows no single `{starting}` command"
    return found[0]


def run(command: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Quickstart]:
    """`make run` as the README prints it, on a free port."""
    if subprocess.run(["make", "-q", ".venv/.installed-run"], cwd=REPO, check=False).returncode:
        pytest.skip("`make run` would install packages first: run `make install`")
    port = free_port()
    server = EmbeddedServer(
        ["bash", "-c", readme_command("make run")],
        port,
        tmp_path_factory.mktemp("readme-make-run"),
        clean_env(PORT=str(port)),
    )
    banner = server.start()
    yield Quickstart(server, banner, port)
    server.stop()


def test_every_readme_command_is_one_this_module_runs() -> None:
    """A command added to the README without a way to run it here fails this test."""
    runnable = ("make run", "make test", "curl ", ".venv/bin/verify-service ")
    for block, command in shell_commands():
        if SYSTEM_INSTALLS.match(command):
            continue  # installs a system package: skipped, see the module docstring
        assert command.startswith(runnable), f"{block.where()}: `{command}` is not run by a test"
    assert {block.language for block in blocks()} <= {"sh", "python", "text"}


def test_make_run_prints_what_the_readme_promises(quickstart: Quickstart) -> None:
    """Credentials made for this run, a demo service, a console user and its password."""
    banner = quickstart.banner
    assert "(generated for this run)" in banner.text
    assert banner.console_user == "admin"
    assert banner.console_url == f"http://127.0.0.1:{quickstart.port}/console/"
    readme = README.read_text("utf-8")
    assert "sign in as `admin` with the password the banner printed" in readme
    assert f"`http://{DEFAULT_ADDRESS}/console/`" in readme


def test_the_curl_commands_start_and_approve_a_verification_as_printed(
    quickstart: Quickstart,
) -> None:
    """Start, read the code the server printed, check it: approved, valid."""
    start, check = (quickstart.rewrite(c) for c in commands(curl_block()))
    seen = len(quickstart.messages())
    started = run(start, quickstart.env())
    assert started.returncode == 0, started.stderr
    verification = json.loads(started.stdout)
    assert verification["status"] == "pending"
    message = quickstart.wait_for_message(seen)
    assert message["verification_sid"] == verification["sid"]
    assert "verification code is:" in message["body"]  # as the README's sample line shows

    checked = run(check, quickstart.env(CODE=quickstart.code_of(message)))
    assert checked.returncode == 0, checked.stderr
    answer = json.loads(checked.stdout)
    assert (answer["status"], answer["valid"]) == ("approved", True)


def curl_block() -> Block:
    (block,) = (b for b in blocks_in("sh") if commands(b)[0].startswith("curl "))
    return block


def test_the_python_snippet_approves_with_the_code_typed_in(
    quickstart: Quickstart, tmp_path: Path
) -> None:
    """Saved as quickstart.py and run with the venv's python, it asks for the code the server
    printed and, given it, prints `approved True`."""
    (snippet,) = blocks_in("python")
    assert "123456" not in snippet.text  # no hard-coded code pretending to be approved
    script = tmp_path / "quickstart.py"
    script.write_text(quickstart.rewrite(snippet.text), "utf-8")
    python = VENV_BIN / "python" if (VENV_BIN / "python").exists() else Path(sys.executable)
    seen = len(quickstart.messages())
    process = subprocess.Popen(
        [str(python), str(script)],
        env=quickstart.env(),
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        code = quickstart.code_of(quickstart.wait_for_message(seen))
        stdout, stderr = process.communicate(code + "\n", timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
    assert process.returncode == 0, stderr
    assert stdout == "Code the server printed: approved True\n"


def test_the_console_opens_with_the_printed_password(quickstart: Quickstart) -> None:
    """The README's console address, user `admin` and the banner's password sign in."""
    url = quickstart.rewrite(f"http://{DEFAULT_ADDRESS}/console/")
    session = requests.Session()
    form = session.get(url, timeout=10)
    assert form.url.endswith("/console/login")
    token = _LOGIN_TOKEN.search(form.text)
    assert token is not None
    signed_in = session.post(
        form.url,
        data={
            "login_token": token.group(1),
            "name": "admin",
            "password": quickstart.banner.console_password,
        },
        timeout=10,
    )
    assert signed_in.status_code == 200
    assert signed_in.url.endswith("/console/search")


def test_the_verify_service_commands_run_as_printed() -> None:
    """`.venv/bin/verify-service --help`, `--version`, `serve --help`: exit 0, real output."""
    if not (VENV_BIN / "verify-service").exists():
        pytest.skip("no .venv: `make install` creates it")
    shown = [c for _b, c in shell_commands() if c.startswith(".venv/bin/verify-service ")]
    assert len(shown) >= 3
    for command in shown:
        result = run(command, clean_env())
        assert result.returncode == 0, f"`{command}`: {result.stderr}"
        assert result.stdout.strip()


def test_make_test_runs_as_printed() -> None:
    """The target, its venv and its redis-server set-up, on one small module."""
    command = readme_command("make test")
    result = run(
        command,
        clean_env(PYTEST_ADDOPTS="tests/unit/test_sids.py -q -p no:cacheprovider"),
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\d+ passed", result.stdout)


# -- the command-line reference --------------------------------------------------------------


def synopsis_lines() -> list[str]:
    (block,) = blocks_in("text")
    return [line for line in block.text.splitlines() if line.startswith("verify-service ")]


def command_for(words: list[str]) -> tuple[click.Command, list[str]]:
    """The deepest command the words name, and the words after it."""
    command: click.Command = main
    while words and isinstance(command, click.Group):
        names = words[0].split("|")
        assert all(name in command.commands for name in names), f"no command {words[0]}"
        command, words = command.commands[names[0]], words[1:]
    return command, words


def test_the_command_reference_names_real_commands_and_options() -> None:
    """Each line of the reference is a command of the CLI, and each option it shows exists."""
    assert len(synopsis_lines()) >= 15
    for line in synopsis_lines():
        command, rest = command_for(line.split("#")[0].split()[1:])
        options = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
        for option in re.findall(r"--[a-z0-9-]+", " ".join(rest)):
            assert option in options, f"`{line}`: {option} is not an option"


def leaf_commands(command: click.Command) -> Iterator[click.Command]:
    if isinstance(command, click.Group):
        for child in command.commands.values():
            yield from leaf_commands(child)
    else:
        yield command


def test_every_option_of_every_command_is_in_the_reference() -> None:
    """No option is undocumented (`serve --timeout` was); a hidden one (`worker --parent-pid`,
    which `serve` passes its child) is not for operators."""
    text = "\n".join(synopsis_lines())
    for command in leaf_commands(main):
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                names = (*param.opts, *param.secondary_opts)
                assert any(name in text for name in names), f"{command.name}: {names}"


def test_every_serve_option_has_a_row_in_the_readme_table() -> None:
    """The `serve` options table: each option with its default and meaning."""
    readme = README.read_text("utf-8")
    serve = main.commands["serve"]
    for param in serve.params:
        assert isinstance(param, click.Option)
        assert f"| `{param.opts[0]}`" in readme, param.opts
