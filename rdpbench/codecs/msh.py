"""``msh``: the mean-scale hyperprior of Minnen, Balle & Toderici, "Joint autoregressive and
hierarchical priors for learned image compression" (NeurIPS 2018), as CompressAI's
``mbt2018-mean`` (MSE-trained, qualities 1..8), with real entropy coding. It is the seed
paper's name for the zoo codec ``mbt2018-mean`` (:mod:`.compressai_zoo`): the same weights and
the same payload, under its own codec name.

Notation: x the image in [0, 1], y = g_a(x) the latent, z = h_a(y) the hyper-latent; the
bitstream holds the range-coded z and y; y_hat is the decoded latent and x_hat = g_s(y_hat).
The latent is exposed (:meth:`MeanScaleHyperprior.decode_latent`) so that other decoders can
share this bitstream.
"""

from __future__ import annotations

import torch

from .compressai_zoo import ZOO_CODECS, padding
from .registry import register_codec

__all__ = ["MeanScaleHyperprior", "padding"]


@register_codec
class MeanScaleHyperprior(ZOO_CODECS["mbt2018-mean"]):
    """Mean-scale hyperprior (CompressAI mbt2018-mean, MSE), qualities 1..8 (paper: 1, 2, 3).

    Payload: the z string (varint length first) then the y string. Latent shapes follow
    from the original size in the container header, so no shapes are stored.
    """

    name = "msh"
    default_points = ["1", "2", "3"]

    def latent(self, x: torch.Tensor, point: str) -> torch.Tensor:
        """y_hat of a batch x (N, 3, H, W) in [0, 1], H and W multiples of 64, without entropy
        coding: the same rounding of z and y around their medians and means as at decode time.
        This is what a decoder trained on the frozen encoder should see."""
        model = self.model(point)
        y = model.g_a(x)
        z = model.h_a(y)
        medians = model.entropy_bottleneck._get_medians().detach()
        z_hat = torch.round(z - medians) + medians
        _, means_hat = model.h_s(z_hat).chunk(2, 1)
        return torch.round(y - means_hat) + means_hat
