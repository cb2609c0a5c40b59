"""The networks of Yang & Mandt's conditional diffusion codec (CDC; "Lossy Image Compression
with Conditional Diffusion Models", NeurIPS 2023; buggyyang/CDC_compression), with the keys
and shapes of the authors' checkpoints.

A checkpoint is a ``GaussianDiffusion`` state dict: ``denoise_fn.*`` (the UNet),
``context_fn.*`` (the compressor: encoder, hyper encoder and decoder, decoder giving the
UNet's multi-scale context, and a factorized prior over z with learned medians) and the
training schedule's buffers ``train_*``. Two parameterisations were released: ``eps`` (the
UNet predicts the noise; 20000-step linear schedule; the compressor's tuples carry an empty
placeholder, so its convolutions sit at index 2) and ``x`` (it predicts x0; 8193-step cosine
schedule; 64-channel context at full resolution).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from torch import nn

from .layers import checkpoint_width, latent_sizes_at_64, load_exactly, pad_right_bottom

PARAMETERISATIONS = ("eps", "x")
#: The bounds of the scales of y (the authors clamp at 0.1).
SCALE_BOUND = 0.1
IMAGE_STRIDE = 64
PRIOR_FILTERS = (3, 3, 3)


class LayerNorm(nn.Module):
    """Normalisation over channels with the biased variance, epsilon 1e-5."""

    def __init__(self, channels: int):
        super().__init__()
        self.g = nn.Parameter(torch.ones(1, channels, 1, 1))
        self.b = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        variance = x.var(dim=1, unbiased=False, keepdim=True)
        return (x - x.mean(dim=1, keepdim=True)) / (variance + 1e-5).sqrt() * self.g + self.b


class Block(nn.Module):
    def __init__(self, channels_in: int, channels_out: int, large: bool = False):
        super().__init__()
        kernel = 7 if large else 3
        self.block = nn.Sequential(nn.Conv2d(channels_in, channels_out, kernel, padding=kernel // 2),
                                   LayerNorm(channels_out), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class ResnetBlock(nn.Module):
    """Two blocks, the time embedding added between them (through LeakyReLU and a linear
    layer), and a 1x1 convolution on the skip when the width changes."""

    def __init__(self, channels_in: int, channels_out: int, time_channels: int | None = None, large: bool = False):
        super().__init__()
        self.mlp = nn.Sequential(nn.LeakyReLU(0.2), nn.Linear(time_channels, channels_out)) if time_channels else None
        self.block1 = Block(channels_in, channels_out, large)
        self.block2 = Block(channels_out, channels_out)
        self.res_conv = nn.Conv2d(channels_in, channels_out, 1) if channels_in != channels_out else nn.Identity()

    def forward(self, x: torch.Tensor, time: torch.Tensor | None = None) -> torch.Tensor:
        h = self.block1(x)
        if self.mlp is not None:
            h = h + self.mlp(time)[:, :, None, None]
        return self.block2(h) + self.res_conv(x)


class LinearAttention(nn.Module):
    """One head as wide as the input; keys softmaxed over positions, queries scaled."""

    def __init__(self, channels: int):
        super().__init__()
        self.scale = channels**-0.5
        self.to_qkv = nn.Conv2d(channels, 3 * channels, 1, bias=False)
        self.to_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = x.shape
        q, k, v = (t.reshape(batch, channels, height * width) for t in self.to_qkv(x).chunk(3, dim=1))
        context = torch.einsum("bdn,ben->bde", k.softmax(dim=-1), v)
        out = torch.einsum("bde,bdn->ben", context, q * self.scale)
        return self.to_out(out.reshape(batch, channels, height, width))


class PreNorm(nn.Module):
    def __init__(self, channels: int, fn: nn.Module):
        super().__init__()
        self.fn = fn
        self.norm = LayerNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(self.norm(x))


class Residual(nn.Module):
    def __init__(self, fn: nn.Module):
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x) + x


def attention(channels: int) -> Residual:
    return Residual(PreNorm(channels, LinearAttention(channels)))


class Downsample(nn.Module):
    def __init__(self, channels_in: int, channels_out: int | None = None):
        super().__init__()
        self.conv = nn.Conv2d(channels_in, channels_out or channels_in, 3, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    def __init__(self, channels_in: int, channels_out: int | None = None):
        super().__init__()
        self.conv = nn.ConvTranspose2d(channels_in, channels_out or channels_in, 4, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


@dataclass(frozen=True)
class CdcConfig:
    """Widths of one checkpoint (the authors': dim 64, UNet x(1..6), compressor x(1..4),
    hyper x4) and its parameterisation."""

    parameterisation: str = "eps"
    dim: int = 64
    unet_mults: tuple[int, ...] = (1, 2, 3, 4, 5, 6)
    compressor_mults: tuple[int, ...] = (1, 2, 3, 4)
    hyper_mult: int = 4

    @property
    def context_channels(self) -> int:
        """Channels of the full-resolution context: the image's 3 (eps) or 64 (x)."""
        return 3 if self.parameterisation == "eps" else self.dim

    @classmethod
    def from_checkpoint(cls, parameterisation: str, state_dict: dict) -> "CdcConfig":
        """The widths the tensors say (the authors fix them in their scripts)."""
        default = cls()
        dim = checkpoint_width(state_dict, "denoise_fn.downs.0.0.block1.block.0.weight", default.dim)
        levels = sorted({int(m[1]) for key in state_dict if (m := re.match(r"denoise_fn\.downs\.(\d+)\.0\.", key))})
        unet = tuple(checkpoint_width(state_dict, f"denoise_fn.downs.{level}.0.block1.block.0.weight", dim) // dim
                     for level in levels) or default.unet_mults
        stages = sorted({int(m[1]) for key in state_dict if (m := re.match(r"context_fn\.enc\.(\d+)\.0\.", key))})
        compressor = tuple(checkpoint_width(state_dict, f"context_fn.enc.{stage}.0.block1.block.0.weight", dim) // dim
                           for stage in stages) or default.compressor_mults
        hyper = checkpoint_width(state_dict, "context_fn.hyper_enc.0.0.weight", dim * default.hyper_mult) // dim
        return cls(parameterisation, dim, unet, compressor, hyper)


