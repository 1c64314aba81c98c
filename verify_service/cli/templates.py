"""`verify-service templates check [FILE...]`: template files checked offline, as start-up
checks the files of `VERIFY_TEMPLATES_DIR` (docs/messages.md, "Templates"); without FILE,
that directory's."""

from __future__ import annotations

import os
from pathlib import Path

import click

from verify_service.adapters.template_files import TemplateFileError, load_template_file
from verify_service.settings import ConfigError, Settings


@click.group()
def templates() -> None:
    """Message template files (VERIFY_TEMPLATES_DIR)."""


@templates.command("check")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
def check(files: tuple[Path, ...]) -> None:
    """Check template files as start-up would; exit 1 naming each bad file and field.

    Without FILE: every *.toml of VERIFY_TEMPLATES_DIR, what `serve` would read."""
    failed = False
    files = files or _directory_files()
    for path in files:
        try:
            template = load_template_file(path)
        except TemplateFileError as exc:
            click.echo(f"error: {exc}", err=True)
            failed = True
            continue
        channels = ", ".join(channel.value for channel in template.channels)
        click.echo(f"{path}: {template.sid} ok ({len(template.translations)} locales; {channels})")
    if failed:
        raise SystemExit(1)


def _directory_files() -> tuple[Path, ...]:
    try:
        directory = Settings.from_env(os.environ).templates_dir
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from None
    if directory is None:
        raise click.UsageError("give FILE... or set VERIFY_TEMPLATES_DIR")
    if not Path(directory).is_dir():
        raise click.ClickException(f"VERIFY_TEMPLATES_DIR: {directory}: not a directory")
    files = tuple(sorted(Path(directory).glob("*.toml")))
    if not files:
        click.echo(f"VERIFY_TEMPLATES_DIR: {directory}: no *.toml file", err=True)
    return files
