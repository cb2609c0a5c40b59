"""Every path inside a run folder, known in one place (:class:`RunFolder`).

A run folder holds::

    run.json                         the manifest (how the run was made and how it ended)
    images.csv                       one row per codec, quality, sampler, image
    points.csv                       one row per codec, quality, sampler
    compressai-<sampler>.json        the rate points in CompressAI's results format
    features/<key>/<quality>/<sampler>/<image>.npy    patch features (FID/KID), per extractor key
    features/<key>/reference/<image>.npy              the originals' patch features
    images/<quality>/<sampler>/<image>.png            reconstructions (--save-images)
    bitstreams/<quality>/<image>.rdpb                 bitstreams (--save-bitstreams)
    complexity.csv                   each rate point and sampler's cost (--complexity)

and, beside it, the parts of a torchrun, ``.<run name>.ranks/rank<k>of<n>/`` (each a run
folder of its own). Folders whose name starts with a dot are never results.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MANIFEST = "run.json"
IMAGES_CSV = "images.csv"
POINTS_CSV = "points.csv"
#: The saved files' layout as run.json records it.
SAVED_IMAGES = "images/<quality>/<sampler>/<image>.png"
SAVED_BITSTREAMS = "bitstreams/<quality>/<image>.rdpb"
REFERENCE = "reference"


@dataclass(frozen=True)
class RunFolder:
    """The files of the run folder ``root``."""

    root: Path

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    def __str__(self) -> str:
        return str(self.root)

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST

    @property
    def images_csv(self) -> Path:
        return self.root / IMAGES_CSV

    @property
    def points_csv(self) -> Path:
        return self.root / POINTS_CSV

    @property
    def complexity_csv(self) -> Path:
        """Each rate point and sampler's MACs, parameters and peak memory (``--complexity``)."""
        return self.root / "complexity.csv"

    @property
    def target_search(self) -> Path:
        """Every codec setting a run at target rates tried, per image (:mod:`rdpbench.run.targets`)."""
        return self.root / "target_search.csv"

    def export(self, sampler: str) -> Path:
        """The CompressAI results file of one sampler's curve."""
        return self.root / f"compressai-{sampler}.json"

    def is_export(self, path: Path) -> bool:
        """Whether ``path`` is one of this run's CompressAI exports."""
        return path.parent == self.root and path.name.startswith("compressai-") and path.suffix == ".json"

    def features_root(self, key: str) -> Path:
        """The features of one extractor (its ``cache_key``: weights, protocol, device)."""
        return self.root / "features" / key

    def feature_keys(self) -> list[str]:
        """The extractor keys this folder holds features of, sorted."""
        folder = self.root / "features"
        return sorted(path.name for path in folder.iterdir() if path.is_dir()) if folder.is_dir() else []

    def features(self, key: str, point: str, sampler: str, image: str) -> Path:
        """The patch features of one reconstruction."""
        return self.features_root(key) / point / sampler / f"{image}.npy"

    def reference_features(self, key: str, image: str) -> Path:
        """The patch features of one original image."""
        return self.features_root(key) / REFERENCE / f"{image}.npy"

    def image(self, point: str, sampler: str, image: str) -> Path:
        """Where ``--save-images`` keeps a reconstruction."""
        return self.root / "images" / point / sampler / f"{image}.png"

    def bitstream(self, point: str, image: str) -> Path:
        """Where ``--save-bitstreams`` keeps a bitstream (one per rate point, whatever the sampler)."""
        return self.root / "bitstreams" / point / f"{image}.rdpb"

    @property
    def ranks_root(self) -> Path:
        """The hidden folder beside this one that holds the parts of a torchrun."""
        return self.root.parent / f".{self.root.name}.ranks"

    def rank_part(self, rank: int, world: int) -> "RunFolder":
        """The part of rank ``rank`` (1-based) of ``world``."""
        return RunFolder(self.ranks_root / f"rank{rank}of{world}")

    def rank_parts(self, world: int) -> list["RunFolder"]:
        return [self.rank_part(rank, world) for rank in range(1, world + 1)]


def is_hidden(path: Path, root: Path) -> bool:
    """Whether ``path`` lies under a folder (or is a file) whose name starts with a dot,
    counting from ``root``: such files are never results."""
    return any(part.startswith(".") for part in Path(path).relative_to(root).parts)