class Unet(nn.Module):
    """epsilon or x0 from (x_t, time in [0, 1], context); the context joins the first four
    levels, and the input's sides must be multiples of 32."""

    def __init__(self, config: CdcConfig):
        super().__init__()
        dim = config.dim
        dims = [3, *(dim * m for m in config.unet_mults)]
        context_dims = [config.context_channels, *(dim * m for m in config.compressor_mults)]
        levels = list(zip(dims[:-1], dims[1:]))
        self.time_mlp = nn.Sequential(nn.Linear(1, dim * 4), nn.GELU(), nn.Linear(dim * 4, dim))
        self.downs = nn.ModuleList()
        for index, (channels_in, channels_out) in enumerate(levels):
            last = index == len(levels) - 1
            with_context = not last and index < len(context_dims) - 1
            self.downs.append(nn.ModuleList([
                ResnetBlock(channels_in + (context_dims[index] if with_context else 0), channels_out, dim, large=index == 0),
                ResnetBlock(channels_out, channels_out, dim),
                attention(channels_out),
                Downsample(channels_out) if not last else nn.Identity(),
            ]))
        middle = dims[-1]
        self.mid_block1 = ResnetBlock(middle, middle, dim)
        self.mid_attn = attention(middle)
        self.mid_block2 = ResnetBlock(middle, middle, dim)
        self.ups = nn.ModuleList()
        for channels_in, channels_out in reversed(levels[1:]):
            self.ups.append(nn.ModuleList([
                ResnetBlock(channels_out * 2, channels_in, dim),
                ResnetBlock(channels_in, channels_in, dim),
                attention(channels_in),
                Upsample(channels_in),
            ]))
        self.final_conv = nn.Sequential(LayerNorm(dim), nn.Conv2d(dim, 3, 7, padding=3))

    def forward(self, x: torch.Tensor, time: torch.Tensor, context: list[torch.Tensor]) -> torch.Tensor:
        t = self.time_mlp(time)
        skips = []
        for index, (block1, block2, attend, downsample) in enumerate(self.downs):
            if index < len(context):
                x = torch.cat([x, context[index]], dim=1)
            x = attend(block2(block1(x, t), t))
            skips.append(x)
            x = downsample(x)
        x = self.mid_block2(self.mid_attn(self.mid_block1(x, t)), t)
        for block1, block2, attend, upsample in self.ups:
            x = torch.cat([x, skips.pop()], dim=1)
            x = upsample(attend(block2(block1(x, t), t)))
        return self.final_conv(x)


class PriorLayer(nn.Module):
    """One affine layer of the factorized prior: ``x @ softplus(weight) + bias`` per channel."""

    def __init__(self, channels: int, width_in: int, width_out: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(channels, 1, 1, width_in, width_out))
        self.bias = nn.Parameter(torch.zeros(channels, 1, 1, 1, width_out))


