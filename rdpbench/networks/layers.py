"""Layers shared by the networks of :mod:`rdpbench.networks`."""

from __future__ import annotations

import torch
from torch import nn


class ChannelNorm2D(nn.Module):
    """HiFiC's channel normalisation: each pixel's features normalised over the channels
    (unbiased variance, epsilon 1e-3), then scaled by ``gamma`` and shifted by ``beta``."""

    def __init__(self, channels: int, epsilon: float = 1e-3):
        super().__init__()
        self.epsilon = epsilon
        self.gamma = nn.Parameter(torch.ones(1, channels, 1, 1))
        self.beta = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=1, keepdim=True)
        variance = x.var(dim=1, keepdim=True)
        return self.gamma * (x - mean) * torch.rsqrt(variance + self.epsilon) + self.beta


def round_up(side: int, factor: int) -> int:
    """``side`` rounded up to a multiple of ``factor``."""
    return -(-side // factor) * factor


def latent_sizes_at_64(height: int, width: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """(H, W) of y (1/16) and z (1/64) of an image padded to a multiple of 64."""
    padded = [round_up(side, 64) for side in (height, width)]
    return tuple(side // 16 for side in padded), tuple(side // 64 for side in padded)


def pad_right_bottom(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Reflect-pad the bottom and right of ``x`` (N, C, H, W) up to multiples of ``factor``."""
    height, width = x.shape[-2:]
    return nn.functional.pad(x, (0, -width % factor, 0, -height % factor), mode="reflect")


def checkpoint_width(state_dict: dict, key: str, default: int, dim: int = 0) -> int:
    """The size of dimension ``dim`` of ``state_dict[key]``, or ``default`` when the key is
    absent (the strict load then names the missing key)."""
    tensor = state_dict.get(key)
    width = int(tensor.shape[dim]) if isinstance(tensor, torch.Tensor) and tensor.ndim > dim else default
    if width < 1:
        raise ValueError(f"{key} has an empty dimension {dim}")
    return width


def tensor_dict(value, what: str) -> dict:
    """``value`` if it is a dict (a state dict; :func:`load_exactly` checks its values);
    ValueError naming ``what`` if not."""
    if not isinstance(value, dict):
        raise ValueError(f"its {what} is a {type(value).__name__}, not a state dict")
    return value


def load_exactly(module: nn.Module, state_dict: dict, rebuilt: tuple[str, ...] = ()) -> None:
    """Load ``state_dict`` into ``module`` after checking that both hold the same keys with
    the same shapes, apart from keys ending in one of ``rebuilt`` (tables the caller
    recomputes). Raises ValueError naming the first differences."""
    expected = {k: v.shape for k, v in module.state_dict().items() if not k.endswith(rebuilt)}
    given = {k: v for k, v in state_dict.items() if not k.endswith(rebuilt)}
    problems = [f"missing {key} {tuple(shape)}" for key, shape in expected.items() if key not in given]
    problems += [f"unexpected {key}" for key in given if key not in expected]
    problems += [
        f"{key} is a {type(given[key]).__name__}, not a tensor" if not isinstance(given[key], torch.Tensor)
        else f"{key} has shape {tuple(given[key].shape)}, not {tuple(shape)}"
        for key, shape in expected.items()
        if key in given and (not isinstance(given[key], torch.Tensor) or given[key].shape != shape)
    ]
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise ValueError(f"its tensors do not fit the network ({len(problems)} differences): {shown}")
    module.load_state_dict(given, strict=False)
