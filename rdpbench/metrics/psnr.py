"""Peak signal-to-noise ratio on 8-bit RGB."""

from __future__ import annotations

import math

import torch

from .base import FULL_REFERENCE, ImageMetric, register_metric


@register_metric("psnr")
class PSNR(ImageMetric):
    """10 log10(255^2 / MSE), MSE over all pixels and the three RGB channels of the 8-bit
    images; infinity for identical images (pyiqa reports 80 dB there instead)."""

    name = "psnr"
    kind = FULL_REFERENCE
    higher_is_better = True
    description = "PSNR in dB on 8-bit RGB"

    def score(self, reference: torch.Tensor, reconstruction: torch.Tensor) -> float:
        difference = reference.double() - reconstruction.double()
        mse = difference.square().mean().item()
        return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)
