"""``folder:PATH``: score reconstructions that some other program already made.

PATH holds one image per dataset image, with the same file stem (``kodim01.png`` for
``kodim01``). The rate of each comes from, in this order:
  ``<stem>.bin`` beside the image   its size in bytes is the bitstream size;
  ``rates.csv`` in PATH              columns ``image,bpp``;
  nothing                            the rate is unknown and bpp is left empty.
This is how a paper's released outputs, or any codec outside rdpbench, are evaluated.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from ..errors import ImageError, RdpbenchError
from ..images import IMAGE_SUFFIXES, load_image
from .base import DEFAULT_SAMPLER, CodecBase
from .registry import register_codec


@dataclass
class Precomputed:
    """A reconstruction read from disk, with its rate where one is known."""

    image: torch.Tensor
    n_bytes: int | None
    bpp: float | None


@register_codec("folder")
class FolderOfReconstructions(CodecBase):
    """Precomputed reconstructions in one folder: one rate point, no encoder."""

    name = "folder"
    points = [DEFAULT_SAMPLER]
    default_points = [DEFAULT_SAMPLER]

    def __init__(self, path: str, device: str = "cpu"):
        super().__init__(device)
        self.folder = Path(path).expanduser()
        if not self.folder.is_dir():
            raise RdpbenchError(f"folder codec: {self.folder} is not a folder")
        self.name = f"folder:{self.folder.resolve().name}"
        self._files = {
            p.stem: p
            for p in sorted(self.folder.iterdir())
            if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
        }
        self._rates_csv = self._read_rates_csv()

    def check_point(self, point: str) -> str:
        # The one rate point takes whatever label the user gives it (e.g. "2" for MSH q2).
        return str(point)

    def prepare(self, points: list[str]) -> None:
        if len(points) != 1:
            raise RdpbenchError(f"{self.name} holds one rate point; got {len(points)}: {points}")

    def check_images(self, sizes: dict[str, tuple[int, int]]) -> None:
        """Raise, before any work, if an image has no reconstruction or a different size."""
        missing = sorted(set(sizes) - set(self._files))
        if missing:
            raise ImageError(
                f"{self.folder} has no reconstruction of: {', '.join(missing)} "
                "(expected files with the same stem as the dataset images)"
            )
        for name, (height, width) in sizes.items():
            try:
                with Image.open(self._files[name]) as image:
                    found = (image.height, image.width)
            except OSError as error:
                raise ImageError(f"{self._files[name]}: not a readable image ({error})") from None
            if found != (height, width):
                raise ImageError(
                    f"{self._files[name]}: reconstruction is {found[0]}x{found[1]}, "
                    f"original {name} is {height}x{width}"
                )

    def has_rates(self) -> bool:
        return bool(self._rates_csv) or any(
            path.with_suffix(".bin").is_file() for path in self._files.values()
        )

    def reconstruction(self, image_name: str) -> Precomputed:
        """The reconstruction of ``image_name`` and its rate (bytes, or bpp from rates.csv)."""
        path = self._files.get(image_name)
        if path is None:
            raise ImageError(f"{self.folder} has no reconstruction of {image_name}")
        image, _ = load_image(path)
        bitstream = path.with_suffix(".bin")
        if bitstream.is_file():
            return Precomputed(image, bitstream.stat().st_size, None)
        return Precomputed(image, None, self._rates_csv.get(image_name))

    def _read_rates_csv(self) -> dict[str, float]:
        path = self.folder / "rates.csv"
        if not path.is_file():
            return {}
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or not {"image", "bpp"} <= set(reader.fieldnames):
                raise RdpbenchError(f"{path}: needs the columns image,bpp")
            try:
                return {Path(row["image"]).stem: float(row["bpp"]) for row in reader}
            except ValueError as error:
                raise RdpbenchError(f"{path}: {error}") from None

    def describe(self) -> dict:
        return {"name": self.name, "folder": str(self.folder.resolve())}
