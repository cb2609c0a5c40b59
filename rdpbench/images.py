"""Reading and writing images. Inside rdpbench an image is a ``torch.uint8`` tensor of shape
(3, H, W), RGB, 8 bits per sample; every codec and metric receives that form."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .atomic import atomic_write
from .errors import ImageError
from .memory import available_memory, format_bytes

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".gif")
#: Pixels per block of rows when an image is converted, hashed or compared piecewise, so that
#: temporaries stay a few MB whatever the image's size.
BLOCK_PIXELS = 1 << 18
#: Peak bytes per pixel while a file is decoded: Pillow's storage (at most 4 bytes a pixel
#: for the modes read here) plus the 3-byte tensor it is copied into, block by block.
DECODE_BYTES_PER_PIXEL = 8


def row_blocks(height: int, width: int) -> Iterator[slice]:
    """Slices of consecutive rows, about BLOCK_PIXELS pixels each, covering ``height`` rows."""
    step = max(1, BLOCK_PIXELS // max(width, 1))
    for top in range(0, height, step):
        yield slice(top, min(top + step, height))


def image_size(path: Path) -> tuple[int, int]:
    """(height, width) of an image file from its header, without decoding its pixels.
    Raises ImageError naming the file when it is not a readable image."""
    try:
        with _opened(path) as image:
            return image.height, image.width
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise ImageError(f"{path}: not a readable image ({error})") from None


def load_image(path: Path) -> tuple[torch.Tensor, str | None]:
    """Decode ``path`` to a uint8 (3, H, W) RGB tensor.

    Returns the tensor and a note describing any conversion (grayscale, palette, alpha,
    16-bit), or None when the file already held 8-bit RGB. Never resizes or rotates.
    Raises ImageError naming the file when it is not a readable image, or when its pixels
    would not fit in the memory available.
    """
    try:
        return _decode(path, str(path))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise ImageError(f"{path}: not a readable image ({error})") from None


def decode_image_bytes(data: bytes) -> torch.Tensor:
    """Decode an encoded image file held in memory to uint8 (3, H, W) RGB."""
    return _decode(io.BytesIO(data), "the encoded image")[0]


@contextmanager
def _opened(source) -> Iterator[Image.Image]:
    """``Image.open(source)`` without Pillow's fixed pixel-count limit (a warning above about
    89 million pixels, an error above twice that): rdpbench weighs an image's size against
    the memory available instead, before its pixels are decoded."""
    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        with Image.open(source) as image:
            yield image
    finally:
        Image.MAX_IMAGE_PIXELS = limit


def _decode(source, name: str) -> tuple[torch.Tensor, str | None]:
    with _opened(source) as image:
        check_decodable(name, image.height, image.width)
        raw_mode = _raw_mode(image)  # known only before the pixels are loaded
        image.load()
        return pil_to_tensor(image, raw_mode)


def check_decodable(name: str, height: int, width: int) -> None:
    """Raise ImageError when decoding an image of this size would need more memory than is
    available: a file of a few kB may declare billions of pixels."""
    need = DECODE_BYTES_PER_PIXEL * height * width
    available = available_memory()
    if available.bytes is not None and need > available.bytes:
        raise ImageError(
            f"{name}: {width}x{height} pixels need about {format_bytes(need)} to decode, more than the "
            f"{format_bytes(available.bytes)} available ({available.source}); free memory or use a "
            "machine with more")


def _raw_mode(image: Image.Image) -> str:
    """How the file stores its samples (e.g. "RGB;16B" for 48-bit PNG), where Pillow says."""
    if image.tile and isinstance(image.tile[0].args, str):
        return image.tile[0].args
    return ""


#: Notes on the conversion of each Pillow mode to 8-bit RGB (RGB itself needs none).
_CONVERSIONS = {
    **{mode: "16-bit grayscale -> 8-bit RGB (high byte kept, channel repeated)"
       for mode in ("I;16", "I;16B", "I;16L", "I")},
    **{mode: "grayscale -> RGB (channel repeated)" for mode in ("L", "1")},
    **{mode: f"{mode} -> RGB (alpha channel discarded)" for mode in ("RGBA", "LA", "PA", "RGBa", "La")},
    "P": "palette -> RGB",
    **{mode: f"{mode} -> RGB" for mode in ("CMYK", "YCbCr", "LAB", "HSV")},
}


def pil_to_tensor(image: Image.Image, raw_mode: str = "") -> tuple[torch.Tensor, str | None]:
    """Convert a loaded PIL image to uint8 (3, H, W) RGB, with a note on any conversion.

    ``raw_mode`` is the file's sample layout (see ``_raw_mode``); it reveals 16-bit RGB,
    which Pillow loads as 8-bit RGB. The image is converted a block of rows at a time, so
    no whole-image temporary is made besides the result.
    """
    mode = image.mode
    if mode == "RGB":
        # Pillow keeps the high byte of each 16-bit sample; say so.
        note = "16-bit RGB -> 8-bit RGB (high byte kept)" if ";16" in raw_mode else None
    elif mode in _CONVERSIONS:
        note = _CONVERSIONS[mode]
    else:
        raise ValueError(f"unsupported image mode {mode}")
    pixels = np.empty((3, image.height, image.width), dtype=np.uint8)
    for rows in row_blocks(image.height, image.width):
        block = image.crop((0, rows.start, image.width, rows.stop))
        pixels[:, rows] = _rgb_pixels(block).transpose(2, 0, 1)
    return torch.from_numpy(pixels), note


def _rgb_pixels(block: Image.Image) -> np.ndarray:
    """A PIL image of a mode listed in ``_CONVERSIONS`` (or RGB) as uint8 (H, W, 3)."""
    if block.mode == "RGB":
        return np.asarray(block)
    if block.mode.startswith("I"):
        values = np.asarray(block).astype(np.int64)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise ValueError(f"{block.mode} samples outside the 16-bit range")
        return np.repeat((values >> 8).astype(np.uint8)[..., None], 3, axis=2)
    return np.asarray(block.convert("RGB"))


def save_png(image: torch.Tensor, path: Path) -> None:
    """Write a uint8 (3, H, W) image to ``path`` as a lossless PNG, atomically."""
    pil = to_pil(image)
    atomic_write(path, lambda handle: pil.save(handle, format="PNG"), binary=True)


def to_pil(image: torch.Tensor) -> Image.Image:
    """A uint8 (3, H, W) tensor as a PIL RGB image (copied a block of rows at a time)."""
    check_image(image)
    _, height, width = image.shape
    result = Image.new("RGB", (width, height))
    for rows in row_blocks(height, width):
        result.paste(Image.fromarray(_hwc(image[:, rows])), (0, rows.start))
    return result


def pixel_sha256(image: torch.Tensor) -> str:
    """sha256 of the decoded pixels as H x W x 3 uint8 in C order (independent of file format)."""
    digest = hashlib.sha256()
    for rows in row_blocks(*image.shape[1:]):
        digest.update(_hwc(image[:, rows]))
    return digest.hexdigest()


def _hwc(image: torch.Tensor) -> np.ndarray:
    """A (3, h, w) tensor as a C-ordered (h, w, 3) numpy array on the CPU."""
    return image.cpu().permute(1, 2, 0).contiguous().numpy()


def to_float(image: torch.Tensor) -> torch.Tensor:
    """uint8 (3, H, W) -> float32 (1, 3, H, W) in [0, 1]."""
    return image.unsqueeze(0).float().div_(255.0)


def to_signed(image: torch.Tensor) -> torch.Tensor:
    """uint8 (3, H, W) -> float32 (1, 3, H, W) in [-1, 1], the range LPIPS and diffusion
    models expect (feeding [0, 1] instead silently gives wrong numbers)."""
    return image.unsqueeze(0).float().div_(127.5).sub_(1.0)


def from_float(batch: torch.Tensor) -> torch.Tensor:
    """float (1, 3, H, W) in [0, 1] -> uint8 (3, H, W), rounding to the nearest level."""
    return batch.squeeze(0).clamp(0, 1).mul(255.0).round_().to(torch.uint8).cpu()


def check_image(image: torch.Tensor) -> None:
    """Raise TypeError unless ``image`` is a uint8 (3, H, W) tensor."""
    if image.dtype != torch.uint8 or image.ndim != 3 or image.shape[0] != 3:
        raise TypeError(
            f"expected a uint8 (3, H, W) image, got {image.dtype} of shape {tuple(image.shape)}"
        )


def check_sizes(sizes: dict[str, tuple[int, int]], checks: list, failing: str) -> None:
    """Run every ``check(name, height, width)`` on every image of ``sizes``; raise one
    ImageError listing each failure, headed "N ``failing``"."""
    problems = []
    for name, (height, width) in sizes.items():
        for check in checks:
            try:
                check(name, height, width)
            except ImageError as error:
                problems.append(str(error))
    if problems:
        raise ImageError(f"{len(problems)} {failing}:\n  " + "\n  ".join(problems))
