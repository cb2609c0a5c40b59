"""Peak signal-to-noise ratio on 8-bit RGB."""

from __future__ import annotations

import math

import torch

from ..images import row_blocks
from .base import FULL_REFERENCE, ImageMetric, register_metric

CAP_DB = 80.0


@register_metric("psnr")
class PSNR(ImageMetric):
    """10 log10(255^2 / MSE), MSE over all pixels and the three RGB channels of the 8-bit
    images, capped at 80 dB: pyiqa's value for identical images, so a lossless image gives a
    finite number and a rate point's mean stays finite. Below the cap the value is exact
    (pyiqa adds 1e-8 to the MSE instead, which shifts near-lossless values). The squared
    error is summed exactly in integers, a block of rows at a time, so a large image needs no
    whole-image temporaries."""

    name = "psnr"
    kind = FULL_REFERENCE
    higher_is_better = True
    description = "PSNR in dB on 8-bit RGB"

    def variant(self) -> dict:
        return {"implementation": "rdpbench", "channels": "RGB, 8-bit", "cap_db": CAP_DB}

    def score(self, reference: torch.Tensor, reconstruction: torch.Tensor) -> float:
        mse = squared_error_sum(reference, reconstruction) / reference.numel()
        return CAP_DB if mse == 0 else min(10.0 * math.log10(255.0**2 / mse), CAP_DB)


def squared_error_sum(reference: torch.Tensor, reconstruction: torch.Tensor) -> int:
    """Sum of squared differences of two uint8 (3, H, W) images, exact (at most 255^2 per
    sample: int64 holds it for any image that fits in memory)."""
    total = 0
    for rows in row_blocks(*reference.shape[1:]):
        difference = reference[:, rows].to(torch.int32) - reconstruction[:, rows].to(torch.int32)
        total += int(difference.square_().sum(dtype=torch.int64))
    return total