class FactorizedPrior(nn.Module):
    """The parameters of the prior over z (Balle et al. 2018, App. 6.1) with learned
    medians; it is evaluated and coded by an EntropyBottleneck (:meth:`Compressor.entropy_models`)."""

    def __init__(self, channels: int, filters: tuple[int, ...] = PRIOR_FILTERS):
        super().__init__()
        widths = (1, *filters, 1)
        self.affine = nn.ModuleList(PriorLayer(channels, widths[k], widths[k + 1]) for k in range(len(widths) - 1))
        self.a = nn.ParameterList(nn.Parameter(torch.zeros(channels, 1, 1, 1, widths[k + 1]))
                                  for k in range(len(widths) - 2))
        self._medians = nn.Parameter(torch.zeros(1, channels, 1, 1))


class Compressor(nn.Module):
    """Encoder (y at 1/16), hyper encoder (z at 1/64), hyper decoder (means and scales of y)
    and the decoder whose four outputs condition the UNet."""

    def __init__(self, config: CdcConfig):
        super().__init__()
        dim = config.dim
        dims = [3, *(dim * m for m in config.compressor_mults)]
        reversed_dims = [*(dim * m for m in reversed(config.compressor_mults)), config.context_channels]
        hyper = dim * config.hyper_mult
        placeholder = [nn.Identity()] if config.parameterisation == "eps" else []  # the eps model's empty VBR slot
        self.enc = nn.ModuleList(
            nn.ModuleList([ResnetBlock(channels_in, channels_out, large=index == 0), *placeholder, Downsample(channels_out)])
            for index, (channels_in, channels_out) in enumerate(zip(dims[:-1], dims[1:])))
        self.dec = nn.ModuleList()
        pairs = list(zip(reversed_dims[:-1], reversed_dims[1:]))
        for index, (channels_in, channels_out) in enumerate(pairs):
            last = index == len(pairs) - 1
            width = channels_in if last else channels_out
            self.dec.append(nn.ModuleList([ResnetBlock(channels_in, width), *placeholder, Upsample(width, channels_out)]))
        hyper_in = [dims[-1], hyper, hyper]
        self.hyper_enc = nn.ModuleList(
            nn.ModuleList([nn.Conv2d(hyper_in[i], hyper, 3, 1, 1) if i == 0 else nn.Conv2d(hyper_in[i], hyper, 5, 2, 2),
                           *placeholder, nn.LeakyReLU(0.2) if i < 2 else nn.Identity()]) for i in range(3))
        hyper_out = [hyper, hyper, 2 * dims[-1]]
        self.hyper_dec = nn.ModuleList(
            nn.ModuleList([nn.ConvTranspose2d(hyper, hyper_out[i], 5, 2, 2, 1) if i < 2 else nn.Conv2d(hyper, hyper_out[i], 3, 1, 1),
                           *placeholder, nn.LeakyReLU(0.2) if i < 2 else nn.Identity()]) for i in range(3))
        self.prior = FactorizedPrior(hyper)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """y of an image in [-1, 1] whose sides are multiples of 64."""
        for stage in self.enc:
            x = stage[-1](stage[0](x))
        return x

    def hyper_latents(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(y, z)."""
        z = y
        for stage in self.hyper_enc:
            z = stage[-1](stage[0](z))
        return y, z

    def hyper_synthesis(self, z_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(scales, means) of y; the conditional bounds the scales below at 0.1."""
        h = z_hat
        for stage in self.hyper_dec:
            h = stage[-1](stage[0](h))
        means, scales = h.chunk(2, dim=1)
        return scales, means

    def decode(self, y_hat: torch.Tensor) -> list[torch.Tensor]:
        """The UNet's context from y_hat: full, 1/2, 1/4 and 1/8 resolution."""
        outputs, h = [], y_hat
        for stage in self.dec:
            h = stage[-1](stage[0](h))
            outputs.append(h)
        return outputs[::-1]

    def entropy_models(self):
        """CompressAI coders of the authors' densities: z by the factorized prior around its
        stored medians (matrices transposed: the authors multiply x @ softplus(W)), y by a
        Gaussian with scales bounded at 0.1."""
        from compressai.entropy_models import GaussianConditional
        from compressai.models.base import get_scale_table

        from ..entropy import factorized_bottleneck

        prior = self.prior
        channels = prior._medians.shape[1]
        bottleneck = factorized_bottleneck(
            [layer.weight.reshape(channels, *layer.weight.shape[-2:]).transpose(1, 2) for layer in prior.affine],
            [layer.bias.reshape(channels, -1, 1) for layer in prior.affine],
            [factor.reshape(channels, -1, 1) for factor in prior.a],
            prior._medians.detach().reshape(-1), 1e-9)
        conditional = GaussianConditional(None, scale_bound=SCALE_BOUND)
        conditional.update_scale_table(get_scale_table(min=SCALE_BOUND), force=True)
        return bottleneck, conditional.eval()


class CdcModel(nn.Module):
    """The authors' ``GaussianDiffusion``: UNet, compressor and training schedule buffers."""

    #: The authors' estimate is -sum log2 p of likelihoods floored at 1e-9.
    estimate_offset = 0.0

    def __init__(self, config: CdcConfig, timesteps: int):
        super().__init__()
        if config.parameterisation not in PARAMETERISATIONS:
            raise ValueError(f"unknown parameterisation {config.parameterisation!r}")
        self.config = config
        self.denoise_fn = Unet(config)
        self.context_fn = Compressor(config)
        names = ["train_betas", "train_alphas_cumprod", "train_sqrt_alphas_cumprod",
                 "train_sqrt_one_minus_alphas_cumprod", "train_sqrt_recip_alphas_cumprod",
                 "train_sqrt_recipm1_alphas_cumprod"] + (["train_snr"] if config.parameterisation == "x" else [])
        for name in names:
            self.register_buffer(name, torch.zeros(timesteps))

    def load_checkpoint(self, state_dict: dict) -> None:
        """Load the tensors (the LPIPS network some files carry is left out) and build the
        coders of the compressor's densities."""
        load_exactly(self, {k: v for k, v in state_dict.items() if not k.startswith("loss_fn_vgg.")})
        self._coders = self.context_fn.entropy_models()
        self.eval()

    def entropy_models(self):
        """The coders built by :meth:`load_checkpoint`."""
        return self._coders

    @property
    def image_networks(self) -> list[nn.Module]:
        """The modules that may run on an accelerator; the hyper path stays on the CPU."""
        return [self.denoise_fn, self.context_fn.enc, self.context_fn.dec]

    def analysis(self, x: torch.Tensor) -> torch.Tensor:
        """y of an image batch in [0, 1], reflect-padded to a multiple of 64 (the authors'
        code takes only such sizes)."""
        return self.context_fn.encode(pad_right_bottom(x * 2 - 1, IMAGE_STRIDE))

    def hyper_latents(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.context_fn.hyper_latents(y)

    def hyper_synthesis(self, z_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.context_fn.hyper_synthesis(z_hat)

    latent_sizes = staticmethod(latent_sizes_at_64)

    @property
    def timesteps(self) -> int:
        return len(self.train_alphas_cumprod)

    def sample_indices(self, steps: int) -> torch.Tensor:
        """The training steps a ``steps``-step DDIM visits: ``linspace(0, T - 1, steps)``
        rounded down (the x model takes the last step alone when ``steps`` is 1)."""
        if steps == 1 and self.config.parameterisation == "x":
            return torch.tensor([self.timesteps - 1])
        return torch.linspace(0, self.timesteps - 1, steps).long()

    def ddim_step(self, x: torch.Tensor, output: torch.Tensor, alpha_bar: torch.Tensor,
                  alpha_bar_prev: torch.Tensor) -> torch.Tensor:
        """One deterministic DDIM step from the network's ``output`` at x: the eps model
        predicts the noise (x0 not clamped), the x model predicts x0 (clamped to [-1, 1])."""
        if self.config.parameterisation == "eps":
            x0 = torch.sqrt(1 / alpha_bar) * x - torch.sqrt(1 / alpha_bar - 1) * output
            noise = output
        else:
            x0 = output.clamp(-1, 1)
            noise = (torch.sqrt(1 / alpha_bar) * x - x0) / torch.sqrt(1 / alpha_bar - 1)
        return torch.sqrt(alpha_bar_prev) * x0 + torch.sqrt((1 - alpha_bar_prev).clamp(min=0)) * noise

    def sample(self, denoise, context: list[torch.Tensor], x_T: torch.Tensor, steps: int) -> torch.Tensor:
        """x0 in [-1, 1] by the authors' DDIM (eta 0) from ``x_T`` over ``steps`` steps;
        ``denoise(x, time, context)`` runs the UNet. The network's time input is i / steps
        (eps) or the training step / T (x)."""
        indices = self.sample_indices(steps)
        times = [i / steps for i in range(steps)] if self.config.parameterisation == "eps" else \
            [index / self.timesteps for index in indices.tolist()]
        alpha_bars = self.train_alphas_cumprod[indices].to(x_T.device)
        alpha_bars_prev = torch.cat([alpha_bars.new_ones(1), alpha_bars[:-1]])
        x = x_T
        for i in reversed(range(steps)):
            time = torch.full((x.shape[0], 1), times[i], device=x.device)
            x = self.ddim_step(x, denoise(x, time, context), alpha_bars[i], alpha_bars_prev[i])
        return x.clamp(-1, 1)
