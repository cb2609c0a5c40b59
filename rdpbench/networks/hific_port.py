"""The networks of the HiFiC PyTorch port (Justin-Tan/high-fidelity-generative-compression),
whose checkpoints ``hific_low.pt``, ``hific_med.pt`` and ``hific_hi.pt`` reproduce Mentzer et
al., "High-Fidelity Generative Image Compression" (NeurIPS 2020).

Keys are the port's ``Encoder.*``, ``Generator.*`` and ``Hyperprior.*`` (its discriminator and
evaluation-time tables are not needed). What sets the port apart, reproduced here: reflect
padding everywhere in the encoder and generator, with an asymmetric (right 1, top 1) pad before
each strided convolution; the image padded on the bottom and right (reflect) to a multiple of
16 and the latent to a multiple of 4; the generator's skip around its residual blocks; tanh on
the output of models trained on [-1, 1] input; a factorized hyper-latent density with a factor
on its last layer too, and z rounded without a median offset; a logistic latent likelihood
where the file says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from compressai.entropy_models import GaussianConditional
from compressai.models.base import get_scale_table
from torch import nn

from ..entropy import FinalFactorBottleneck, LogisticConditional, factorized_bottleneck
from .layers import ChannelNorm2D, checkpoint_width, load_exactly, pad_right_bottom, round_up

#: The port's tail mass for the hyper-latent tables (its TAIL_MASS, 2^-8).
TAIL_MASS = 2**-8
IMAGE_STRIDE = 16
LATENT_STRIDE = 4
DENSITY_FILTERS = (3, 3, 3)
#: Checkpoint entries that are not the codec's networks: the GAN's discriminator, and the
#: tables that evaluation-mode models register (rebuilt here with CompressAI).
IGNORED_PREFIXES = ("Discriminator.", "Hyperprior.hyperprior_entropy_model.", "Hyperprior.prior_entropy_model.",
                    "Hyperprior.prior_density.")


@dataclass(frozen=True)
class HificPortConfig:
    """What a checkpoint's ``args`` and tensors say about its networks."""

    filters: tuple[int, ...] = (60, 120, 240, 480, 960)
    latent_channels: int = 220
    hyper_channels: int = 320
    residual_blocks: int = 9
    normalize_input: bool = True
    likelihood: str = "gaussian"

    @classmethod
    def from_checkpoint(cls, args: dict, state_dict: dict) -> "HificPortConfig":
        """Read the training ``args`` (refusing options rdpbench does not reproduce) and the
        layer widths, which the port fixes in code, from the tensors themselves."""
        unsupported = []
        if not args.get("use_channel_norm", True):
            unsupported.append("use_channel_norm=False (instance norm)")
        if args.get("sample_noise", False):
            unsupported.append("sample_noise=True (noise channels in the generator)")
        if args.get("use_latent_mixture_model", False):
            unsupported.append("use_latent_mixture_model=True (logistic mixture prior)")
        likelihood = args.get("likelihood_type", "gaussian")
        if likelihood not in ("gaussian", "logistic"):
            unsupported.append(f"likelihood_type={likelihood!r}")
        if unsupported:
            raise ValueError("trained with options rdpbench does not reproduce: " + ", ".join(unsupported))
        defaults = cls()
        filters = tuple(checkpoint_width(state_dict, f"Encoder.conv_block{i + 1}.1.weight", width)
                        for i, width in enumerate(defaults.filters))
        return cls(
            filters=filters,
            latent_channels=int(args.get("latent_channels", defaults.latent_channels)),
            hyper_channels=checkpoint_width(state_dict, "Hyperprior.analysis_net.conv1.weight", defaults.hyper_channels),
            residual_blocks=int(args.get("n_residual_blocks", defaults.residual_blocks)),
            normalize_input=bool(args.get("normalize_input_image", defaults.normalize_input)),
            likelihood=likelihood,
        )


