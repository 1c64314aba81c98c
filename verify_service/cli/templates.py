"""`verify-service templates check FILE...`: template files checked offline, as start-up
checks the files of `VERIFY_TEMPLATES_DIR` (docs/messages.md, "Templates")."""

from __future__ import annotations

from pathlib import Path

import click

from verify_service.adapters.template_files import TemplateFileError, load_template_file


@click.group()
def templates() -> None:
    """Message template files (VERIFY_TEMPLATES_DIR)."""


@templates.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def check(files: tuple[Path, ...]) -> None:
    """Check template files as start-up would; exit 1 naming each bad file and field."""
    failed = False
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
