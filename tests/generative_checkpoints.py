"""Seeded random checkpoints of the published generative codecs, in their upstream formats and
file names, with small layer widths so that tests run fast. The widths are read from the
tensors by the loaders; the key lists of the full-size networks are checked separately."""

from __future__ import annotations

from pathlib import Path

import torch

from rdpbench.entropy import set_tails
from rdpbench.networks.hific_autoencoder import HificAutoencoder
from rdpbench.networks.hific_port import HificPort, HificPortConfig

TINY_FILTERS = (4, 6, 6, 8, 8)
PORT_ARGS = {
    "lo": {"likelihood_type": "gaussian", "normalize_input_image": True},
    "mi": {"likelihood_type": "logistic", "normalize_input_image": False},
    "hi": {"likelihood_type": "gaussian", "normalize_input_image": True},
}


def _randomise(module: torch.nn.Module, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.3)


def _well_behaved(analysis: torch.nn.Module, synthesis: torch.nn.Module, bias: float) -> None:
    """Hyper-latents in the bulk of their density and scales of y near ``bias``, as a trained
    model's are (random ones put z far in the tails and the scales at their 0.11 floor,
    where coding is all escapes)."""
    last_analysis, last_synthesis = list(analysis.modules())[-1], list(synthesis.modules())[-1]
    with torch.no_grad():
        last_analysis.weight.mul_(0.02)
        last_analysis.bias.zero_()
        last_synthesis.weight.mul_(0.01)
        last_synthesis.bias.fill_(bias)


def hific_port_state(point: str, seed: int = 0) -> tuple[dict, dict]:
    """(model_state_dict, args) of a small port model of rate point ``point``."""
    args = {"latent_channels": 6, "n_residual_blocks": 2, "use_channel_norm": True, "sample_noise": False,
            "noise_dim": 32, "use_latent_mixture_model": False, "image_dims": (3, 256, 256),
            "model_type": "compression_gan", "model_mode": "training", "name": f"hific-{point}",
            **PORT_ARGS[point]}
    config = HificPortConfig(filters=TINY_FILTERS, latent_channels=6, hyper_channels=5, residual_blocks=2,
                             normalize_input=args["normalize_input_image"], likelihood=args["likelihood_type"])
    network = HificPort(config)
    _randomise(network, seed)
    _well_behaved(network.Hyperprior.analysis_net, network.Hyperprior.synthesis_std, 2.0)
    return network.state_dict(), args


def save_hific_port_checkpoint(torch_home: Path, point: str, seed: int = 0) -> Path:
    """The port's training dict (networks, args, optimiser and discriminator states) where
    the loader looks: $TORCH_HOME/hub/checkpoints/hific_{low,med,hi}.pt."""
    state, args = hific_port_state(point, seed)
    generator = torch.Generator().manual_seed(seed + 100)
    state["Discriminator.conv1.weight_orig"] = torch.randn(4, 9, 3, 3, generator=generator)
    state["Discriminator.conv1.weight_u"] = torch.randn(4, generator=generator)
    optimiser = {"state": {0: {"step": torch.tensor(5.0), "exp_avg": torch.zeros(3)}},
                 "param_groups": [{"lr": 1e-4, "params": [0]}]}
    checkpoint = {"model_state_dict": state, "compression_optimizer_state_dict": optimiser,
                  "hyperprior_optimizer_state_dict": optimiser,
                  "discriminator_state_dict": {"conv1.weight_orig": torch.zeros(4, 9, 3, 3)},
                  "discriminator_optimizer_state_dict": optimiser, "epoch": 2, "steps": 1000, "args": args}
    name = {"lo": "hific_low.pt", "mi": "hific_med.pt", "hi": "hific_hi.pt"}[point]
    path = torch_home / "hub" / "checkpoints" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, path)
    return path


