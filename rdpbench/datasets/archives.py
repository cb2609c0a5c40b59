"""Images out of zip and tar archives, trusting nothing in them. Every member is checked before
anything is written: an archive holding a member with an absolute path or a ``..`` step, a
symbolic or hard link, a device or any other special file is refused whole, each such member
named. Images are written flat into the folder given, under their file names, never over an
existing file; other members (READMEs, folders, macOS ``__MACOSX``/``._*`` metadata) are
skipped with a note. An archive whose images declare more bytes than the disk has free is
refused before anything is written: zipfile and tarfile never return more bytes than a member
declares, so a small archive cannot fill the disk (a zip bomb).
"""

from __future__ import annotations

import re
import shutil
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from ..errors import RdpbenchError
from ..images import IMAGE_SUFFIXES
from ..memory import format_bytes


class UnsafeArchiveError(RdpbenchError):
    """An archive with a member that could write outside its folder, or that is not a plain file."""


class DamagedArchiveError(RdpbenchError):
    """A file that is not a zip or tar archive, or that cannot be read whole (``reason`` says how)."""

    def __init__(self, archive: Path, reason: str):
        self.reason = reason
        super().__init__(f"{archive}: {reason}; delete it and fetch it again")


@dataclass(frozen=True)
class Member:
    """One archive member: its stored name, its kind (``file``, ``dir``, ``symlink``,
    ``hardlink``, ``special``), its declared uncompressed size and how to read its bytes
    (files only)."""

    name: str
    kind: str
    size: int = 0
    open: Callable[[], IO[bytes]] | None = None


def extract_images(archive: Path, into: Path) -> list[str]:
    """Write the images of ``archive`` into the folder ``into``; return notes on what was skipped.

    Raises UnsafeArchiveError naming every unsafe member (nothing is written then),
    DamagedArchiveError when the archive cannot be read whole, and RdpbenchError when two
    images share a file name or the images would not fit on the disk."""
    try:
        with _members(archive) as members:
            unsafe = [f"{member.name} ({reason})" for member in members if (reason := unsafe_reason(member))]
            if unsafe:
                raise UnsafeArchiveError(
                    f"{archive}: refused, {len(unsafe)} member(s) could write outside the dataset folder or are not "
                    "plain files; nothing was extracted:\n  " + "\n  ".join(unsafe))
            images, notes = _images(archive, members)
            _check_room(archive, images, into)
            for member in images:
                _write(member, into / _file_name(member), archive)
            return notes
    except (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError, RuntimeError) as error:
        raise DamagedArchiveError(archive, f"damaged, it cannot be read whole ({error})") from None


def unsafe_reason(member: Member) -> str | None:
    """Why extracting ``member`` is refused, or None for a plain file or folder inside the archive."""
    if member.kind in ("symlink", "hardlink"):
        return f"a {'symbolic' if member.kind == 'symlink' else 'hard'} link"
    if member.kind == "special":
        return "a device or other special file"
    if member.name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", member.name):
        return "an absolute path"
    if ".." in re.split(r"[\\/]", member.name):
        return "a path with '..'"
    return None


def _file_name(member: Member) -> str:
    return PurePosixPath(member.name.replace("\\", "/")).name


def _images(archive: Path, members: list[Member]) -> tuple[list[Member], list[str]]:
    """The members to extract, and notes on the others."""
    images, not_images, metadata = [], [], 0
    for member in members:
        if member.kind == "dir":
            continue
        path = PurePosixPath(member.name.replace("\\", "/"))
        if any(part == "__MACOSX" for part in path.parts) or path.name.startswith("._"):
            metadata += 1
        elif path.name.startswith(".") or path.suffix.lower() not in IMAGE_SUFFIXES:
            not_images.append(member.name)
        else:
            images.append(member)
    notes = []
    if not_images:
        shown = ", ".join(not_images[:5]) + (", ..." if len(not_images) > 5 else "")
        notes.append(f"{archive.name}: skipped {len(not_images)} member(s) that are not images: {shown}")
    if metadata:
        notes.append(f"{archive.name}: skipped {metadata} macOS metadata member(s) (__MACOSX, ._*)")
    return images, notes


def _check_room(archive: Path, images: list[Member], into: Path) -> None:
    need, free = sum(member.size for member in images), shutil.disk_usage(into).free
    if need > free:
        raise RdpbenchError(
            f"{archive}: its images declare {format_bytes(need)} unpacked, more than the {format_bytes(free)} free "
            f"on the disk of {into.parent}; nothing was extracted. Free some space, or set RDPBENCH_DATA to a "
            "folder on a larger disk")


def _write(member: Member, target: Path, archive: Path) -> None:
    try:
        with member.open() as source, open(target, "xb") as handle:
            shutil.copyfileobj(source, handle)
    except FileExistsError:
        raise RdpbenchError(
            f"{archive}: {member.name} has the file name of an image already extracted ({target.name}); the images "
            "of a set must have distinct names") from None


@contextmanager
def _members(archive: Path) -> Iterator[list[Member]]:
    """The members of a zip or tar archive, readable while the block runs."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as opened:
            yield [_zip_member(opened, info) for info in opened.infolist()]
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive, "r:*") as opened:
            yield [_tar_member(opened, info) for info in opened.getmembers()]
    else:
        raise DamagedArchiveError(archive, "neither a zip nor a tar archive (or cut short)")


def _zip_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Member:
    mode = info.external_attr >> 16  # Unix mode bits, where the writer stored them
    if info.is_dir() or stat.S_ISDIR(mode):  # a folder's name need not end with "/"
        kind = "dir"
    elif stat.S_ISLNK(mode):
        kind = "symlink"
    elif stat.S_IFMT(mode) not in (0, stat.S_IFREG):
        kind = "special"
    else:
        kind = "file"
    return Member(info.filename, kind, info.file_size, lambda: archive.open(info))


def _tar_member(archive: tarfile.TarFile, info: tarfile.TarInfo) -> Member:
    if info.issym():
        kind = "symlink"
    elif info.islnk():
        kind = "hardlink"
    elif info.isdir():
        kind = "dir"
    elif info.isreg():
        kind = "file"
    else:
        kind = "special"
    return Member(info.name, kind, info.size, lambda: archive.extractfile(info))
