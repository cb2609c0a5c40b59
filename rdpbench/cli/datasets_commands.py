"""``rdpbench datasets list | download | import | verify``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .app import datasets_app
from .handling import fail, handled, say

NAMES = "Dataset names from `rdpbench datasets list`"
WHERE = "datasets are kept in $RDPBENCH_DATA, else datasets/ in the rdpbench cache"


@datasets_app.command("list")
@handled()
def datasets_list() -> None:
    """Every downloadable image set: its images, download size, source, terms, and whether it
    is in place (verified, installed, unverified, damaged or missing)."""
    from ..listings import downloadable_dataset_rows

    for row in downloadable_dataset_rows():
        typer.echo(f"{row.state:10s} {row.name:21s} {row.n_images:3d} images, {row.size}: {row.title}")
        for label, text in (("from", " ".join(row.urls)), ("terms", row.terms), ("checksum", row.checksum)):
            typer.echo(f"{'':10s}   {label + ':':9s} {text}")
    typer.echo("kodak downloads on first use and sample ships with scikit-image (`rdpbench list datasets`).")


@datasets_app.command("download")
@handled(os_error="cannot write the dataset: {error} (" + WHERE + ")")
def datasets_download(
    names: Annotated[list[str], typer.Argument(help=f"{NAMES}.")],
    mirror: Annotated[
        Optional[str],
        typer.Option(help="Base URL or local folder holding the archives under their official names "
                     "(default: $RDPBENCH_DATASET_MIRROR, else the official hosts)."),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show download progress (on a terminal).")] = True,
) -> None:
    """Download image sets, check their archives against the published sha256, and install
    their images with a manifest of pixel hashes. An interrupted download resumes."""
    from ..datasets.catalog import catalog_entry
    from ..datasets.install import download_set, set_folder
    from ..run.execute import terminate_as_interrupt

    for entry in [catalog_entry(name) for name in names]:
        typer.echo(f"{entry.name}: {entry.n_images} images, {entry.describe_size()} to fetch, check and unpack", err=True)
        with terminate_as_interrupt():  # a scheduler's stop cleans up as Ctrl-C does
            say(download_set(entry, mirror=mirror, progress=None if progress else False,
                             on_wait=lambda note: say([note])))
        typer.echo(f"{entry.name} in {set_folder(entry.name)}")


@datasets_app.command("import")
@handled(os_error="cannot import the dataset: {error} (" + WHERE + ")")
def datasets_import(
    name: Annotated[str, typer.Argument(help="Dataset name from `rdpbench datasets list`.")],
    path: Annotated[Path, typer.Argument(help="Its archive, a folder holding its archives, or (with --unverified) "
                                         "a folder of its images.")],
    unverified: Annotated[
        bool, typer.Option("--unverified", help="Accept a folder of images that no published checksum can check; "
                           "the set is recorded as unverified and never matched to published results.")
    ] = False,
) -> None:
    """Install an image set from files copied by hand (machines without internet)."""
    from ..datasets.catalog import catalog_entry
    from ..datasets.install import import_set, install_state, set_folder
    from ..run.execute import terminate_as_interrupt

    entry = catalog_entry(name)
    with terminate_as_interrupt():  # a scheduler's stop cleans up as Ctrl-C does
        say(import_set(entry, path, unverified=unverified, on_wait=lambda note: say([note])))
    typer.echo(f"{entry.name} in {set_folder(entry.name)} ({install_state(entry.name)})")


@datasets_app.command("verify")
@handled()
def datasets_verify(
    names: Annotated[Optional[list[str]], typer.Argument(help=f"{NAMES} (default: every installed one).")] = None,
) -> None:
    """Hash the pixels of installed image sets again and compare them with their manifests;
    exit 1 naming every file that is missing or differs."""
    from ..datasets.catalog import CATALOG, catalog_entry
    from ..datasets.install import DAMAGED, MISSING, install_state, read_manifest, verify_set
    from ..errors import RdpbenchError

    chosen = [catalog_entry(name).name for name in names] if names else [
        name for name in CATALOG if install_state(name) != MISSING]
    if not chosen:
        fail("no dataset is installed (see `rdpbench datasets list`)")
    failed = []
    for name in chosen:
        state = install_state(name)
        if state == MISSING:
            typer.echo(f"{'missing':10s} {name}")
            failed.append(name)
            continue
        try:
            problems = verify_set(name)
        except RdpbenchError as error:  # its manifest is damaged; the message says what to do
            typer.echo(f"{DAMAGED:10s} {name}: {error}")
            failed.append(name)
            continue
        count = len(read_manifest(name)["images"])
        typer.echo(f"{'DIFFERS' if problems else 'ok':10s} {name}: {count - len(problems)} of {count} images match ({state})")
        for problem in problems:
            typer.echo(f"  {problem}")
        if problems:
            failed.append(name)
    if failed:
        fail(f"{', '.join(failed)}: missing or not as installed; delete the set's folder and install it again")