def neuralcompression_state(seed: int = 0, medians: float = 0.3, old_names: bool = True, tables: bool = False) -> dict:
    """A small HiFiCAutoencoder state dict as NeuralCompression saves it: CompressAI 1.2.4
    parameter names (``_matrix0``...) when ``old_names``, coder tables filled or empty."""
    network = HificAutoencoder(TINY_FILTERS, latent_channels=6, hyper_channels=5, residual_blocks=2)
    _randomise(network, seed)
    _well_behaved(network.hyper_analysis, network.hyper_synthesis_scale, 2.0)
    bottleneck = network.hyper_bottleneck
    set_tails(bottleneck, torch.linspace(-medians, medians, 5), 1e-9)
    if tables:
        network.hyper_bottleneck.update(force=True)
        from compressai.models.base import get_scale_table

        network.latent_bottleneck.update_scale_table(get_scale_table(), force=True)
    state = network.state_dict()
    if old_names:
        singular = {"matrices": "_matrix", "biases": "_bias", "factors": "_factor"}
        renamed = {}
        for key, value in state.items():
            parts = key.split(".")
            if len(parts) == 3 and parts[1] in singular:
                key = f"{parts[0]}.{singular[parts[1]]}{parts[2]}"
            renamed[key] = value
        state = renamed
    return state


def save_neuralcompression_checkpoint(torch_home: Path, model: str, quality: int, **options) -> Path:
    targets = ["0.035", "0.07", "0.14", "0.3", "0.45", "0.9"]
    path = torch_home / "hub" / "checkpoints" / f"{model}_target_{targets[quality - 1]}bpp.ckpt"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(neuralcompression_state(seed=quality, **options), path)
    return path


CDC_NAMES = {
    ("eps", "0"): "big-l1-vimeo-d64-t20000-b{beta}-vbrFalse-noise-linear-aux-1.0_0_ckpt.pt",
    ("eps", "0.9"): "big-l1-vimeo-d64-t20000-b{beta}-vbrFalse-noise-linear-aux0.9lpips_0.pt",
    ("x", "0"): "image-l2-use_weight5-vimeo-d64-t8193-b{beta}-x-cosine-01-float32-aux0.0_2.pt",
    ("x", "0.9"): "image-l2-use_weight5-vimeo-d64-t8193-b{beta}-x-cosine-01-float32-aux0.9lpips_2.pt",
}


def authors_schedule(parameterisation: str) -> dict:
    """The training buffers the authors' GaussianDiffusion registers: a 20000-step linear
    schedule (eps) or their 8193-step cosine one (x), computed in float64, stored in float32."""
    import numpy as np

    if parameterisation == "eps":
        steps = 20000
        betas = np.linspace(1000 / steps * 1e-4, 1000 / steps * 0.02, steps)
    else:
        steps = 8193 + 1
        x = np.linspace(0, steps, steps)
        alphas_cumprod = np.cos(((x / steps) + 0.008) / 1.008 * np.pi * 0.5) ** 2
        alphas_cumprod = alphas_cumprod / alphas_cumprod[0]
        betas = np.clip(1 - alphas_cumprod[1:] / alphas_cumprod[:-1], 0, 0.999)
    alphas_cumprod = np.cumprod(1 - betas)
    buffers = {"train_betas": betas, "train_alphas_cumprod": alphas_cumprod,
               "train_sqrt_alphas_cumprod": np.sqrt(alphas_cumprod),
               "train_sqrt_one_minus_alphas_cumprod": np.sqrt(1 - alphas_cumprod),
               "train_sqrt_recip_alphas_cumprod": np.sqrt(1 / alphas_cumprod),
               "train_sqrt_recipm1_alphas_cumprod": np.sqrt(1 / alphas_cumprod - 1)}
    if parameterisation == "x":
        buffers["train_snr"] = alphas_cumprod / (1 - alphas_cumprod)
    return {name: torch.tensor(values, dtype=torch.float32) for name, values in buffers.items()}


