"""Datasets: named sets of test images, read lazily and checked before a run starts.

``kodak``   the 24 Kodak PhotoCD images, downloaded on first use into a cache and checked by
            the sha256 of their decoded pixels (re-encoded copies with the same pixels pass);
``sample``  four colour photographs shipped inside scikit-image, for offline use;
the sets of :mod:`.catalog` (CLIC 2020 test and validation, DIV2K validation, CLIC 2022
            validation): hundreds of MB to GBs each, so installed only on request
            (``rdpbench datasets download NAME`` or ``import``, :mod:`.install`), then checked
            like Kodak against the pixel hashes recorded when they were installed;
PATH        any folder of images; files that are not images are skipped with a note.

What a dataset is and how it is identified (by content) is in :mod:`.dataset`.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..errors import RdpbenchError
from ..registry import Registry
from .catalog import CATALOG, CatalogEntry
from .dataset import (
    Dataset,
    DatasetImage,
    DatasetSummary,
    content_sha256,
    folder_dataset,
    image_sizes,
    inspect,
)
from .download import DownloadError, fetch_file
from .install import cache_dir, installed_dataset, read_manifest

__all__ = ["DATASETS", "Dataset", "DatasetImage", "DatasetSummary", "cache_dir", "content_sha256", "folder_dataset",
           "get_dataset", "image_sizes", "inspect", "kodak_table", "published_content_sha256"]

DATASETS: Registry = Registry("dataset")
KODAK_URL = "https://r0k.us/graphics/kodak/kodak/{file}"


def get_dataset(spec: str) -> Dataset:
    """A registered dataset by name (``kodak``, ``sample``, ``div2k-valid``, ...) or a folder
    of images by path."""
    if spec in DATASETS:
        return DATASETS.get(spec)()
    path = Path(spec).expanduser()
    if path.is_dir():
        return folder_dataset(path)
    raise RdpbenchError(
        f"unknown dataset {spec!r}: not a folder, and not one of {', '.join(DATASETS.names())}"
    )


def published_content_sha256() -> dict[str, str]:
    """{content sha256: dataset name} of the registered sets whose pixels are known to be the
    published ones: Kodak (its table), and each catalogue set installed here from archives that
    matched their published checksums. Results on them are recognised whatever their folder is
    called; an unverified set is never recognised."""
    known = {content_sha256({Path(name).stem: pixels for name, _, pixels in kodak_table()}): "kodak"}
    for name in CATALOG:
        manifest = read_manifest(name)
        if manifest is not None and manifest["verified"]:
            known[manifest["content_sha256"]] = name
    return known


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
    try:
        for name, file_hash, _ in table:
            if not (folder / name).is_file():
                fetch_file(KODAK_URL.format(file=name), folder / name, file_hash)
    except (DownloadError, OSError) as error:
        raise RdpbenchError(
            f"cannot download the Kodak images ({error}).\n"
            f"Put kodim01.png ... kodim24.png into {folder} (any copy whose pixels match "
            "is accepted), set RDPBENCH_DATA to a folder that has a kodak/ subfolder "
            "holding them, or pass --dataset PATH."
        ) from None
    images = [DatasetImage(Path(name).stem, folder / name) for name, _, _ in table]
    pixels = {Path(name).stem: pixel_hash for name, _, pixel_hash in table}
    return Dataset("kodak", images, pixels, verified=True)


@DATASETS.register("sample")
def sample() -> Dataset:
    """Four colour photographs that ship inside scikit-image (no download needed)."""
    import skimage

    folder = Path(skimage.__file__).parent / "data"
    names = ["astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png"]
    return Dataset("sample", [DatasetImage(Path(n).stem, folder / n) for n in names])


def _register(entry: CatalogEntry) -> None:
    def installed() -> Dataset:
        return installed_dataset(CATALOG[entry.name])  # looked up when called: the table is the one source

    installed.__doc__ = entry.title
    DATASETS.register(entry.name)(installed)


for _entry in CATALOG.values():
    _register(_entry)
