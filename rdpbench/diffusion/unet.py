"""The conditional UNet of the paper's diffusion decoder, g_s = g_s,unet(x_n, g_s,dec(y_hat)).

Built as the authors' ``UNetModelWithDecoder`` (a fork of improved-diffusion's UNet):
residual blocks with GroupNorm, SiLU and scale-shift timestep conditioning, stride-2
convolution down, nearest x2 + convolution up, self-attention in the deepest levels and the
middle, and 6 output channels (epsilon and the learned-variance interpolation v).

The latent y_hat (at 1/16 of the image) is turned by :class:`LatentDecoder` into feature maps
at 1/8, 1/4, 1/2 and 1/1, which are concatenated to the UNet features at the start of the
levels of the same resolution. The latent decoder has no timestep input, so it runs once per
image (:meth:`ConditionalUNet.encode_condition`), not once per diffusion step.

Every size is a field of :class:`UNetConfig`; the defaults are the paper's (about 113 M
parameters), and tests use a tiny configuration.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class UNetConfig:
    image_channels: int = 3
    model_channels: int = 128
    channel_mult: tuple[int, ...] = (1, 2, 2, 3, 3)
    res_blocks_down: int = 3  # per level; the way up has one more
    attention_levels: tuple[int, ...] = (3, 4)  # downsampling 8 and 16
    num_heads: int = 4
    dropout: float = 0.0
    learn_sigma: bool = True
    norm_groups: int = 32
    latent_channels: int = 192  # M of the MSH latent y_hat
    #: Latent-decoder outputs at 1/8, 1/4, 1/2, 1/1 of the image (joined to levels 3, 2, 1, 0).
    decoder_channels: tuple[int, ...] = (256, 256, 128, 128)

    @property
    def stride(self) -> int:
        """The image side must be a multiple of this (and equal 16 x the latent side)."""
        return 2 ** (len(self.channel_mult) - 1)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "UNetConfig":
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


#: Network sizes by name: the paper's, and smaller ones for CPU experiments and tests.
UNET_SIZES = {
    "paper": UNetConfig(),
    "small": UNetConfig(
        model_channels=64, channel_mult=(1, 2, 2, 2, 2), res_blocks_down=2, decoder_channels=(128, 128, 64, 64)
    ),
    "tiny": UNetConfig(
        model_channels=32, channel_mult=(1, 1, 2, 2, 2), res_blocks_down=1, attention_levels=(4,),
        num_heads=2, norm_groups=8, decoder_channels=(32, 32, 16, 16),
    ),
}


def timestep_embedding(timesteps: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal embedding (N,) -> (N, dim) of possibly fractional timesteps."""
    half = dim // 2
    frequencies = torch.exp(
        -math.log(max_period) * torch.arange(half, dtype=torch.float32, device=timesteps.device) / half
    )
    angles = timesteps.float()[:, None] * frequencies[None]
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)


