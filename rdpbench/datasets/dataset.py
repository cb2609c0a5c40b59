"""What a dataset is: named images read lazily, a full read's summary (sizes, conversions,
pixel hashes) and the content hash that identifies the set; any folder of images as one.

Images are never resized or rotated: portrait images stay portrait.

A dataset's identity is its content: the image names and the sha256 of their decoded pixels
(``content_sha256``). Its display name says when only part of it is used (``kodak[:4]``), so
runs on different image sets never share a folder, never resume into each other and are never
compared with numbers published for another set.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import ImageError, RdpbenchError
from ..images import IMAGE_SUFFIXES, image_size, load_image, pixel_sha256


@dataclass(frozen=True)
class DatasetImage:
    name: str
    path: Path

    def load(self) -> tuple[torch.Tensor, str | None]:
        """The image as uint8 (3, H, W) RGB and a note on any format conversion."""
        return load_image(self.path)

    def load_rgb(self) -> torch.Tensor:
        """The image as uint8 (3, H, W) RGB."""
        return load_image(self.path)[0]


@dataclass
class Dataset:
    name: str
    images: list[DatasetImage]
    #: Expected pixel sha256 per image name, for datasets with published pixels.
    pixel_hashes: dict[str, str] = field(default_factory=dict)
    #: What was left out of a folder, and why (shown to the user and kept in the manifest).
    notes: list[str] = field(default_factory=list)
    #: Files that should have been images but cannot be read (broken links and the like).
    problems: list[str] = field(default_factory=list)
    #: Number of leading images used when only part of the set is (``--limit``).
    first: int | None = None
    #: (i, n): this is the i-th of n disjoint shards of the set (``--shard i/n``), 1-based.
    shard: tuple[int, int] | None = None
    #: True when these are known to be the published images: their pixels are checked against
    #: hashes that trace back to a published checksum (Kodak's table; a registered set installed
    #: from archives that matched their published sha256). Only such sets may be matched to
    #: published results; folders, imported loose folders and unpublished archives are not.
    verified: bool = False
    #: What to do about an image whose pixels differ from ``pixel_hashes``.
    repair: str = "delete the file and run again to download a good copy"

    @property
    def display_name(self) -> str:
        """``kodak``, ``kodak[:4]`` when only the first four images are used, ``kodak{2/4}``
        for the second of four shards."""
        name = self.name if self.first is None else f"{self.name}[:{self.first}]"
        return name if self.shard is None else f"{name}{{{self.shard[0]}/{self.shard[1]}}}"

    @property
    def slug(self) -> str:
        """The display name in a form fit for a folder name: ``kodak``, ``kodak-first4``,
        ``kodak-shard2of4``."""
        slug = self.name if self.first is None else f"{self.name}-first{self.first}"
        slug = slug if self.shard is None else f"{slug}-shard{self.shard[0]}of{self.shard[1]}"
        return re.sub(r"[^A-Za-z0-9._+-]", "_", slug)

    def sharded(self, index: int, count: int) -> "Dataset":
        """The ``index``-th (1-based) of ``count`` disjoint shards: every count-th image from
        the index-th on, so shards are alike in size and the union is the whole set."""
        if not 1 <= index <= count:
            raise RdpbenchError(f"--shard {index}/{count}: need 1 <= i <= n")
        if count > len(self.images):
            raise RdpbenchError(f"--shard {index}/{count}: the set has only {len(self.images)} images")
        return dataclasses.replace(self, images=self.images[index - 1::count], shard=(index, count))

    def limited(self, limit: int | None) -> "Dataset":
        """The first ``limit`` images (all when None or when the set has no more)."""
        if limit is None or limit >= len(self.images):
            return self
        if limit < 1:
            raise RdpbenchError("--limit must be at least 1")
        return dataclasses.replace(self, images=self.images[:limit], first=limit)


@dataclass
class DatasetSummary:
    """What a full read of a dataset found: sizes, conversions and a content hash."""

    sizes: dict[str, tuple[int, int]]
    conversions: dict[str, str]
    content_sha256: str
    #: sha256 of each image's decoded pixels: the key of reference-side caches.
    pixel_hashes: dict[str, str]
    #: The dataset's ``verified``: its pixels are the published ones (see :class:`Dataset`).
    verified: bool = False

    def restricted(self, names: list[str]) -> "DatasetSummary":
        """The summary of the images ``names`` alone (a shard of the set)."""
        hashes = {name: self.pixel_hashes[name] for name in names}
        return DatasetSummary({n: self.sizes[n] for n in names},
                              {n: c for n, c in self.conversions.items() if n in hashes},
                              content_sha256(hashes), hashes, self.verified)


def content_sha256(pixel_hashes: dict[str, str]) -> str:
    """The identity of an image set: sha256 over its image names and pixel hashes, in order."""
    lines = "".join(f"{name} {digest}\n" for name, digest in pixel_hashes.items())
    return hashlib.sha256(lines.encode()).hexdigest()


def image_sizes(dataset: Dataset) -> dict[str, tuple[int, int]]:
    """(height, width) of every image from its file's header, no pixel decoded: what a run
    checks (sizes, memory) before it decodes anything. Raises ImageError naming every file
    whose header cannot be read."""
    sizes, problems = {}, list(dataset.problems)
    for item in dataset.images:
        try:
            sizes[item.name] = image_size(item.path)
        except ImageError as error:
            problems.append(str(error))
    _raise_problems(dataset, problems)
    return sizes


def _raise_problems(dataset: Dataset, problems: list[str]) -> None:
    if problems:
        raise ImageError(
            f"{len(problems)} of the images of {dataset.display_name} cannot be used:\n  "
            + "\n  ".join(problems)
        )


def inspect(dataset: Dataset) -> DatasetSummary:
    """Decode every image once: check it is readable (and, for a set with known pixel hashes,
    the right pixels), record its size and any conversion, and hash the whole set's pixels.

    Raises ImageError naming every file that fails, before any run writes anything.
    """
    sizes, conversions, hashes = {}, {}, {}
    problems = list(dataset.problems)
    for item in dataset.images:
        try:
            image, note = item.load()
        except ImageError as error:
            problems.append(str(error))
            continue
        digest = pixel_sha256(image)
        expected = dataset.pixel_hashes.get(item.name)
        if expected and digest != expected:
            problems.append(
                f"{item.path}: pixels differ from the {dataset.name} image "
                f"(pixel sha256 {digest[:12]}..., expected {expected[:12]}...); {dataset.repair}"
            )
        sizes[item.name] = tuple(image.shape[1:])
        if note:
            conversions[item.name] = note
        hashes[item.name] = digest
    _raise_problems(dataset, problems)
    return DatasetSummary(sizes, conversions, content_sha256(hashes), hashes, dataset.verified)


def folder_dataset(path: Path, name: str | None = None) -> Dataset:
    """The images of ``path`` (sorted by file name) as a dataset. Hidden files and
    subfolders are ignored; other files that are not images are skipped with a note; broken
    links, and files named as images that are not, are problems the preflight reports."""
    images, notes, problems = {}, [], []
    skipped = []
    for entry in sorted(path.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_symlink() and not entry.exists():
            problems.append(f"{entry}: broken link (to {os.readlink(entry)})")
            continue
        if not entry.is_file():
            continue
        if entry.suffix.lower() not in IMAGE_SUFFIXES and not _looks_like_image(entry):
            skipped.append(entry.name)
            continue
        if entry.stem in images:
            problems.append(f"{entry} and {images[entry.stem]} share the name {entry.stem!r}")
            continue
        images[entry.stem] = entry
    if skipped:
        notes.append(f"{path}: skipped {len(skipped)} file(s) that are not images: {', '.join(skipped)}")
    if not images and not problems:
        folders = sorted(entry.name for entry in path.iterdir() if entry.is_dir() and not entry.name.startswith("."))
        hint = (f" (images in subfolders are not read; give the folder that holds them, e.g. {path / folders[0]})"
                if folders else "")
        raise RdpbenchError(f"dataset folder {path} holds no images{hint}")
    items = [DatasetImage(stem, file) for stem, file in images.items()]
    return Dataset(name or path.resolve().name, items, notes=notes, problems=problems)


def _looks_like_image(path: Path) -> bool:
    """Whether Pillow recognises the file's header (for images with unusual suffixes)."""
    try:
        image_size(path)
        return True
    except ImageError:
        return False
