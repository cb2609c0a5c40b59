"""Weight files on disk: fetching them, importing copies made by hand, and checking what is in
place against the published hashes."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from ..atomic import atomic_write
from ..errors import MissingWeightsError
from ..file_hash import sha256_of
from .checkpoints import unreadable_reason
from .files import WeightFile, weight_files


def fingerprint(file: WeightFile) -> dict:
    """What a run manifest records of a file it used: its sha256 and whether it is upstream's."""
    actual = sha256_of(file.path)
    expected = file.expected_hash
    return {
        "file": file.file_name,
        "sha256": actual,
        "matches_upstream": None if expected is None else actual.startswith(expected),
    }


def download(file: WeightFile) -> Path:
    """Fetch ``file`` from its URL into place, checking its hash; return its path."""
    if file.package:
        raise MissingWeightsError(
            f"{file.file_name} ships inside the {file.package} package: reinstall {file.package}"
        )
    file.path.parent.mkdir(parents=True, exist_ok=True)
    partial = file.path.with_name(file.path.name + ".partial")
    try:
        torch.hub.download_url_to_file(file.url, str(partial), progress=True)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise MissingWeightsError(
            f"cannot download {file.file_name} from {file.url} ({error}). "
            + (f"{file.note} " if file.note else "")
            + f"Without a download, put the file into {file.path.parent} with `rdpbench weights import FOLDER`"
        ) from None
    actual = sha256_of(partial)
    expected = file.expected_hash
    if expected and not actual.startswith(expected):
        partial.unlink()
        raise MissingWeightsError(
            f"{file.file_name}: downloaded file has sha256 {actual}, expected {expected}"
        )
    os.replace(partial, file.path)
    return file.path


def import_from(folder: Path, files: list[WeightFile] | None = None) -> tuple[list[Path], list[str]]:
    """Copy every weight file of ``files`` (default: every known one) found in ``folder`` (by
    file name) into its place, after checking its hash where one is published (and that it
    reads, where none is). Returns the paths written and, for each file refused, why (a
    refused file is left where it was)."""
    copied, refused = [], []
    for file in weight_files().values() if files is None else files:
        if file.package:
            continue  # ships inside its package
        source = folder / file.file_name
        if not source.is_file():
            continue
        actual, expected = sha256_of(source), file.expected_hash
        if expected and not actual.startswith(expected):
            refused.append(
                f"{source}: sha256 {actual[:16]}... is not the published file's ({expected[:16]}...); "
                "not imported"
            )
            continue
        damage = None if expected else unreadable_reason(source)  # no hash to check: read it
        if damage:
            refused.append(f"{source}: {damage}; not imported")
            continue
        with open(source, "rb") as handle:
            atomic_write(file.path, lambda target: shutil.copyfileobj(handle, target), binary=True)
        copied.append(file.path)
    return copied, refused


@dataclass(frozen=True)
class Verified:
    """The state of one weight file: ``ok``, ``missing``, ``MISMATCH`` (not the upstream
    file), ``DAMAGED`` (does not read) or ``no hash`` (reads; nothing published to compare)."""

    file: WeightFile
    state: str
    sha256: str | None


def verify(files: list[WeightFile] | None = None) -> tuple[list[Verified], list[str]]:
    """Check ``files`` (default: every known one): each one's state, and the problems to
    report (missing files and how to fetch them, files that differ or do not read)."""
    chosen = list(weight_files().values()) if files is None else files
    verified = []
    for file in chosen:
        if not file.path.is_file():
            verified.append(Verified(file, "missing", None))
            continue
        result = fingerprint(file)
        state = {True: "ok", False: "MISMATCH", None: "no hash"}[result["matches_upstream"]]
        if result["matches_upstream"] is None and unreadable_reason(file.path):
            state = "DAMAGED"  # nothing to compare with, but it does not even read
        verified.append(Verified(file, state, result["sha256"]))
    missing = [entry.file.file_name for entry in verified if entry.state == "missing"]
    bad = sum(entry.state in ("MISMATCH", "DAMAGED") for entry in verified)
    problems = []
    if missing:
        problems.append(f"{len(missing)} file(s) missing; fetch them with `rdpbench weights download "
                        f"{' '.join(missing)}` or `rdpbench weights import FOLDER`")
    if bad:
        problems.append(f"{bad} file(s) differ from upstream or do not read: results will not match published ones")
    return verified, problems
