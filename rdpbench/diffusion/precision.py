"""The fast path of the diffusion decoders: the denoising network under bfloat16 autocast in
channels-last layout, optionally compiled. Only the network changes; the entropy decoding and
the samplers' arithmetic stay in fp32."""

from __future__ import annotations

from typing import Callable

import torch

from ..errors import UnknownNameError

#: Network precision -> autocast dtype (None: plain fp32).
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise UnknownNameError("precision", precision, list(PRECISIONS))
    return precision


def prepared(network: torch.nn.Module, precision: str, compile: bool) -> torch.nn.Module:
    """The network as the fast path runs it: channels-last for bf16, compiled if asked."""
    if precision != "fp32":
        network = network.to(memory_format=torch.channels_last)
    return torch.compile(network) if compile else network


def in_precision(network: Callable, device: torch.device, precision: str) -> Callable:
    """``network`` called under autocast at ``precision``, taking and returning fp32."""
    dtype = PRECISIONS[precision]
    if dtype is None:
        return network

    def call(x: torch.Tensor, *rest) -> torch.Tensor:
        with torch.autocast(device.type, dtype=dtype):
            return network(x.contiguous(memory_format=torch.channels_last), *rest).float()

    return call
