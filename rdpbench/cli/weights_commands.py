"""``rdpbench weights list | download | verify | import``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .app import weights_app
from .handling import fail, handled, require_folder

FILE_NAMES = "File names from `rdpbench weights list`"


@weights_app.command("list")
def weights_list() -> None:
    """Every weight file rdpbench knows, and whether it is in place."""
    from ..weights import notes_of, weight_files

    for file in weight_files().values():
        state = "present" if file.path.is_file() else "missing"
        typer.echo(f"{state:8s} {file.describe()}")
    for note in notes_of(list(weight_files().values())):
        typer.echo(f"note: {note}")


@weights_app.command("download")
@handled(os_error="download failed ({error}); on a machine without internet use `weights import`")
def weights_download(
    files: Annotated[Optional[list[str]], typer.Argument(help=f"{FILE_NAMES} (default: every missing one).")] = None,
) -> None:
    """Download weight files from their upstream URLs into place, checking their hashes."""
    from ..weights import download, get_weight_file, weight_files

    wanted = [get_weight_file(f) for f in files] if files else [
        f for f in weight_files().values() if not f.path.is_file()
    ]
    for file in wanted:
        typer.echo(f"downloaded {download(file)}")


@weights_app.command("verify")
@handled()
def weights_verify(
    files: Annotated[Optional[list[str]], typer.Argument(help=f"{FILE_NAMES} (default: every file).")] = None,
) -> None:
    """Check that weight files are in place and match the upstream hash; exit 1 if any is
    missing or differs."""
    from ..weights import verify

    verified, problems = verify(files)
    for entry in verified:
        where = f" -> {entry.file.path}" if entry.state == "missing" else f" sha256 {entry.sha256}"
        typer.echo(f"{entry.state:8s} {entry.file.file_name} {where}")
    if problems:
        fail("; ".join(problems))


@weights_app.command("import")
@handled(os_error="cannot copy into the weights cache: {error}")
def weights_import(
    folder: Annotated[Path, typer.Argument(help="Folder holding weight files under their upstream names.")],
) -> None:
    """Copy known weight files from a folder into place (for machines without internet),
    refusing any whose hash differs from the published file's."""
    from ..weights import import_from

    require_folder(folder)
    copied, refused = import_from(folder)
    for path in copied:
        typer.echo(f"imported {path}")
    for reason in refused:
        typer.echo(f"refused  {reason}", err=True)
    if refused:
        fail(f"{len(refused)} file(s) refused: they differ from the published files")
    if not copied:
        fail(f"no known weight file in {folder} (see `rdpbench weights list` for the names)")