class Encoder(nn.Module):
    def __init__(self, config: HificPortConfig):
        super().__init__()
        widths = config.filters
        self.conv_block1 = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(3, widths[0], 7),
                                         ChannelNorm2D(widths[0]), nn.ReLU())
        for index in range(1, len(widths)):
            self.add_module(f"conv_block{index + 1}", nn.Sequential(
                nn.ReflectionPad2d((0, 1, 1, 0)), nn.Conv2d(widths[index - 1], widths[index], 3, stride=2),
                ChannelNorm2D(widths[index]), nn.ReLU()))
        self.conv_block_out = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(widths[-1], config.latent_channels, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.children():
            x = block(x)
        return x


class ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.pad = nn.ReflectionPad2d(1)
        self.conv1 = nn.Conv2d(channels, channels, 3)
        self.conv2 = nn.Conv2d(channels, channels, 3)
        self.norm1 = ChannelNorm2D(channels)
        self.norm2 = ChannelNorm2D(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = torch.relu(self.norm1(self.conv1(self.pad(x))))
        return x + self.norm2(self.conv2(self.pad(residual)))


class Generator(nn.Module):
    def __init__(self, config: HificPortConfig):
        super().__init__()
        widths = config.filters[::-1]
        self.residual_blocks = config.residual_blocks
        self.conv_block_init = nn.Sequential(
            ChannelNorm2D(config.latent_channels), nn.ReflectionPad2d(1),
            nn.Conv2d(config.latent_channels, widths[0], 3), ChannelNorm2D(widths[0]))
        for index in range(config.residual_blocks):
            self.add_module(f"resblock_{index}", ResidualBlock(widths[0]))
        for index in range(1, len(widths)):
            self.add_module(f"upconv_block{index}", nn.Sequential(
                nn.ConvTranspose2d(widths[index - 1], widths[index], 3, stride=2, padding=1, output_padding=1),
                ChannelNorm2D(widths[index]), nn.ReLU()))
        self.upsampling_blocks = len(widths) - 1
        self.conv_block_out = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(widths[-1], 3, 7))

    def forward(self, y_hat: torch.Tensor) -> torch.Tensor:
        head = self.conv_block_init(y_hat)
        x = head
        for index in range(self.residual_blocks):
            x = getattr(self, f"resblock_{index}")(x)
        x = x + head
        for index in range(1, self.upsampling_blocks + 1):
            x = getattr(self, f"upconv_block{index}")(x)
        return self.conv_block_out(x)


class HyperAnalysis(nn.Module):
    """y -> z: the first convolution pads with zeros, the two strided ones by reflection."""

    def __init__(self, latent_channels: int, hyper_channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(latent_channels, hyper_channels, 3, padding=1)
        self.conv2 = nn.Conv2d(hyper_channels, hyper_channels, 5, stride=2, padding=2, padding_mode="reflect")
        self.conv3 = nn.Conv2d(hyper_channels, hyper_channels, 5, stride=2, padding=2, padding_mode="reflect")

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.conv3(torch.relu(self.conv2(torch.relu(self.conv1(y)))))


class HyperSynthesis(nn.Module):
    """z_hat -> the means or the scales of y (no final activation)."""

    def __init__(self, latent_channels: int, hyper_channels: int):
        super().__init__()
        self.conv1 = nn.ConvTranspose2d(hyper_channels, hyper_channels, 5, stride=2, padding=2, output_padding=1)
        self.conv2 = nn.ConvTranspose2d(hyper_channels, hyper_channels, 5, stride=2, padding=2, output_padding=1)
        self.conv3 = nn.ConvTranspose2d(hyper_channels, latent_channels, 3, padding=1)

    def forward(self, z_hat: torch.Tensor) -> torch.Tensor:
        return self.conv3(torch.relu(self.conv2(torch.relu(self.conv1(z_hat)))))


class FactorizedDensity(nn.Module):
    """The parameters of the port's hyper-latent density (``H_k``, ``a_k``, ``b_k``); the
    density itself is evaluated and coded by :class:`rdpbench.entropy.FinalFactorBottleneck`."""

    def __init__(self, channels: int, filters: tuple[int, ...] = DENSITY_FILTERS):
        super().__init__()
        widths = (1, *filters, 1)
        self.layers = len(filters) + 1
        for k in range(self.layers):
            self.register_parameter(f"H_{k}", nn.Parameter(torch.zeros(channels, widths[k + 1], widths[k])))
            self.register_parameter(f"a_{k}", nn.Parameter(torch.zeros(channels, widths[k + 1], 1)))
            self.register_parameter(f"b_{k}", nn.Parameter(torch.zeros(channels, widths[k + 1], 1)))


class Hyperprior(nn.Module):
    def __init__(self, config: HificPortConfig):
        super().__init__()
        self.analysis_net = HyperAnalysis(config.latent_channels, config.hyper_channels)
        self.synthesis_mu = HyperSynthesis(config.latent_channels, config.hyper_channels)
        self.synthesis_std = HyperSynthesis(config.latent_channels, config.hyper_channels)
        self.hyperlatent_likelihood = FactorizedDensity(config.hyper_channels)


class HificPort(nn.Module):
    """The port's encoder, generator and hyperprior, with the steps of its compress/decompress."""

    #: The port estimates its rate as -sum log2(p + 1e-9), p already floored at 1e-9.
    estimate_offset = 1e-9

    def __init__(self, config: HificPortConfig = HificPortConfig()):
        super().__init__()
        self.config = config
        self.Encoder = Encoder(config)
        self.Generator = Generator(config)
        self.Hyperprior = Hyperprior(config)

    @property
    def image_networks(self) -> list[nn.Module]:
        """The modules that may run on an accelerator; the rest stays on the CPU in fp32."""
        return [self.Encoder, self.Generator]

    def analysis(self, x: torch.Tensor) -> torch.Tensor:
        """y of an image batch in [0, 1], padded as the port pads it."""
        x = pad_right_bottom(x, IMAGE_STRIDE)
        return self.Encoder(x * 2 - 1 if self.config.normalize_input else x)

    def hyper_latents(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(y as coded: padded to a multiple of 4, z)."""
        y = pad_right_bottom(y, LATENT_STRIDE)
        return y, self.Hyperprior.analysis_net(y)

    def hyper_synthesis(self, z_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(scales, means) of y; the conditional bounds the scales below at 0.11."""
        return self.Hyperprior.synthesis_std(z_hat), self.Hyperprior.synthesis_mu(z_hat)

    def synthesis(self, y_hat: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """The reconstruction in [0, 1], cropped to ``height`` x ``width``."""
        x = self.Generator(y_hat)
        if self.config.normalize_input:
            x = (torch.tanh(x) + 1) / 2
        return x[..., :height, :width].clamp(0, 1)

    @staticmethod
    def latent_sizes(height: int, width: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """(H, W) of the coded y and of z for an image of ``height`` x ``width``."""
        y_size = tuple(round_up(round_up(side, IMAGE_STRIDE) // IMAGE_STRIDE, LATENT_STRIDE) for side in (height, width))
        return y_size, tuple(side // LATENT_STRIDE for side in y_size)

    def load_checkpoint(self, state_dict: dict) -> None:
        """Load a checkpoint's ``model_state_dict`` (its discriminator and the evaluation-time
        tables are left out) and build the coders of its densities."""
        kept = {key: value for key, value in state_dict.items()
                if not key.startswith(IGNORED_PREFIXES)}
        load_exactly(self, kept)
        self._coders = self._build_entropy_models()
        self.eval()

    def entropy_models(self) -> tuple[FinalFactorBottleneck, GaussianConditional]:
        """The coders built by :meth:`load_checkpoint`."""
        return self._coders

    def _build_entropy_models(self) -> tuple[FinalFactorBottleneck, GaussianConditional]:
        """CompressAI coders with the port's densities: z without a median offset, y Gaussian
        or logistic with the port's scale table (CompressAI's default one)."""
        density = self.Hyperprior.hyperlatent_likelihood
        layers = range(density.layers)
        bottleneck = factorized_bottleneck(
            [getattr(density, f"H_{k}") for k in layers], [getattr(density, f"b_{k}") for k in layers],
            [getattr(density, f"a_{k}") for k in layers[:-1]], torch.zeros(self.config.hyper_channels),
            TAIL_MASS, final_factor=getattr(density, f"a_{layers[-1]}"))
        conditional = (LogisticConditional if self.config.likelihood == "logistic" else GaussianConditional)(None)
        conditional.update_scale_table(get_scale_table())
        return bottleneck, conditional.eval()