def zero_module(module: nn.Module) -> nn.Module:
    """Zero the parameters, so the block starts as an identity through its skip path."""
    for parameter in module.parameters():
        nn.init.zeros_(parameter)
    return module


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv, scale-shift by the timestep embedding, GroupNorm-SiLU-dropout-conv."""

    def __init__(self, channels: int, out_channels: int, embed_dim: int, groups: int, dropout: float):
        super().__init__()
        self.in_layers = nn.Sequential(
            nn.GroupNorm(groups, channels), nn.SiLU(), nn.Conv2d(channels, out_channels, 3, padding=1)
        )
        self.embedding = nn.Sequential(nn.SiLU(), nn.Linear(embed_dim, 2 * out_channels))
        self.out_norm = nn.GroupNorm(groups, out_channels)
        self.out_layers = nn.Sequential(
            nn.SiLU(), nn.Dropout(dropout), zero_module(nn.Conv2d(out_channels, out_channels, 3, padding=1))
        )
        self.skip = nn.Identity() if channels == out_channels else nn.Conv2d(channels, out_channels, 1)

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        h = self.in_layers(x)
        scale, shift = self.embedding(embedding)[:, :, None, None].chunk(2, dim=1)
        h = self.out_norm(h) * (1 + scale) + shift
        return self.skip(x) + self.out_layers(h)


class AttentionBlock(nn.Module):
    """Multi-head self-attention over all positions, with a zero-initialised projection."""

    def __init__(self, channels: int, num_heads: int, groups: int):
        super().__init__()
        self.num_heads = num_heads
        self.norm = nn.GroupNorm(groups, channels)
        self.qkv = nn.Conv1d(channels, 3 * channels, 1)
        self.proj_out = zero_module(nn.Conv1d(channels, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = x.shape
        qkv = self.qkv(self.norm(x).reshape(batch, channels, -1))
        q, k, v = qkv.reshape(batch, 3, self.num_heads, channels // self.num_heads, -1).unbind(1)
        attended = F.scaled_dot_product_attention(
            q.transpose(-1, -2), k.transpose(-1, -2), v.transpose(-1, -2)
        )
        out = attended.transpose(-1, -2).reshape(batch, channels, -1)
        return x + self.proj_out(out).reshape(batch, channels, height, width)


class LatentDecoder(nn.Module):
    """g_s,dec: y_hat (1/16) -> feature maps at 1/8, 1/4, 1/2, 1/1. Each stage is a residual
    block (conv-ReLU-conv plus identity, ReLU), then a stride-2 transposed conv and ReLU."""

    def __init__(self, latent_channels: int, channels: tuple[int, ...]):
        super().__init__()
        self.stages = nn.ModuleList()
        previous = latent_channels
        for out_channels in channels:
            self.stages.append(
                nn.ModuleDict(
                    {
                        "residual": nn.Sequential(
                            nn.Conv2d(previous, previous, 3, padding=1),
                            nn.ReLU(),
                            nn.Conv2d(previous, previous, 3, padding=1),
                        ),
                        "up": nn.ConvTranspose2d(previous, out_channels, 3, stride=2, padding=1, output_padding=1),
                    }
                )
            )
            previous = out_channels

    def forward(self, y_hat: torch.Tensor) -> list[torch.Tensor]:
        outputs, h = [], y_hat
        for stage in self.stages:
            h = F.relu(h + stage["residual"](h))
            h = F.relu(stage["up"](h))
            outputs.append(h)
        return outputs


class ConditionalUNet(nn.Module):
    """epsilon_theta(x_t, t, y_hat) (and the variance interpolation when ``learn_sigma``)."""

    def __init__(self, config: UNetConfig = UNetConfig()):
        super().__init__()
        self.config = config
        c = config
        embed_dim = 4 * c.model_channels
        self.time_embedding = nn.Sequential(
            nn.Linear(c.model_channels, embed_dim), nn.SiLU(), nn.Linear(embed_dim, embed_dim)
        )
        self.latent_decoder = LatentDecoder(c.latent_channels, c.decoder_channels)
        levels = len(c.channel_mult)
        # decoder output k (1/8, 1/4, ...) joins the level whose downsampling is 8 >> k
        self.condition_level = {3 - k: k for k in range(len(c.decoder_channels)) if 3 - k < levels}
        condition_channels = {level: c.decoder_channels[k] for level, k in self.condition_level.items()}

        def res(cin: int, cout: int) -> ResBlock:
            return ResBlock(cin, cout, embed_dim, c.norm_groups, c.dropout)

        self.input_conv = nn.Conv2d(c.image_channels, c.model_channels, 3, padding=1)
        self.down = nn.ModuleList()
        skip_channels = [c.model_channels]
        channels = c.model_channels
        for level, mult in enumerate(c.channel_mult):
            for block in range(c.res_blocks_down):
                extra = condition_channels.get(level, 0) if block == 0 else 0
                layers = [res(channels + extra, mult * c.model_channels)]
                channels = mult * c.model_channels
                if level in c.attention_levels:
                    layers.append(AttentionBlock(channels, c.num_heads, c.norm_groups))
                self.down.append(nn.ModuleList(layers))
                skip_channels.append(channels)
            if level != levels - 1:
                self.down.append(nn.ModuleList([nn.Conv2d(channels, channels, 3, stride=2, padding=1)]))
                skip_channels.append(channels)
        self.middle = nn.ModuleList(
            [res(channels, channels), AttentionBlock(channels, c.num_heads, c.norm_groups), res(channels, channels)]
        )
        self.up = nn.ModuleList()
        for level, mult in reversed(list(enumerate(c.channel_mult))):
            for block in range(c.res_blocks_down + 1):
                layers = [res(channels + skip_channels.pop(), mult * c.model_channels)]
                channels = mult * c.model_channels
                if level in c.attention_levels:
                    layers.append(AttentionBlock(channels, c.num_heads, c.norm_groups))
                if level and block == c.res_blocks_down:
                    layers.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                                nn.Conv2d(channels, channels, 3, padding=1)))
                self.up.append(nn.ModuleList(layers))
        out_channels = c.image_channels * (2 if c.learn_sigma else 1)
        self.out = nn.Sequential(
            nn.GroupNorm(c.norm_groups, channels), nn.SiLU(),
            zero_module(nn.Conv2d(channels, out_channels, 3, padding=1)),
        )
        self._level_starts = self._first_block_of_each_level()

    def _first_block_of_each_level(self) -> dict[int, int]:
        """Index in ``self.down`` of the first residual block of each level."""
        starts, index = {}, 0
        for level in range(len(self.config.channel_mult)):
            starts[index] = level
            index += self.config.res_blocks_down + (1 if level != len(self.config.channel_mult) - 1 else 0)
        return starts

    def encode_condition(self, y_hat: torch.Tensor) -> list[torch.Tensor]:
        """g_s,dec(y_hat): computed once per image and passed to every :meth:`forward`."""
        return self.latent_decoder(y_hat)

    def forward(self, x: torch.Tensor, timesteps: torch.Tensor, condition: list[torch.Tensor]) -> torch.Tensor:
        """x (N, 3, H, W) in the diffusion's range, timesteps (N,) on the model's time scale,
        condition from :meth:`encode_condition` -> (N, 6, H, W) (or (N, 3, H, W))."""
        embedding = self.time_embedding(timestep_embedding(timesteps, self.config.model_channels))
        h = self.input_conv(x)
        skips = [h]
        for index, layers in enumerate(self.down):
            level = self._level_starts.get(index)
            if level in self.condition_level:
                h = torch.cat([h, condition[self.condition_level[level]]], dim=1)
            h = self._run_blocks(layers, h, embedding)
            skips.append(h)
        h = self._run_blocks(self.middle, h, embedding)
        for layers in self.up:
            h = self._run_blocks(layers, torch.cat([h, skips.pop()], dim=1), embedding)
        return self.out(h)

    @staticmethod
    def _run_blocks(layers: nn.ModuleList, h: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        for layer in layers:
            h = layer(h, embedding) if isinstance(layer, ResBlock) else layer(h)
        return h
