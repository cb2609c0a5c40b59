"""Registered image sets on disk: installing them (from their official host, a mirror, or
archives or a folder copied by hand), reading them, and checking them again.

A set lives in ``cache_dir()/NAME`` (``$RDPBENCH_DATA``, else ``datasets/`` in the rdpbench
cache). It is installed whole or not at all: archives are checked against their published
sha256 before use, their images extracted into a temporary folder beside the target, every
image decoded and its pixels hashed, the count checked, and the folder renamed into place
with a manifest (``.rdpbench-dataset.json``) that records the archives' sha256, whether they
matched a published checksum, and every image's pixel sha256. Runs check the pixels against
the manifest, as they check Kodak's against its published table.

One process installs at a time in the whole cache, not per set: sets share archives
(``clic2020-test`` and ``clic2020-pro-test`` fetch the same file into ``.downloads/``), and
a staging folder left by an install that was killed is removed by the next one.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from ..atomic import atomic_write
from ..cache import cache_root
from ..errors import ImageError, RdpbenchError
from ..file_hash import sha256_of
from ..images import load_image, pixel_sha256
from ..lock import FolderLock
from .archives import DamagedArchiveError, extract_images
from .catalog import Archive, CatalogEntry
from .dataset import Dataset, DatasetImage, folder_dataset, inspect
from .download import fetch_file, mirror_source

MANIFEST_FILE = ".rdpbench-dataset.json"
#: The temporary folder a set is assembled in, beside its final place (``.NAME.installing-ID``).
STAGING_PATTERN = ".{name}.installing-{id}"
#: ``rdpbench datasets list`` states: checked against published checksums; installed from an
#: archive that has none (its first download is the reference); a folder imported unchecked;
#: a manifest that cannot be read.
VERIFIED, INSTALLED, UNVERIFIED, MISSING, DAMAGED = "verified", "installed", "unverified", "missing", "damaged"


def cache_dir() -> Path:
    """Where downloaded datasets are kept: ``$RDPBENCH_DATA``, else ``datasets/`` in the
    rdpbench cache (``~/.cache/rdpbench``)."""
    return Path(os.environ.get("RDPBENCH_DATA", cache_root() / "datasets"))


def set_folder(name: str) -> Path:
    return cache_dir() / name


def read_manifest(name: str) -> dict | None:
    """The manifest of the installed set ``name``, or None when it is not installed."""
    path = set_folder(name) / MANIFEST_FILE
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
        missing = {"source", "verified", "content_sha256", "images"} - set(manifest)
        if missing or not isinstance(manifest["images"], dict):
            raise ValueError(f"lacks {', '.join(sorted(missing)) or 'an image table'}")
        bad = [image for image, record in manifest["images"].items() if not _is_image_record(record)]
        if bad:
            raise ValueError(f"the record of image {bad[0]!r} lacks a file name in the set's folder or a pixel sha256")
    except (ValueError, TypeError) as error:
        raise RdpbenchError(f"{path} is damaged ({error}); delete {set_folder(name)} and install {name} again") from None
    return manifest


def _is_image_record(record) -> bool:
    """``{"file": NAME, "pixel_sha256": HEX}`` with NAME a file directly in the set's folder."""
    return (isinstance(record, dict) and isinstance(record.get("pixel_sha256"), str)
            and isinstance(record.get("file"), str) and record["file"] not in ("", "..")
            and Path(record["file"]).name == record["file"])


def install_state(name: str) -> str:
    """``verified``, ``installed`` (its archive has no published checksum), ``unverified``
    (a folder imported unchecked), ``damaged`` (its manifest cannot be read; reading the set
    says why) or ``missing``."""
    try:
        return _state(read_manifest(name))
    except RdpbenchError:
        return DAMAGED


def _state(manifest: dict | None) -> str:
    if manifest is None:
        return MISSING
    if manifest["verified"]:
        return VERIFIED
    return UNVERIFIED if manifest["source"] == "folder" else INSTALLED


def install_hint(entry: CatalogEntry) -> str:
    """How to install ``entry``, online and without internet."""
    files = ", ".join(archive.file_name for archive in entry.archives)
    return (f"download it with  rdpbench datasets download {entry.name}  ({entry.describe_size()}), or, without "
            f"internet, copy {files} from elsewhere and  rdpbench datasets import {entry.name} PATH")


