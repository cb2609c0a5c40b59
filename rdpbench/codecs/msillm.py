"""``msillm`` and ``noganms``: MS-ILLM and its No-GAN base model (Muckley et al., ICML 2023)
from NeuralCompression's published state dicts, rate points ``1``..``6`` (targets 0.035, 0.07,
0.14, 0.3, 0.45 and 0.9 bpp), and for MS-ILLM ``vlo1`` and ``vlo2`` (targets 0.00218 and 0.00438
bpp; the same network, not run unless asked for). No dependency on the neuralcompression package: the network is
:class:`rdpbench.networks.HificAutoencoder`. Files saved with CompressAI 1.2.4 parameter names
and files with or without filled coder tables both load; the stored medians are kept.
Weights are CC-BY-NC 4.0.
"""

from __future__ import annotations

import torch

from ..weights import NEURALCOMPRESSION_POINTS, NEURALCOMPRESSION_TARGETS, WeightFile, neuralcompression_weight_file
from .generative import GenerativeHyperpriorCodec
from .registry import register_codec


class NeuralCompressionCodec(GenerativeHyperpriorCodec):
    """A HiFiCAutoencoder family of NeuralCompression's model zoo."""

    model: str
    default_points = [str(quality) for quality in range(1, len(NEURALCOMPRESSION_TARGETS) + 1)]
    #: Reflect padding to a multiple of 64 needs the pad to be shorter than the side.
    min_size = (33, 33)
    bytes_per_pixel = 1800  # 1588 measured on the CPU at 512x512 (full-size network, random weights)

    def weight_file(self, point: str) -> WeightFile:
        return neuralcompression_weight_file(self.model, point)

    def build_network(self, checkpoint) -> torch.nn.Module:
        from ..networks.hific_autoencoder import HificAutoencoder
        from ..networks.layers import tensor_dict

        checkpoint = tensor_dict(checkpoint, "content")
        network = HificAutoencoder.for_checkpoint(checkpoint)
        network.load_checkpoint(checkpoint)
        return network

    def describe(self) -> dict:
        return {**super().describe(), "network": "NeuralCompression HiFiCAutoencoder, CompressAI range coding"}


@register_codec
class MsIllmCodec(NeuralCompressionCodec):
    """MS-ILLM, points vlo1, vlo2 and 1..6 (default 1..6)."""

    name = "msillm"
    model = "msillm"
    points = list(NEURALCOMPRESSION_POINTS["msillm"])


@register_codec
class NoGanCodec(NeuralCompressionCodec):
    """No-GAN (MS-ILLM's MSE + LPIPS base model), points 1..6."""

    name = "noganms"
    model = "noganms"
    points = list(NEURALCOMPRESSION_POINTS["noganms"])
