"""`verify-service --help`, `--version` and every command's help: a newcomer finds each
command, what it does and how the service is configured without reading the source."""

from __future__ import annotations

from collections.abc import Iterator

import click
from click.testing import CliRunner

from verify_service import __version__
from verify_service.cli import main
from verify_service.settings import KNOWN_VARIABLES


def walk(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command and subcommand of the tree, as the words that invoke it."""
    yield path
    if isinstance(command, click.Group):
        for name, child in sorted(command.commands.items()):
            yield from walk(child, (*path, name))


def command_at(path: tuple[str, ...]) -> click.Command:
    command: click.Command = main
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


def help_of(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(main, [*path, "--help"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_every_command_and_subcommand_has_help_text() -> None:
    """Walking the whole tree, no command's `--help` is a bare usage line."""
    paths = list(walk(main))
    assert ("user", "enable") in paths
    assert len(paths) > 20
    missing = [" ".join(path) for path in paths if not (command_at(path).help or "").strip()]
    assert missing == []
    for path in paths:
        summary = command_at(path).help or ""
        assert summary.split("\n")[0].strip() in " ".join(help_of(path).split())


def test_user_enable_help_says_what_it_does() -> None:
    """`user enable --help` explains the command (it printed only its usage)."""
    assert "sign in again" in help_of(("user", "enable"))


def test_every_group_lists_its_subcommands_with_a_summary() -> None:
    """A group's help names each subcommand with a one-line summary, never an empty one."""
    for path in walk(main):
        command = command_at(path)
        if not isinstance(command, click.Group):
            continue
        text = help_of(path)
        for name, child in command.commands.items():
            line = next(line for line in text.splitlines() if line.strip().startswith(name + " "))
            assert line.strip() != name, f"{' '.join((*path, name))} has no summary"
            assert child.get_short_help_str()


def test_top_level_help_names_every_verify_variable() -> None:
    """`--help` says configuration comes from `VERIFY_*` variables and lists every one."""
    text = help_of(())
    assert "environment variables" in text
    for name in KNOWN_VARIABLES:
        assert f"  {name}\n" in text


def test_version_prints_the_package_version() -> None:
    """`verify-service --version` answers with the installed version."""
    result = CliRunner().invoke(main, ["--version"], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.stdout == f"verify-service, version {__version__}\n"
