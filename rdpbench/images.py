"""Reading and writing images. Inside rdpbench an image is a ``torch.uint8`` tensor of shape
(3, H, W), RGB, 8 bits per sample; every codec and metric receives that form."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .errors import ImageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".gif")


def load_image(path: Path) -> tuple[torch.Tensor, str | None]:
    """Decode ``path`` to a uint8 (3, H, W) RGB tensor.

    Returns the tensor and a note describing any conversion (grayscale, palette, alpha,
    16-bit), or None when the file already held 8-bit RGB. Never resizes or rotates.
    Raises ImageError naming the file when it is not a readable image.
    """
    try:
        with Image.open(path) as image:
            raw_mode = _raw_mode(image)  # known only before the pixels are loaded
            image.load()
            return pil_to_tensor(image, raw_mode)
    except Image.DecompressionBombError as error:
        raise ImageError(f"{path}: too large to decode safely ({error})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise ImageError(f"{path}: not a readable image ({error})") from None


def decode_image_bytes(data: bytes) -> torch.Tensor:
    """Decode an encoded image file held in memory to uint8 (3, H, W) RGB."""
    with Image.open(io.BytesIO(data)) as image:
        raw_mode = _raw_mode(image)
        image.load()
        return pil_to_tensor(image, raw_mode)[0]


def _raw_mode(image: Image.Image) -> str:
    """How the file stores its samples (e.g. "RGB;16B" for 48-bit PNG), where Pillow says."""
    if image.tile and isinstance(image.tile[0].args, str):
        return image.tile[0].args
    return ""


def pil_to_tensor(image: Image.Image, raw_mode: str = "") -> tuple[torch.Tensor, str | None]:
    """Convert a loaded PIL image to uint8 (3, H, W) RGB, with a note on any conversion.

    ``raw_mode`` is the file's sample layout (see ``_raw_mode``); it reveals 16-bit RGB,
    which Pillow loads as 8-bit RGB.
    """
    mode = image.mode
    note = None
    if mode == "RGB":
        pixels = np.asarray(image)
        if ";16" in raw_mode:
            # Pillow keeps the high byte of each 16-bit sample; say so.
            note = "16-bit RGB -> 8-bit RGB (high byte kept)"
    elif mode in ("I;16", "I;16B", "I;16L", "I"):
        values = np.asarray(image).astype(np.int64)
        if values.min() < 0 or values.max() > 65535:
            raise ValueError(f"{mode} samples outside the 16-bit range")
        gray = (values >> 8).astype(np.uint8)
        pixels = np.repeat(gray[..., None], 3, axis=2)
        note = "16-bit grayscale -> 8-bit RGB (high byte kept, channel repeated)"
    elif mode in ("L", "1"):
        pixels = np.asarray(image.convert("RGB"))
        note = "grayscale -> RGB (channel repeated)"
    elif mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        pixels = np.asarray(image.convert("RGB"))
        note = f"{mode} -> RGB (alpha channel discarded)"
    elif mode == "P":
        pixels = np.asarray(image.convert("RGB"))
        note = "palette -> RGB"
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        pixels = np.asarray(image.convert("RGB"))
        note = f"{mode} -> RGB"
    else:
        raise ValueError(f"unsupported image mode {mode}")
    tensor = torch.from_numpy(np.array(pixels, dtype=np.uint8)).permute(2, 0, 1).contiguous()
    return tensor, note


def encode_png(image: torch.Tensor) -> bytes:
    """Lossless PNG bytes of a uint8 (3, H, W) image."""
    buffer = io.BytesIO()
    to_pil(image).save(buffer, format="PNG")
    return buffer.getvalue()


def to_pil(image: torch.Tensor) -> Image.Image:
    """A uint8 (3, H, W) tensor as a PIL RGB image."""
    check_image(image)
    return Image.fromarray(image.permute(1, 2, 0).cpu().numpy(), mode="RGB")


def pixel_sha256(image: torch.Tensor) -> str:
    """sha256 of the decoded pixels as H x W x 3 uint8 in C order (independent of file format)."""
    return hashlib.sha256(image.permute(1, 2, 0).contiguous().cpu().numpy().tobytes()).hexdigest()


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
