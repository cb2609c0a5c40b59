"""SSIM and MS-SSIM on 8-bit RGB, as learned-compression papers report them, and MS-SSIM in dB.

CompressAI's evaluation (``compressai.utils.eval_model``, whose results files publish
``ms-ssim-rgb``) calls ``pytorch_msssim.ms_ssim`` on the rounded 0..255 RGB values in float32
with ``data_range=255``: an 11-tap Gaussian window of sigma 1.5, K = (0.01, 0.03), five scales
weighted (0.0448, 0.2856, 0.3001, 0.2363, 0.1333), each channel scored on its own and the
three averaged. rdpbench makes that very call, so ``ms_ssim`` equals CompressAI's
``ms-ssim-rgb``, and ``ssim`` is the same package's single-scale SSIM.

pyiqa's ``ms_ssim`` defaults to luma (about 0.01 to 0.1 higher on JPEG-coded photographs);
on RGB (``pyiqa:ms_ssim(test_y_channel=false)``) it stays within 5e-4 of CompressAI's (it
averages the channels before taking the product over scales, clips negative contrast-structure
values per pixel rather than per channel and computes in float64). Both are reachable as
``pyiqa:`` metrics.
"""

from __future__ import annotations

import math

import torch

from .base import FULL_REFERENCE, DerivedMetric, ImageMetric, register_metric


class PytorchMsssimMetric(ImageMetric):
    """A metric of ``pytorch_msssim`` called as CompressAI calls it: float32 0..255 RGB values,
    ``data_range=255``, the package's defaults otherwise."""

    bytes_per_pixel = 300  # 281 measured on the CPU at 2048x1365, for ssim and ms_ssim alike

    kind = FULL_REFERENCE
    higher_is_better = True
    function_name: str

    def variant(self) -> dict:
        from importlib.metadata import version

        return {"implementation": f"pytorch_msssim {version('pytorch-msssim')}", "function": self.function_name,
                "channels": "RGB, each scored on its own, then averaged", "data_range": 255,
                "window": "Gaussian, 11 taps, sigma 1.5", "convention": "CompressAI's eval_model"}

    @torch.inference_mode()
    def score(self, reference: torch.Tensor, reconstruction: torch.Tensor) -> float:
        import pytorch_msssim

        function = getattr(pytorch_msssim, self.function_name)
        original, decoded = (image.unsqueeze(0).float().to(self.device) for image in (reference, reconstruction))
        return float(function(original, decoded, data_range=255).item())


@register_metric("ssim")
class SSIM(PytorchMsssimMetric):
    """Structural similarity (Wang et al. 2004) on RGB, pytorch_msssim as CompressAI calls it."""

    name, function_name = "ssim", "ssim"
    description = "structural similarity on RGB (pytorch_msssim, CompressAI's convention)"
    # below one window pytorch_msssim skips the Gaussian smoothing: another quantity
    min_size = (11, 11)


@register_metric("ms_ssim")
class MSSSIM(PytorchMsssimMetric):
    """Multi-scale SSIM (Wang et al. 2003) on RGB: CompressAI's ``ms-ssim-rgb``."""

    name, function_name = "ms_ssim", "ms_ssim"
    description = "multi-scale SSIM on RGB, CompressAI's ms-ssim-rgb (pytorch_msssim)"
    # pytorch_msssim refuses a side of 160 or less: a window must fit after 4 halvings
    min_size = (161, 161)


@register_metric("ms_ssim_db")
class MSSSIMDecibels(DerivedMetric):
    """MS-SSIM in dB, -10 log10(1 - MS-SSIM), of a rate point's mean MS-SSIM."""

    name, source = "ms_ssim_db", "ms_ssim"
    kind = FULL_REFERENCE
    higher_is_better = True
    description = "-10 log10(1 - mean ms_ssim) of a rate point, as CompressAI's plots draw it"

    def variant(self) -> dict:
        return {"implementation": "rdpbench", "formula": "-10 log10(1 - m)",
                "m": "mean of ms_ssim over the rate point's images (CompressAI's plot utility)"}

    def from_mean(self, mean: float) -> float:
        return math.inf if mean == 1.0 else -10.0 * math.log10(1.0 - mean)