def installed_dataset(entry: CatalogEntry) -> Dataset:
    """The installed set ``entry`` with the pixel hashes of its manifest. Raises RdpbenchError,
    saying how to install it, when it is not installed (large sets are never downloaded in the
    middle of a run)."""
    manifest = read_manifest(entry.name)
    folder = set_folder(entry.name)
    if manifest is None:
        raise RdpbenchError(f"dataset {entry.name} ({entry.n_images} images) is not installed in {folder}: "
                            + install_hint(entry))
    images, problems = [], []
    for name, record in manifest["images"].items():
        path = folder / record["file"]
        if path.is_file():
            images.append(DatasetImage(name, path))
        else:
            problems.append(f"{path}: missing from the installed {entry.name}")
    state = _state(manifest)
    notes = [] if state == VERIFIED else [f"{entry.name} is {state}: " + (
        "imported from a folder that could not be checked" if state == UNVERIFIED
        else "its archive has no published checksum, its first download is the reference")]
    return Dataset(entry.name, images, {n: r["pixel_sha256"] for n, r in manifest["images"].items()}, notes=notes,
                   problems=problems, verified=state == VERIFIED,
                   repair=f"reinstall the set: delete {folder}, then " + install_hint(entry))


def download_set(entry: CatalogEntry, mirror: str | None = None, progress: bool | None = None,
                 on_wait: Callable[[str], None] | None = None) -> list[str]:
    """Install ``entry`` from its official host (or ``mirror``); return notes (what was skipped,
    or that it was installed already). Downloaded archives are kept until the set is in place
    (a failed download resumes), then deleted; so are archives whose contents are refused.
    ``on_wait`` is told when another process is installing a set and this one waits for it."""
    with _install_lock(on_wait):
        if read_manifest(entry.name) is not None:
            return [f"{entry.name} is already installed in {set_folder(entry.name)}"]
        _refuse_installed(entry)
        fetched, downloaded = [], []
        for archive in entry.archives:
            source = mirror_source(archive.file_name, mirror) or archive.url
            if isinstance(source, Path):
                if not source.is_file():
                    raise RdpbenchError(f"{source}: no such file in the mirror")
                fetched.append((archive, source, _checked(archive, source)))
                continue
            target = cache_dir() / ".downloads" / archive.file_name
            fetched.append((archive, target, fetch_file(source, target, archive.sha256, progress, archive.size)))
            downloaded.append(target)
        try:
            notes = _install(entry, "download", fetched, lambda folder: _extract(entry, fetched, folder))
        except RdpbenchError:  # their contents were refused: they would be refused again
            _remove(downloaded)
            raise
        _remove(downloaded)
        return notes


