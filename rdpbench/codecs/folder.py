"""``folder:PATH``: score reconstructions that some other program already made.

PATH holds one image per dataset image, with the same file stem (``kodim01.png`` for
``kodim01``). The rate of each comes from, in this order:
  ``<stem>.bin`` beside the image   its size in bytes is the bitstream size;
  ``rates.csv`` in PATH              columns ``image,bpp``, bpp a finite number above 0;
  nothing                            the rate is unknown and bpp is left empty (named).
This is how a paper's released outputs, or any codec outside rdpbench, are evaluated.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import torch

from ..errors import ImageError, RdpbenchError
from ..images import IMAGE_SUFFIXES, load_image
from ..schema import DEFAULT_SAMPLER
from .base import CodecBase, Encoded
from .registry import register_codec


@register_codec
class FolderOfReconstructions(CodecBase):
    """Precomputed reconstructions in PATH, one rate point; rates from <stem>.bin files or rates.csv."""

    name = "folder"
    argument = "PATH"
    points = [DEFAULT_SAMPLER]
    default_points = [DEFAULT_SAMPLER]
    has_bitstreams = False
    #: Reading a reconstruction: Pillow's 4-byte pixels and a block of rows.
    bytes_per_pixel = 5

    def __init__(self, path: str, device: str = "cpu"):
        super().__init__(device)
        self.folder = Path(path).expanduser()
        if not self.folder.is_dir():
            raise RdpbenchError(f"folder codec: {self.folder} is not a folder")
        self.name = f"folder:{self.folder.resolve().name}"
        self._files: dict[str, Path] = {}
        for path in sorted(self.folder.iterdir()):
            if path.suffix.lower() not in IMAGE_SUFFIXES or path.name.startswith("."):
                continue
            if path.stem in self._files:
                raise ImageError(f"{path} and {self._files[path.stem]} both claim to reconstruct {path.stem!r}")
            self._files[path.stem] = path
        self._rates_csv = self._read_rates_csv()

    @property
    def memory_device(self) -> torch.device:
        return torch.device("cpu")

    def check_point(self, point: str) -> str:
        # The one rate point takes whatever label the user gives it (e.g. "2" for MSH q2).
        return str(point)

    def prepare(self, points: list[str]) -> None:
        if len(points) != 1:
            raise RdpbenchError(f"{self.name} holds one rate point; got {len(points)}: {points}")

    def check_images(self, sizes: dict[str, tuple[int, int]]) -> list[str]:
        """Raise, before any work, naming every image whose reconstruction is missing,
        unreadable, of another size, or whose bitstream file is empty; return notes on the
        images whose rate is unknown."""
        missing = sorted(set(sizes) - set(self._files))
        if missing:
            raise ImageError(
                f"{self.folder} has no reconstruction of: {', '.join(missing)} "
                "(expected files with the same stem as the dataset images)"
            )
        problems = []
        for name, (height, width) in sizes.items():
            path = self._files[name]
            try:
                found = tuple(load_image(path)[0].shape[1:])
            except ImageError as error:
                problems.append(str(error))
                continue
            if found != (height, width):
                problems.append(f"{path}: reconstruction is {found[0]}x{found[1]}, "
                                f"original {name} is {height}x{width}")
            bitstream = path.with_suffix(".bin")
            if bitstream.is_file() and bitstream.stat().st_size == 0:
                problems.append(f"{bitstream}: empty bitstream file (0 bytes is not a rate)")
        if problems:
            raise ImageError(f"{len(problems)} reconstruction(s) in {self.folder} cannot be used:\n  "
                             + "\n  ".join(problems))
        return self.rate_notes(sizes)

    def has_rates(self) -> bool:
        return bool(self._rates_csv) or any(
            path.with_suffix(".bin").is_file() for path in self._files.values()
        )

    def rate_notes(self, sizes: dict[str, tuple[int, int]]) -> list[str]:
        """Notes on the images of ``sizes`` whose rate is unknown (their bpp stays empty)."""
        if not self.has_rates():
            listing = "a rates.csv that lists no image" if (self.folder / "rates.csv").is_file() else "no rates.csv"
            return [f"{self.folder} has no <stem>.bin files and {listing}: bpp is left empty"]
        unknown = [name for name in sizes
                   if not self._files[name].with_suffix(".bin").is_file() and name not in self._rates_csv]
        if not unknown:
            return []
        return [f"{self.folder}: no rate for {', '.join(unknown)} (no <stem>.bin, not in rates.csv): "
                "their bpp is left empty, and so is the mean bpp of the point"]

    def encode_for_run(self, name: str, image: torch.Tensor, point: str) -> Encoded:
        """The reconstruction of image ``name`` and its rate (bytes, or bpp from rates.csv)."""
        path = self._files.get(name)
        if path is None:
            raise ImageError(f"{self.folder} has no reconstruction of {name}")
        reconstruction, _ = load_image(path)
        bitstream = path.with_suffix(".bin")
        if bitstream.is_file():
            return Encoded(None, bitstream.stat().st_size, precomputed=reconstruction)
        return Encoded(None, None, bpp=self._rates_csv.get(name), precomputed=reconstruction)

    def decode_for_run(self, encoded: list[Encoded], sampler: str, seeds: list[int]) -> list[torch.Tensor]:
        return [item.precomputed for item in encoded]

    def _read_rates_csv(self) -> dict[str, float]:
        path = self.folder / "rates.csv"
        if not path.is_file():
            return {}
        rates = {}
        try:
            text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's byte-order mark is fine
        except UnicodeDecodeError as error:
            raise RdpbenchError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
        reader = csv.DictReader(text.splitlines(), skipinitialspace=True)
        header = [name.strip() for name in reader.fieldnames or []]
        if not {"image", "bpp"} <= set(header):
            raise RdpbenchError(f"{path}: needs the columns image,bpp; its header is {','.join(header)!r}")
        reader.fieldnames = header
        for row in reader:
            where = f"{path}, line {reader.line_num}"
            name, value = Path((row["image"] or "").strip()).stem, (row["bpp"] or "").strip()
            try:
                bpp = float(value)
            except (TypeError, ValueError):
                bpp = math.nan
            if not (math.isfinite(bpp) and bpp > 0):
                raise RdpbenchError(
                    f"{where}: bpp {value!r} of {name or '(no image name)'} is not a rate "
                    "(a finite number above 0 is needed)"
                )
            if name in rates:
                raise RdpbenchError(f"{where}: a second rate for {name}")
            rates[name] = bpp
        return rates

    def describe(self) -> dict:
        return {"name": self.name, "folder": str(self.folder.resolve())}