def _prior_medians(prior) -> torch.Tensor:
    """Where each channel's cumulative density crosses 1/2 (bisection on its logits), as the
    authors' median loss trains it to be."""
    def logits(x):  # x: (C,) -> (C,)
        h = x.reshape(-1, 1, 1, 1, 1)
        for k, layer in enumerate(prior.affine):
            h = torch.matmul(h, torch.nn.functional.softplus(layer.weight)) + layer.bias
            if k < len(prior.a):
                h = h + torch.tanh(prior.a[k]) * torch.tanh(h)
        return h.reshape(-1)

    channels = prior._medians.numel()
    low, high = torch.full((channels,), -100.0), torch.full((channels,), 100.0)
    for _ in range(60):
        middle = (low + high) / 2
        above = logits(middle) > 0
        high, low = torch.where(above, middle, high), torch.where(above, low, middle)
    return (low + high) / 2


def cdc_state(parameterisation: str, seed: int, dim: int = 8) -> dict:
    """A small CDC ``GaussianDiffusion`` state dict (width ``dim`` instead of 64)."""
    from rdpbench.networks.cdc import CdcConfig, CdcModel

    config = CdcConfig(parameterisation, dim=dim)
    model = CdcModel(config, 20000 if parameterisation == "eps" else 8193)
    _randomise(model, seed)
    compressor = model.context_fn
    with torch.no_grad():
        compressor.enc[-1][-1].conv.weight.mul_(0.02)  # y within a few scales of its means
        compressor.hyper_enc[2][0].weight.mul_(0.001)
        compressor.hyper_enc[2][0].bias.zero_()
        last = compressor.hyper_dec[2][0]
        last.weight.mul_(0.01)
        half = last.bias.shape[0] // 2
        last.bias[:half].zero_()       # means
        last.bias[half:].fill_(2.0)    # scales
        compressor.prior._medians.copy_(_prior_medians(compressor.prior).reshape(1, -1, 1, 1))
    state = model.state_dict()
    state.update(authors_schedule(parameterisation))
    return state


def save_cdc_checkpoint(torch_home: Path, parameterisation: str, rho: str, point: str, seed: int = 0) -> Path:
    """An eps file ({"step", "model"}, with the LPIPS network's keys when trained with it) or
    an x file ({"step", "model", "ema"}: online weights, and an EMA holding both its online
    copy and the EMA weights, all three different)."""
    betas = {("eps", "0"): ["0.0512", "0.0256", "0.0128"], ("eps", "0.9"): ["0.3072", "0.2048", "0.1024"],
             ("x", "0"): ["0.0128", "0.0064", "0.0032"], ("x", "0.9"): ["0.2048", "0.1024", "0.0512"]}
    name = CDC_NAMES[parameterisation, rho].format(beta=betas[parameterisation, rho][int(point) - 1])
    generator = torch.Generator().manual_seed(seed + 50)
    lpips = {"loss_fn_vgg.scaling_layer.shift": torch.randn(1, 3, 1, 1, generator=generator),
             "loss_fn_vgg.net.slice1.0.weight": torch.randn(4, 3, 3, 3, generator=generator),
             "loss_fn_vgg.lin0.model.1.weight": torch.randn(1, 4, 1, 1, generator=generator)} if rho == "0.9" else {}
    if parameterisation == "eps":
        checkpoint = {"step": 1000, "model": {**cdc_state("eps", seed), **lpips}}
    else:
        online, ema = cdc_state("x", seed + 1), cdc_state("x", seed + 2)
        checkpoint = {"step": 1000, "model": {**cdc_state("x", seed + 3), **lpips},
                      "ema": {"initted": torch.ones(1), "step": torch.tensor([1000]),
                              **{f"online_model.{k}": v for k, v in {**online, **lpips}.items()},
                              **{f"ema_model.{k}": v for k, v in {**ema, **lpips}.items()}}}
    path = torch_home / "hub" / "checkpoints" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, path)
    return path
