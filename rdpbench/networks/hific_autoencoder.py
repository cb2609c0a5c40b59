"""NeuralCompression's ``HiFiCAutoencoder``, the network of MS-ILLM and No-GAN (Muckley et
al., "Improving Statistical Fidelity for Neural Image Compression with Implicit Local
Likelihood Models", ICML 2023), with its state-dict keys and shapes.

It differs from the HiFiC port (:mod:`rdpbench.networks.hific_port`): zero padding inside
the networks, the image reflect-padded to a multiple of 64, no tanh, a last hyper-synthesis
layer that is a convolution, and CompressAI's own entropy models (z around its stored
medians, y Gaussian), stored in the checkpoint.
"""

from __future__ import annotations

import re

import torch
from compressai.entropy_models import EntropyBottleneck, GaussianConditional
from compressai.models.base import get_scale_table
from torch import nn

from ..entropy import renamed_compressai_124
from .layers import ChannelNorm2D, checkpoint_width, latent_sizes_at_64, load_exactly, pad_right_bottom

IMAGE_STRIDE = 64
#: NeuralCompression's widths: encoder filters, latent and hyper-latent channels, residual blocks.
FILTERS, LATENT_CHANNELS, HYPER_CHANNELS, RESIDUAL_BLOCKS = (60, 120, 240, 480, 960), 220, 320, 9
#: Entropy-coder tables: rebuilt from the stored densities, whether the file holds them or not.
REBUILT_BUFFERS = ("_offset", "_quantized_cdf", "_cdf_length", "scale_table")


class ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.sequence = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1), ChannelNorm2D(channels), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1), ChannelNorm2D(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.sequence(x)


class Encoder(nn.Module):
    def __init__(self, filters: tuple[int, ...], latent_channels: int):
        super().__init__()
        blocks, previous = [], 3
        for index, width in enumerate(filters):
            convolution = nn.Conv2d(previous, width, 7, padding=3) if index == 0 else \
                nn.Conv2d(previous, width, 3, stride=2, padding=1)
            blocks.append(nn.Sequential(convolution, ChannelNorm2D(width), nn.ReLU()))
            previous = width
        blocks.append(nn.Conv2d(previous, latent_channels, 3, padding=1))
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)


class Generator(nn.Module):
    def __init__(self, filters: tuple[int, ...], latent_channels: int, residual_blocks: int):
        super().__init__()
        widths = filters[::-1]
        self.block_0 = nn.Sequential(ChannelNorm2D(latent_channels), nn.Conv2d(latent_channels, widths[0], 3, padding=1),
                                     ChannelNorm2D(widths[0]))
        self.resid_blocks = nn.Sequential(*[ResidualBlock(widths[0]) for _ in range(residual_blocks)])
        blocks = [nn.Sequential(nn.ConvTranspose2d(widths[i - 1], widths[i], 3, stride=2, padding=1, output_padding=1),
                                ChannelNorm2D(widths[i]), nn.ReLU()) for i in range(1, len(widths))]
        blocks.append(nn.Conv2d(widths[-1], 3, 7, padding=3))
        self.blocks = nn.Sequential(*blocks)

    def forward(self, y_hat: torch.Tensor) -> torch.Tensor:
        x = self.block_0(y_hat)
        return self.blocks(x + self.resid_blocks(x))


def _hyper_synthesis(latent_channels: int, hyper_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose2d(hyper_channels, hyper_channels, 5, stride=2, padding=2, output_padding=1), nn.ReLU(),
        nn.ConvTranspose2d(hyper_channels, hyper_channels, 5, stride=2, padding=2, output_padding=1), nn.ReLU(),
        nn.Conv2d(hyper_channels, latent_channels, 3, padding=1))


class HificAutoencoder(nn.Module):
    """``HiFiCAutoencoder`` with the steps of its compress/decompress."""

    #: NeuralCompression's estimate is -sum log2 p of CompressAI's floored likelihoods.
    estimate_offset = 0.0

    def __init__(self, filters: tuple[int, ...] = FILTERS, latent_channels: int = LATENT_CHANNELS,
                 hyper_channels: int = HYPER_CHANNELS, residual_blocks: int = RESIDUAL_BLOCKS):
        super().__init__()
        self.encoder = Encoder(filters, latent_channels)
        self.decoder = Generator(filters, latent_channels, residual_blocks)
        self.hyper_analysis = nn.Sequential(
            nn.Conv2d(latent_channels, hyper_channels, 3, padding=1), nn.ReLU(),
            nn.Conv2d(hyper_channels, hyper_channels, 5, stride=2, padding=2), nn.ReLU(),
            nn.Conv2d(hyper_channels, hyper_channels, 5, stride=2, padding=2))
        self.hyper_synthesis_mean = _hyper_synthesis(latent_channels, hyper_channels)
        self.hyper_synthesis_scale = _hyper_synthesis(latent_channels, hyper_channels)
        self.hyper_bottleneck = EntropyBottleneck(hyper_channels)
        self.latent_bottleneck = GaussianConditional(None)

    @classmethod
    def for_checkpoint(cls, state_dict: dict) -> "HificAutoencoder":
        """The network whose widths and residual-block count are those of ``state_dict``
        (NeuralCompression fixes them in code; the tensors say them too)."""
        filters = tuple(checkpoint_width(state_dict, f"encoder.blocks.{i}.0.weight", width)
                        for i, width in enumerate(FILTERS))
        blocks = {int(m[1]) for key in state_dict if (m := re.match(r"decoder\.resid_blocks\.(\d+)\.", key))}
        return cls(filters, checkpoint_width(state_dict, f"encoder.blocks.{len(filters)}.weight", LATENT_CHANNELS),
                   checkpoint_width(state_dict, "hyper_analysis.0.weight", HYPER_CHANNELS),
                   len(blocks) if blocks else RESIDUAL_BLOCKS)

    def load_checkpoint(self, state_dict: dict) -> None:
        """Load the tensors and rebuild the coder tables around the stored medians (no
        re-search of the quantiles, which would move the medians and the decoded latent)."""
        load_exactly(self, renamed_compressai_124(state_dict), REBUILT_BUFFERS)
        self.hyper_bottleneck.update(force=True)
        self.latent_bottleneck.update_scale_table(get_scale_table(), force=True)
        self.eval()

    @property
    def image_networks(self) -> list[nn.Module]:
        """The modules that may run on an accelerator; the rest stays on the CPU in fp32."""
        return [self.encoder, self.decoder]

    def entropy_models(self) -> tuple[EntropyBottleneck, GaussianConditional]:
        return self.hyper_bottleneck, self.latent_bottleneck

    def analysis(self, x: torch.Tensor) -> torch.Tensor:
        """y of an image batch in [0, 1], reflect-padded to a multiple of 64."""
        return self.encoder(pad_right_bottom(x, IMAGE_STRIDE))

    def hyper_latents(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(y as coded, z)."""
        return y, self.hyper_analysis(y)

    def hyper_synthesis(self, z_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(scales, means) of y."""
        return self.hyper_synthesis_scale(z_hat), self.hyper_synthesis_mean(z_hat)

    def synthesis(self, y_hat: torch.Tensor, height: int, width: int) -> torch.Tensor:
        return self.decoder(y_hat)[..., :height, :width].clamp(0, 1)

    latent_sizes = staticmethod(latent_sizes_at_64)
