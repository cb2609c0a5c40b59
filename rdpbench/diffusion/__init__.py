"""The paper's conditional diffusion decoder: network, noise schedules, samplers, training.

Knows nothing of codecs, runs or files beyond its own checkpoints: ``rdpbench.codecs.ours``
composes it with the MSH codec, and the CLI wires the frozen encoder into training.
"""

from .samplers import SAMPLERS, Sampler, get_sampler
from .schedule import NoiseSchedule
from .training import TrainingConfig, load_decoder, train
from .unet import ConditionalUNet, UNetConfig

__all__ = [
    "SAMPLERS",
    "ConditionalUNet",
    "NoiseSchedule",
    "Sampler",
    "TrainingConfig",
    "UNetConfig",
    "get_sampler",
    "load_decoder",
    "train",
]
