"""Entropy coding of hyperprior latents with CompressAI, shared by every learned codec.

Every learned codec in rdpbench (MSH, HiFiC, MS-ILLM, No-GAN, CDC) sends a hyper-latent z
coded with a factorized density (an ``EntropyBottleneck``) and a latent y coded with a
conditional density whose scales and means come from z (a ``GaussianConditional`` or a
subclass). :func:`code_hyperprior` makes the two byte strings and the codec's own estimate
of their size, -sum(log2 p) over both latents: the rate that papers report. The estimate is
taken with the same rounding as the bytes (z around its medians, y around its means).

The densities of the published codecs that differ from CompressAI's live here too, as small
subclasses, so that their bytes come from CompressAI's range coder.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable

import torch
from compressai.entropy_models import EntropyBottleneck, GaussianConditional

#: z_hat -> (scales, means) of y.
HyperSynthesis = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


@dataclass
class CodedLatents:
    """The byte strings of one image's z and y, and the estimated size of both in bits."""

    z_string: bytes
    y_string: bytes
    estimated_bits: float


def estimated_bits(*likelihoods: torch.Tensor, offset: float = 0.0) -> float:
    """-sum(log2(p + offset)) over every element of the given likelihood tensors, in float64
    (``offset`` for codecs whose authors add one inside the logarithm)."""
    return float(sum(-torch.log2(p.double() + offset).sum() for p in likelihoods))


def code_hyperprior(
    y: torch.Tensor, z: torch.Tensor, bottleneck: EntropyBottleneck,
    conditional: GaussianConditional, synthesis: HyperSynthesis, estimate_offset: float = 0.0,
) -> CodedLatents:
    """Range-code z, then y given the scales and means decoded from z_hat (batch of one).
    The decoder repeats exactly these steps from the z string (:func:`decode_hyperprior`).
    The estimate takes ``estimate_offset`` inside its logarithm (:func:`estimated_bits`)."""
    [z_string] = bottleneck.compress(z)
    z_hat = bottleneck.decompress([z_string], z.shape[-2:])
    scales, means = synthesis(z_hat)
    [y_string] = conditional.compress(y, conditional.build_indexes(scales), means=means)
    _, z_likelihoods = bottleneck(z, training=False)
    _, y_likelihoods = conditional(y, scales, means=means, training=False)
    return CodedLatents(z_string, y_string, estimated_bits(z_likelihoods, y_likelihoods, offset=estimate_offset))


def decode_hyperprior(
    z_string: bytes, y_string: bytes, z_size: tuple[int, int], bottleneck: EntropyBottleneck,
    conditional: GaussianConditional, synthesis: HyperSynthesis,
) -> torch.Tensor:
    """y_hat from the two strings of :func:`code_hyperprior`, z being ``z_size`` (H, W)."""
    z_hat = bottleneck.decompress([z_string], z_size)
    scales, means = synthesis(z_hat)
    return conditional.decompress([y_string], conditional.build_indexes(scales), means=means)


class TailPreciseBottleneck(EntropyBottleneck):
    """CompressAI's factorized density, each probability evaluated on the side of the median
    where both sigmoids are small (as the HiFiC port and CDC evaluate theirs), so that tail
    probabilities keep their precision in float32."""

    def _likelihood(self, inputs: torch.Tensor, stop_gradient: bool = False):
        lower = self._logits_cumulative(inputs - 0.5, stop_gradient=stop_gradient)
        upper = self._logits_cumulative(inputs + 0.5, stop_gradient=stop_gradient)
        sign = -torch.sign(lower + upper).detach()
        return torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower)), lower, upper


