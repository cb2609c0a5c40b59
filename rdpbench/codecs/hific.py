"""``hific``: HiFiC (Mentzer et al., NeurIPS 2020) from the checkpoints of its PyTorch port
(Justin-Tan/high-fidelity-generative-compression; Zenodo record 4026003): rate points ``lo``,
``mi`` and ``hi`` (``hific_low.pt``, ``hific_med.pt``, ``hific_hi.pt``).

Each file is the port's training dict (``model_state_dict``, ``args``, optimiser and
discriminator states); only the encoder, generator and hyperprior are read, and the networks
are configured from ``args`` (the medium model differs from the other two: no input
normalisation, a logistic latent likelihood). The port saves ``args`` as a dict of plain
values; an ``argparse.Namespace``, numpy scalars and dtypes are read too, without running
code (:func:`rdpbench.weights.harmless_globals`). The port reports an estimated rate; here the
latents are range-coded (:mod:`rdpbench.codecs.generative`).
"""

from __future__ import annotations

import argparse

import torch

from ..weights import HIFIC_PORT_FILES, WeightFile, hific_port_weight_file
from .generative import GenerativeHyperpriorCodec
from .registry import register_codec


@register_codec
class HificPortCodec(GenerativeHyperpriorCodec):
    """HiFiC, PyTorch port checkpoints, points lo, mi, hi (targets 0.14, 0.30, 0.45 bpp)."""

    name = "hific"
    points = list(HIFIC_PORT_FILES)
    default_points = list(HIFIC_PORT_FILES)
    #: The port's reflect pads need the padded latent (a multiple of 4) to be at least 8.
    min_size = (65, 65)
    bytes_per_pixel = 1200  # 1033 measured on the CPU at 512x512 (full-size network, random weights)

    def weight_file(self, point: str) -> WeightFile:
        return hific_port_weight_file(point)

    def build_network(self, checkpoint) -> torch.nn.Module:
        from ..networks.hific_port import HificPort, HificPortConfig
        from ..networks.layers import tensor_dict

        if not isinstance(checkpoint, dict) or "model_state_dict" not in checkpoint:
            raise ValueError("it has no model_state_dict entry, where the port saves its networks")
        state = {key.removeprefix("module."): value
                 for key, value in tensor_dict(checkpoint["model_state_dict"], "model_state_dict").items()}
        args = checkpoint.get("args") or {}
        if isinstance(args, argparse.Namespace):
            args = vars(args)
        if not isinstance(args, dict):
            raise ValueError(f"its args entry is a {type(args).__name__}, not a dict or an argparse.Namespace")
        network = HificPort(HificPortConfig.from_checkpoint(args, state))
        network.load_checkpoint(state)
        return network

    def describe(self) -> dict:
        return {**super().describe(), "network": "HiFiC PyTorch port (Justin-Tan), CompressAI range coding"}
