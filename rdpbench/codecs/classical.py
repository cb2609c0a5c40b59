"""Classical codecs whose Python bindings are optional (``pip install -e ".[classical]"``):
JPEG XL through imagecodecs (libjxl) and HEVC intra through pillow-heif (libheif with x265).

As for the Pillow codecs, the payload is exactly the file the library writes: a bare JPEG XL
codestream, or a HEIF file (its boxes add a few hundred bytes to the HEVC bitstream, and they
count towards the rate, as BPG's header does).
"""

from __future__ import annotations

import functools
import importlib
from types import ModuleType
from typing import Any

import torch

from ..bitstream import Bitstream
from ..errors import RdpbenchError
from ..images import decode_image_bytes
from .base import Codec, RateKnob
from .pillow import PillowCodec
from .registry import register_codec

#: What installs the bindings: the ``classical`` extra of rdpbench's pyproject.toml.
INSTALL = "pip install -e \".[classical]\" in rdpbench's folder, or pip install {packages}"
#: imagecodecs' newest releases need numpy 2, which compressai does not take yet.
IMAGECODECS = "imagecodecs \"numpy<2\""


def require_module(module: str, packages: str, codec: str) -> ModuleType:
    """Import ``module``; RdpbenchError naming ``codec`` and the pip command that installs
    ``packages`` (PyPI names) when it is not installed."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise RdpbenchError(f"codec {codec} needs the Python package {module} ({error}): "
                            f"{INSTALL.format(packages=packages)}") from None


@register_codec
class JpegXlCodec(Codec):
    """JPEG XL (libjxl via imagecodecs), VarDCT at effort 7; rate point = Butteraugli distance."""

    name = "jpegxl"
    #: libjxl's default effort (cjxl -e 7).
    effort = 7
    bytes_per_pixel = 80  # 64 measured at 2048x1365, encode and decode
    #: Any decimal distance from 0.05 to 25 is taken (``check_point``); these are for listings.
    points = ["0.5", "1", "1.5", "2", "3", "4", "6", "8", "12", "16", "25"]
    default_points = ["12", "8", "6", "4", "3", "2"]
    min_distance, max_distance = 0.05, 25.0

    def check_point(self, point: str) -> str:
        """A distance from 0.05 to 25 (lossy; 0, libjxl's lossless, is no rate point), as
        written with the fewest digits (``2.0`` -> ``2``)."""
        try:
            distance = float(point)
        except ValueError:
            distance = float("nan")
        if not self.min_distance <= distance <= self.max_distance:  # also refuses nan
            return super().check_point(str(point))
        return f"{distance:.6g}"

    @classmethod
    def describe_points(cls) -> str:
        return (f"decimal numbers {cls.min_distance:g}..{cls.max_distance:g} (Butteraugli distance; "
                "1 is visually lossless, higher is fewer bits)")

    def rate_knob(self) -> RateKnob:
        """Distances from 25 down to 0.05 in steps of 0.05."""
        steps = round(self.max_distance / 0.05)
        return RateKnob(tuple(f"{k * 0.05:.6g}" for k in range(steps, 0, -1)), "Butteraugli distance")

    def check_installed(self) -> None:
        if not _imagecodecs().JPEGXL.available:
            raise RdpbenchError(f"codec {self.name}: this imagecodecs build has no JPEG XL support; "
                                f"{INSTALL.format(packages=IMAGECODECS)}")

    def encode_payload(self, image: torch.Tensor, point: str) -> bytes:
        pixels = image.permute(1, 2, 0).contiguous().cpu().numpy()
        return bytes(_imagecodecs().jpegxl_encode(pixels, distance=float(point), effort=self.effort))

    def decode_payload(self, stream: Bitstream, sampler: str, seed: int) -> torch.Tensor:
        pixels = _imagecodecs().jpegxl_decode(stream.payload)
        return torch.from_numpy(pixels.copy()).permute(2, 0, 1).contiguous()

    def describe(self) -> dict:
        codecs = _imagecodecs()
        return {"name": self.name, "encoder": codecs.jpegxl_version(), "imagecodecs": codecs.__version__,
                "effort": self.effort, "rate_point": "Butteraugli distance", "mode": "lossy (VarDCT), RGB 8-bit"}


@register_codec
class HevcIntraCodec(PillowCodec):
    """HEVC intra in HEIF (x265 via pillow-heif): 4:4:4 8-bit, constant QP as BPG uses it."""

    name = "hevc"
    pillow_format = "HEIF"
    bytes_per_pixel = 48  # 36 measured at 2048x1365, encode and decode (x265 veryslow)
    points = [str(qp) for qp in range(52)]
    #: CompressAI's BPG benchmark QPs (47 down to 12 by 5) less the two highest rates.
    default_points = ["47", "42", "37", "32", "27", "22"]
    #: x265 as BPG drives it (preset veryslow, its default level 8; tune ssim, which turns
    #: psycho-visual optimisation off); libheif would otherwise set psy-rd 1.
    x265_settings = {"preset": "veryslow", "tune": "ssim", "x265:psy-rd": "0", "x265:psy-rdoq": "0"}

    @classmethod
    def describe_points(cls) -> str:
        return "integers 0..51 (x265 QP, constant; lower is more bits)"

    def rate_knob(self) -> RateKnob:
        return RateKnob(tuple(reversed(self.points)), "x265 QP")

    def check_installed(self) -> None:
        _pillow_heif()

    def save_options(self, point: str) -> dict[str, Any]:
        _pillow_heif()
        # a fresh dict each call: pillow-heif writes chroma into enc_params
        return {"chroma": 444, "enc_params": {**self.x265_settings, "x265:qp": point}}

    def decode_payload(self, stream: Bitstream, sampler: str, seed: int) -> torch.Tensor:
        _pillow_heif()
        return decode_image_bytes(stream.payload)

    def describe(self) -> dict:
        heif = _pillow_heif()
        info = heif.libheif_info()
        return {**super().describe(), "pillow_heif": heif.__version__, "libheif": info.get("libheif"),
                "encoder": info.get("HEIF"), "decoders": info.get("decoders"), "chroma": "4:4:4",
                "bit_depth": 8, "colour": "YCbCr BT.601 full range (libheif's default)",
                "rate_point": "x265 QP (constant QP)", "x265": dict(self.x265_settings)}


@functools.cache
def _imagecodecs() -> ModuleType:
    """imagecodecs, imported once."""
    return require_module("imagecodecs", IMAGECODECS, JpegXlCodec.name)


@functools.cache
def _pillow_heif() -> ModuleType:
    """pillow-heif, its HEIF reader and writer registered with Pillow (once)."""
    heif = require_module("pillow_heif", "pillow-heif", HevcIntraCodec.name)
    heif.register_heif_opener()
    return heif