class FinalFactorBottleneck(TailPreciseBottleneck):
    """A factorized density whose last layer has a factor too (``final_factor``, (C, 1, 1)),
    as in the HiFiC PyTorch port; CompressAI's stops the factors one layer earlier."""

    def __init__(self, channels: int, **options):
        super().__init__(channels, **options)
        self.final_factor = torch.nn.Parameter(torch.zeros(channels, 1, 1))

    def _logits_cumulative(self, inputs: torch.Tensor, stop_gradient: bool) -> torch.Tensor:
        logits = super()._logits_cumulative(inputs, stop_gradient)
        factor = self.final_factor.detach() if stop_gradient else self.final_factor
        return logits + torch.tanh(factor) * torch.tanh(logits)


class LogisticConditional(GaussianConditional):
    """The mean-scale conditional with a logistic instead of a Gaussian distribution."""

    @staticmethod
    def _standardized_cumulative(inputs: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(inputs)

    @staticmethod
    def _standardized_quantile(quantile: float) -> float:
        return math.log(quantile / (1 - quantile))


def set_tails(bottleneck: EntropyBottleneck, medians: torch.Tensor, tail_mass: float) -> None:
    """Set the bottleneck's quantiles to ``medians`` and, around them, the points where its
    cumulative reaches ``tail_mass / 2`` and ``1 - tail_mass / 2`` (found by bisection), so
    that ``update`` builds tables over exactly the density's bulk."""
    with torch.no_grad():
        quantiles = bottleneck.quantiles
        quantiles[:, 0, 1] = medians
        target = math.log(2 / tail_mass - 1)
        for column, goal in ((0, -target), (2, target)):
            low = medians - 1e4 if column == 0 else medians.clone()
            high = medians.clone() if column == 0 else medians + 1e4
            for _ in range(100):
                middle = (low + high) / 2
                logits = bottleneck._logits_cumulative(middle.reshape(-1, 1, 1), stop_gradient=True).reshape(-1)
                above = logits > goal
                high = torch.where(above, middle, high)
                low = torch.where(above, low, middle)
            quantiles[:, 0, column] = (low + high) / 2


def factorized_bottleneck(
    matrices: list[torch.Tensor], biases: list[torch.Tensor], factors: list[torch.Tensor],
    medians: torch.Tensor, tail_mass: float, final_factor: torch.Tensor | None = None,
) -> TailPreciseBottleneck:
    """A ready coder of a published factorized density, given in CompressAI's layout
    (matrix k (C, out, in), bias k (C, out, 1), factor k (C, out, 1) for all but the last
    layer; ``final_factor`` (C, 1, 1) for densities that have one): tails found around the
    stored ``medians`` (C,), tables built, no re-search of the medians."""
    channels = medians.numel()
    filters = tuple(matrix.shape[1] for matrix in matrices[:-1])
    if final_factor is None:
        bottleneck = TailPreciseBottleneck(channels, filters=filters, tail_mass=tail_mass)
    else:
        bottleneck = FinalFactorBottleneck(channels, filters=filters, tail_mass=tail_mass)
    with torch.no_grad():
        for target, values in [*zip(bottleneck.matrices, matrices), *zip(bottleneck.biases, biases),
                               *zip(bottleneck.factors, factors)]:
            target.copy_(values)
        if final_factor is not None:
            bottleneck.final_factor.copy_(final_factor)
    set_tails(bottleneck, medians, tail_mass)
    bottleneck.update(force=True)
    return bottleneck.eval()


_COMPRESSAI_124_NAMES = re.compile(r"^(.*)\._(matrix|bias|factor)(\d+)$")


def renamed_compressai_124(state_dict: dict) -> dict:
    """A state dict saved with CompressAI 1.2.4 (``_matrix0``, ``_bias0``, ``_factor0``) under
    the names of later releases (``matrices.0``, ``biases.0``, ``factors.0``)."""
    plural = {"matrix": "matrices", "bias": "biases", "factor": "factors"}
    renamed = {}
    for key, value in state_dict.items():
        match = _COMPRESSAI_124_NAMES.match(key)
        renamed[f"{match[1]}.{plural[match[2]]}.{match[3]}" if match else key] = value
    return renamed
