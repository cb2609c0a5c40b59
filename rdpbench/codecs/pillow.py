"""Classical codecs through Pillow: JPEG, WebP, JPEG 2000 and AVIF.

The payload is exactly the file Pillow writes, so anyone can reproduce a rate with Pillow
alone; the rdpbench container adds a fixed header of about 17 bytes.
"""

from __future__ import annotations

import io
from typing import Any, ClassVar

import torch

from ..bitstream import Bitstream
from ..images import decode_image_bytes, to_pil
from .base import Codec, RateKnob
from .registry import register_codec


class PillowCodec(Codec):
    """A codec that is one Pillow image format; ``save_options`` maps a rate point to
    the keyword arguments of ``Image.save``."""

    pillow_format: ClassVar[str]

    @property
    def memory_device(self) -> torch.device:
        return torch.device("cpu")  # Pillow codes on the CPU whatever the run's device

    def save_options(self, point: str) -> dict[str, Any]:
        raise NotImplementedError

    def encode_payload(self, image: torch.Tensor, point: str) -> bytes:
        buffer = io.BytesIO()
        to_pil(image).save(buffer, format=self.pillow_format, **self.save_options(point))
        return buffer.getvalue()

    def decode_payload(self, stream: Bitstream, sampler: str, seed: int) -> torch.Tensor:
        return decode_image_bytes(stream.payload)

    def describe(self) -> dict:
        import PIL

        return {"name": self.name, "pillow": PIL.__version__, "format": self.pillow_format}


class _QualityCodec(PillowCodec):
    """Rate point = Pillow's ``quality`` argument (an integer); all other options default."""

    def save_options(self, point: str) -> dict[str, Any]:
        return {"quality": int(point)}

    @classmethod
    def describe_points(cls) -> str:
        return f"integers {cls.points[0]}..{cls.points[-1]} (Pillow quality)"

    def rate_knob(self) -> RateKnob:
        return RateKnob(tuple(self.points), "Pillow quality")


@register_codec
class JpegCodec(_QualityCodec):
    """Baseline JPEG (libjpeg via Pillow), Pillow's defaults (4:2:0, no optimisation)."""

    name = "jpeg"
    pillow_format = "JPEG"
    bytes_per_pixel = 10  # measured 7 at 2048x1365, encode and decode
    points = [str(q) for q in range(1, 101)]
    default_points = ["5", "10", "20", "30", "50", "75"]


@register_codec
class WebpCodec(_QualityCodec):
    """Lossy WebP (libwebp via Pillow), Pillow's defaults apart from quality."""

    name = "webp"
    pillow_format = "WEBP"
    bytes_per_pixel = 24  # measured 19 at 2048x1365, encode and decode
    points = [str(q) for q in range(0, 101)]
    default_points = ["5", "10", "20", "30", "50", "75"]
    max_size = (16_383, 16_383)


@register_codec
class AvifCodec(_QualityCodec):
    """AVIF (libavif via Pillow >= 11.2), Pillow's defaults apart from quality."""

    name = "avif"
    pillow_format = "AVIF"
    bytes_per_pixel = 40  # measured 32 at 2048x1365, encode and decode
    points = [str(q) for q in range(0, 101)]
    default_points = ["20", "30", "40", "50", "60", "70"]


@register_codec
class Jpeg2000Codec(PillowCodec):
    """JPEG 2000 (OpenJPEG via Pillow): 9/7 irreversible wavelet, raw codestream (no JP2 boxes).

    The rate point is the compression ratio against 24-bit RGB, as OpenJPEG's ``-r``:
    point "48" asks for about 24 / 48 = 0.5 bpp.
    """

    name = "jpeg2000"
    pillow_format = "JPEG2000"
    bytes_per_pixel = 60  # measured 47 at 2048x1365, encode and decode
    points = [str(r) for r in range(2, 1001)]
    default_points = ["200", "100", "64", "48", "32", "24"]

    def save_options(self, point: str) -> dict[str, Any]:
        return {
            "quality_mode": "rates",
            "quality_layers": [float(point)],
            "irreversible": True,
            "no_jp2": True,
        }

    @classmethod
    def describe_points(cls) -> str:
        return "integers 2..1000 (compression ratio against 24-bit RGB)"

    def rate_knob(self) -> RateKnob:
        return RateKnob(tuple(reversed(self.points)), "compression ratio against 24-bit RGB")
