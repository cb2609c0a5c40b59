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
