"""Peak signal-to-noise ratio on 8-bit RGB."""

from __future__ import annotations

import math

import torch

from .base import FULL_REFERENCE, ImageMetric, register_metric

CAP_DB = 80.0


@register_metric("psnr")
class PSNR(ImageMetric):
    """10 log10(255^2 / MSE), MSE over all pixels and the three RGB channels of the 8-bit
    images, capped at 80 dB: pyiqa's value for identical images, so a lossless image gives a
    finite number and a rate point's mean stays finite. Below the cap the value is exact
    (pyiqa adds 1e-8 to the MSE instead, which shifts near-lossless values)."""

    name = "psnr"
    kind = FULL_REFERENCE
    higher_is_better = True
    description = "PSNR in dB on 8-bit RGB"

    def variant(self) -> dict:
        return {"implementation": "rdpbench", "channels": "RGB, 8-bit", "cap_db": CAP_DB}

    def score(self, reference: torch.Tensor, reconstruction: torch.Tensor) -> float:
        difference = reference.double() - reconstruction.double()
        mse = difference.square().mean().item()
        return CAP_DB if mse == 0 else min(10.0 * math.log10(255.0**2 / mse), CAP_DB)
