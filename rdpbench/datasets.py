"""Datasets: named sets of test images, read lazily and checked before a run starts.

``kodak``   the 24 Kodak PhotoCD images, downloaded once into a cache and checked by the
            sha256 of their decoded pixels (re-encoded copies with the same pixels pass);
``sample``  four colour photographs shipped inside scikit-image, for offline use;
PATH        any folder of images (every non-hidden file in it must be an image).

Images are never resized or rotated: portrait images stay portrait.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import torch

from .atomic import atomic_write
from .cache import cache_root
from .errors import ImageError, RdpbenchError
from .images import load_image, pixel_sha256
from .registry import Registry

DATASETS: Registry = Registry("dataset")
KODAK_URL = "https://r0k.us/graphics/kodak/kodak/{file}"


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

    def limited(self, limit: int | None) -> "Dataset":
        """The first ``limit`` images (all when None)."""
        if limit is None:
            return self
        if limit < 1:
            raise RdpbenchError("--limit must be at least 1")
        return Dataset(self.name, self.images[:limit], self.pixel_hashes)


@dataclass
class DatasetSummary:
    """What a full read of a dataset found: sizes, conversions and a content hash."""

    sizes: dict[str, tuple[int, int]]
    conversions: dict[str, str]
    content_sha256: str
    #: sha256 of each image's decoded pixels: the key of reference-side caches.
    pixel_hashes: dict[str, str]


def inspect(dataset: Dataset) -> DatasetSummary:
    """Decode every image once: check it is readable (and, for Kodak, the right pixels),
    record its size and any conversion, and hash the whole set's pixels.

    Raises ImageError naming the first file that fails, before any run writes anything.
    """
    sizes, conversions, hashes = {}, {}, {}
    for item in dataset.images:
        image, note = item.load()
        digest = pixel_sha256(image)
        expected = dataset.pixel_hashes.get(item.name)
        if expected and digest != expected:
            raise ImageError(
                f"{item.path}: pixels differ from the published {dataset.name} image "
                f"(pixel sha256 {digest[:12]}..., expected {expected[:12]}...); "
                "delete the file and run again to download a good copy"
            )
        sizes[item.name] = tuple(image.shape[1:])
        if note:
            conversions[item.name] = note
        hashes[item.name] = digest
    lines = "".join(f"{name} {digest}\n" for name, digest in hashes.items())
    content = hashlib.sha256(lines.encode()).hexdigest()
    return DatasetSummary(sizes, conversions, content, hashes)


def get_dataset(spec: str) -> Dataset:
    """A registered dataset by name (``kodak``, ``sample``) or a folder of images by path."""
    if spec in DATASETS:
        return DATASETS.get(spec)()
    path = Path(spec).expanduser()
    if path.is_dir():
        return folder_dataset(path)
    raise RdpbenchError(
        f"unknown dataset {spec!r}: not a folder, and not one of {', '.join(DATASETS.names())}"
    )


def folder_dataset(path: Path, name: str | None = None) -> Dataset:
    """Every non-hidden file of ``path`` (sorted by name) as one image of a dataset."""
    files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise RdpbenchError(f"dataset folder {path} holds no images")
    stems: dict[str, Path] = {}
    for file in files:
        if file.stem in stems:
            raise ImageError(f"{file} and {stems[file.stem]} share the name {file.stem!r}")
        stems[file.stem] = file
    return Dataset(name or path.resolve().name, [DatasetImage(s, p) for s, p in stems.items()])


def cache_dir() -> Path:
    """Where downloaded datasets are kept: ``$RDPBENCH_DATA``, else ``datasets/`` in the
    rdpbench cache (``~/.cache/rdpbench``)."""
    return Path(os.environ.get("RDPBENCH_DATA", cache_root() / "datasets"))


def kodak_table() -> list[tuple[str, str, str]]:
    """(file name, sha256 of the canonical file, sha256 of its pixels) for the 24 images."""
    text = resources.files("rdpbench").joinpath("data/kodak.tsv").read_text()
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
    return [(row[0], row[3], row[4]) for row in rows]


@DATASETS.register("kodak")
def kodak() -> Dataset:
    """The 24 Kodak images from the cache, downloading any that are missing."""
    folder = cache_dir() / "kodak"
    table = kodak_table()
    missing = [(name, file_hash) for name, file_hash, _ in table if not (folder / name).is_file()]
    if missing:
        folder.mkdir(parents=True, exist_ok=True)
        try:
            for name, file_hash in missing:
                _download_checked(KODAK_URL.format(file=name), folder / name, file_hash)
        except (urllib.error.URLError, OSError) as error:
            raise RdpbenchError(
                f"cannot download the Kodak images ({error}).\n"
                f"Put kodim01.png ... kodim24.png into {folder} (any copy whose pixels match "
                "is accepted), set RDPBENCH_DATA to a folder that has a kodak/ subfolder "
                "holding them, or pass --dataset PATH."
            ) from None
    images = [DatasetImage(Path(name).stem, folder / name) for name, _, _ in table]
    pixels = {Path(name).stem: pixel_hash for name, _, pixel_hash in table}
    return Dataset("kodak", images, pixels)


@DATASETS.register("sample")
def sample() -> Dataset:
    """Four colour photographs that ship inside scikit-image (no download needed)."""
    import skimage

    folder = Path(skimage.__file__).parent / "data"
    names = ["astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png"]
    return Dataset("sample", [DatasetImage(Path(n).stem, folder / n) for n in names])


def _download_checked(url: str, target: Path, sha256: str) -> None:
    with urllib.request.urlopen(url, timeout=30) as response:
        data = response.read()
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise OSError(f"{url}: sha256 {actual} differs from the published {sha256}")
    atomic_write(target, lambda handle: handle.write(data), binary=True)
