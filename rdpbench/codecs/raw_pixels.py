"""Raw 4:4:4 pixel files, the hand-over format of encoders that take no PNG (VTM): three planes
of full-range BT.709 Y, Cb, Cr (or R, G, B), 8-bit samples or little-endian 16-bit ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import ImageError
from ..images import row_blocks

BT709 = (0.2126, 0.7152, 0.0722)


def write_planes(image: torch.Tensor, path: Path, colour: str, bit_depth: int) -> None:
    """Write the uint8 (3, H, W) RGB ``image`` to ``path`` as raw planes (:func:`rgb_to_planes`)."""
    path.write_bytes(rgb_to_planes(image, colour, bit_depth).tobytes())


def read_planes(path: Path, height: int, width: int, colour: str, bit_depth: int) -> torch.Tensor:
    """The uint8 RGB image in the raw planes file ``path``; ImageError when its size is not
    that of a ``height`` x ``width`` image."""
    sample_bytes = 1 if bit_depth == 8 else 2
    expected = 3 * height * width * sample_bytes
    size = path.stat().st_size
    if size != expected:
        raise ImageError(f"it holds {size} bytes; a {height}x{width} 4:4:4 image of {bit_depth}-bit "
                         f"samples is {expected} bytes")
    planes = np.fromfile(path, dtype=np.uint8 if sample_bytes == 1 else np.dtype("<u2"))
    return planes_to_rgb(planes.reshape(3, height, width), colour, bit_depth)


def rgb_to_planes(image: torch.Tensor, colour: str, bit_depth: int) -> np.ndarray:
    """A uint8 (3, H, W) RGB image as three planes of ``bit_depth``-bit samples (uint8 up to 8
    bits, little-endian uint16 above): full-range BT.709 Y, Cb, Cr, or R, G, B; rounded.
    Converted a block of rows at a time (no whole-image float64 temporaries)."""
    _, height, width = image.shape
    planes = np.empty((3, height, width), dtype=np.uint8 if bit_depth == 8 else np.dtype("<u2"))
    for rows in row_blocks(height, width):
        planes[:, rows] = _rgb_to_planes(image[:, rows].cpu().numpy(), colour, bit_depth)
    return planes


def _rgb_to_planes(pixels: np.ndarray, colour: str, bit_depth: int) -> np.ndarray:
    rgb = pixels.astype(np.float64) / 255.0
    if colour == "ycbcr-bt709":
        kr, kg, kb = BT709
        r, g, b = rgb
        y = kr * r + kg * g + kb * b
        planes = np.stack([y, (b - y) / (2 * (1 - kb)) + 0.5, (r - y) / (2 * (1 - kr)) + 0.5])
    else:
        planes = rgb
    top = 2**bit_depth - 1
    return np.clip(np.rint(planes * top), 0, top).astype(np.uint8 if bit_depth == 8 else np.dtype("<u2"))


def planes_to_rgb(planes: np.ndarray, colour: str, bit_depth: int) -> torch.Tensor:
    """Inverse of :func:`rgb_to_planes`: a uint8 (3, H, W) RGB image, rounded and clipped."""
    _, height, width = planes.shape
    rgb = np.empty((3, height, width), dtype=np.uint8)
    for rows in row_blocks(height, width):
        rgb[:, rows] = _planes_to_rgb(planes[:, rows], colour, bit_depth)
    return torch.from_numpy(rgb)


def _planes_to_rgb(planes: np.ndarray, colour: str, bit_depth: int) -> np.ndarray:
    values = planes.astype(np.float64) / (2**bit_depth - 1)
    if colour == "ycbcr-bt709":
        kr, kg, kb = BT709
        y, cb, cr = values
        r = y + 2 * (1 - kr) * (cr - 0.5)
        b = y + 2 * (1 - kb) * (cb - 0.5)
        values = np.stack([r, (y - kr * r - kb * b) / kg, b])
    return np.clip(np.rint(values * 255.0), 0, 255).astype(np.uint8)