def _remove(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def import_set(entry: CatalogEntry, path: Path, unverified: bool = False,
               on_wait: Callable[[str], None] | None = None) -> list[str]:
    """Install ``entry`` from ``path``: one of its archives (a set of one archive), a folder
    holding its archives under their file names, or, with ``unverified``, a folder of its
    images, which nothing published can check (recorded as unverified). Returns notes.
    ``on_wait`` is told when another process is installing a set and this one waits for it."""
    with _install_lock(on_wait):
        _refuse_installed(entry)
        if path.is_file():
            if len(entry.archives) > 1:
                raise RdpbenchError(f"{entry.name} comes in {len(entry.archives)} archives ("
                                    + ", ".join(a.file_name for a in entry.archives)
                                    + "): put them into one folder and import the folder")
            archives = [(entry.archives[0], path)]
        elif path.is_dir():
            archives = [(a, path / a.file_name) for a in entry.archives if (path / a.file_name).is_file()]
            if archives and len(archives) < len(entry.archives):
                missing = [a.file_name for a in entry.archives if not (path / a.file_name).is_file()]
                raise RdpbenchError(f"{path} holds only some archives of {entry.name}; missing: {', '.join(missing)}")
            if not archives:
                return _import_folder(entry, path, unverified)
        else:
            raise RdpbenchError(f"{path}: no file or folder there; give the path of {entry.name}'s archive, or of a "
                                "folder holding its archives")
        fetched = [(archive, file, _checked(archive, file)) for archive, file in archives]
        return _install(entry, "archive", fetched, lambda folder: _extract(entry, fetched, folder))


def _import_folder(entry: CatalogEntry, path: Path, unverified: bool) -> list[str]:
    if not unverified:
        raise RdpbenchError(
            f"{path} holds no archive of {entry.name} (" + ", ".join(a.file_name for a in entry.archives)
            + "). Only the archives' checksums are published, so loose images cannot be checked: import the "
            "archives, or pass --unverified to install the folder as an unverified set (checked for its image "
            "count and that every image decodes; never matched to published results)")
    source = folder_dataset(path, entry.name)
    if source.problems:
        raise ImageError(f"{path}: " + "; ".join(source.problems))

    def copy(folder: Path) -> list[str]:
        for item in source.images:
            shutil.copyfile(item.path, folder / item.path.name)
        return source.notes

    return _install(entry, "folder", [], copy, origin=str(path))


def _checked(archive: Archive, path: Path) -> str:
    """The sha256 of ``path``, which must be the published ``archive`` where a checksum is published."""
    digest = sha256_of(path)
    if archive.sha256 is not None and digest != archive.sha256:
        raise RdpbenchError(f"{path}: sha256 {digest} is not the published {archive.file_name}'s "
                            f"({archive.sha256}): a damaged or different file, not used")
    return digest


def _extract(entry: CatalogEntry, fetched: list[tuple[Archive, Path, str]], folder: Path) -> list[str]:
    """Extract the images of every archive of ``fetched`` into ``folder``; the notes."""
    notes = []
    for archive, path, _ in fetched:
        try:
            notes += extract_images(path, folder)
        except DamagedArchiveError as error:
            if archive.sha256 is None:
                raise
            # Its bytes are the published ones, so fetching it again cannot help.
            raise RdpbenchError(
                f"{path} is the published {archive.file_name} (its sha256 matches), yet it cannot be read "
                f"whole here: {error.reason}. Unpack it with another tool and install the images with "
                f"`rdpbench datasets import {entry.name} FOLDER --unverified`") from None
    return notes


def _install(entry: CatalogEntry, source: str, fetched: list[tuple[Archive, Path, str]],
             fill: Callable[[Path], list[str]], origin: str | None = None) -> list[str]:
    """Fill a temporary folder beside the target (``origin`` names where its images came from,
    by default the archives), check it, write the manifest, rename it into place."""
    target = set_folder(entry.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(STAGING_PATTERN.format(name=entry.name, id=uuid.uuid4().hex[:12]))
    staging.mkdir()  # with the permissions of any new folder (mkdtemp's are private)
    origin = origin or ", ".join(str(path) for _, path, _ in fetched)
    try:
        notes = fill(staging)
        found = sum(1 for _ in staging.iterdir())
        if found != entry.n_images:
            raise RdpbenchError(f"{origin}: {found} images, where {entry.name} has {entry.n_images}: "
                                f"not the {entry.name} set, not installed")
        staged = folder_dataset(staging, entry.name)
        try:
            summary = inspect(staged)
        except ImageError as error:  # named by file name: the staging folder goes away
            raise ImageError(f"{origin}: " + str(error).replace(f"{staging}{os.sep}", "")) from None
        manifest = {
            "name": entry.name,
            "source": source,
            "verified": source != "folder" and entry.checksums_published,
            "archives": [{"file": path.name, "url": archive.url, "sha256": digest,
                          "published_sha256": archive.sha256, "checksum_source": archive.checksum_source}
                         for archive, path, digest in fetched],
            "installed": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "content_sha256": summary.content_sha256,
            "images": {item.name: {"file": item.path.name, "pixel_sha256": summary.pixel_hashes[item.name]}
                       for item in staged.images},
            "conversions": summary.conversions,
            "notes": notes,
        }
        atomic_write(staging / MANIFEST_FILE, lambda handle: json.dump(manifest, handle, indent=1))
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return notes


def verify_set(name: str) -> list[str]:
    """Hash the pixels of every image of the installed set ``name`` again; return one line per
    image that is missing, unreadable or differs from the manifest (empty when all match)."""
    manifest = read_manifest(name)
    if manifest is None:
        raise RdpbenchError(f"dataset {name} is not installed in {set_folder(name)}")
    problems = []
    for record in manifest["images"].values():
        path = set_folder(name) / record["file"]
        if not path.is_file():
            problems.append(f"{path}: missing")
            continue
        try:
            digest = pixel_sha256(load_image(path)[0])
        except ImageError as error:
            problems.append(str(error))
            continue
        if digest != record["pixel_sha256"]:
            problems.append(f"{path}: pixels differ (sha256 {digest[:12]}..., recorded {record['pixel_sha256'][:12]}...)")
    return problems


def _refuse_installed(entry: CatalogEntry) -> None:
    folder = set_folder(entry.name)
    if read_manifest(entry.name) is not None:
        raise RdpbenchError(f"{entry.name} is already installed in {folder}; delete that folder to install it again")
    if folder.exists():
        raise RdpbenchError(f"{folder} exists but holds no installed set (no {MANIFEST_FILE}); move it away first")


@contextmanager
def _install_lock(on_wait: Callable[[str], None] | None) -> Iterator[None]:
    """One install at a time in the whole cache (a second waits, then may find its set
    installed); the holder removes staging folders that a killed install left behind."""
    with FolderLock(cache_dir(), sys.argv, on_wait=on_wait):
        for stale in cache_dir().glob(STAGING_PATTERN.format(name="*", id="*")):
            shutil.rmtree(stale, ignore_errors=True)
        yield
