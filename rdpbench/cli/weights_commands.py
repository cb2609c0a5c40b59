"""``rdpbench weights list | download | verify | import``.

Each takes ``--metrics`` as ``run`` does, for the files those metrics need: the way to the
files of ``pyiqa:NAME`` metrics, which are known only once the metric is named."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .app import weights_app
from .handling import fail, handled, require_folder

FILE_NAMES = "File names from `rdpbench weights list`"
Metrics = Annotated[
    Optional[str],
    typer.Option(help="The files these metrics need, named as `run --metrics` takes them (pyiqa:NAME included)."),
]


def metric_files(metrics: str) -> list:
    """The weight files a run with ``--metrics metrics`` needs."""
    from ..metrics import parse_metric_names
    from ..metrics.suite import MetricSuite

    return MetricSuite(parse_metric_names(metrics)).weight_files()


def chosen_files(files: list[str] | None, metrics: str | None) -> list | None:
    """The files named, and those of ``metrics``; None when neither is given."""
    from ..weights import get_weight_file

    if not files and not metrics:
        return None
    chosen = [get_weight_file(name) for name in files or []] + (metric_files(metrics) if metrics else [])
    return list({file.file_name: file for file in chosen}.values())


@weights_app.command("list")
@handled()
def weights_list(metrics: Metrics = None) -> None:
    """Every weight file rdpbench knows (or those of --metrics), and whether it is in place."""
    from ..weights import notes_of, weight_files

    files = metric_files(metrics) if metrics else list(weight_files().values())
    for file in files:
        state = "present" if file.path.is_file() else "missing"
        typer.echo(f"{state:8s} {file.describe()}")
    for note in notes_of(files):
        typer.echo(f"note: {note}")


@weights_app.command("download")
@handled(os_error="download failed ({error}); on a machine without internet use `weights import`")
def weights_download(
    files: Annotated[Optional[list[str]], typer.Argument(help=f"{FILE_NAMES} (default: every missing one).")] = None,
    metrics: Metrics = None,
) -> None:
    """Download weight files from their upstream URLs into place, checking their hashes: those
    named, and the missing ones of --metrics (or, given neither, every missing one)."""
    from ..weights import download, get_weight_file, weight_files

    named = [get_weight_file(name) for name in files or []]
    pool = metric_files(metrics) if metrics else [] if files else list(weight_files().values())
    wanted = named + [f for f in pool if not f.path.is_file() and f not in named]
    for file in wanted:
        typer.echo(f"downloaded {download(file)}")


@weights_app.command("verify")
@handled()
def weights_verify(
    files: Annotated[Optional[list[str]], typer.Argument(help=f"{FILE_NAMES} (default: every file).")] = None,
    metrics: Metrics = None,
) -> None:
    """Check that weight files are in place and match the upstream hash; exit 1 if any is
    missing or differs."""
    from ..weights import verify

    verified, problems = verify(chosen_files(files, metrics))
    for entry in verified:
        where = f" -> {entry.file.path}" if entry.state == "missing" else f" sha256 {entry.sha256}"
        typer.echo(f"{entry.state:8s} {entry.file.file_name} {where}")
    if problems:
        fail("; ".join(problems))


@weights_app.command("import")
@handled(os_error="cannot copy into the weights cache: {error}")
def weights_import(
    folder: Annotated[Path, typer.Argument(help="Folder holding weight files under their upstream names.")],
    metrics: Metrics = None,
) -> None:
    """Copy known weight files (and those of --metrics) from a folder into place (for machines
    without internet), refusing any whose hash differs from the published file's."""
    from ..weights import import_from, weight_files

    require_folder(folder)
    extra = metric_files(metrics) if metrics else []
    copied, refused = import_from(folder, list({f.file_name: f for f in [*weight_files().values(), *extra]}.values()))
    for path in copied:
        typer.echo(f"imported {path}")
    for reason in refused:
        typer.echo(f"refused  {reason}", err=True)
    if refused:
        fail(f"{len(refused)} file(s) refused: they differ from the published files")
    if not copied:
        fail(f"no known weight file in {folder} (see `rdpbench weights list` for the names)")
