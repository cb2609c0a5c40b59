"""Samplers: the timesteps visited and the update rule, apart from the network.

``ddpmN`` takes N steps of ancestral sampling with the learned variance (Ho et al. 2020;
Nichol & Dhariwal 2021); ``ddimN`` takes N deterministic steps (Song et al. 2021, eta = 0 by
default). Both clamp the predicted x_0 to [-1, 1]. The steps are chosen from the *base* chain
(cosine 4000 for the paper's model) by improved-diffusion's respacing rule, as the authors'
sampling scripts do: ``ddimN`` at a constant integer stride (refused when no stride gives
exactly N steps), ``ddpmN`` at a rounded fractional stride; ``ddpm10,10,10`` (or
``ddim10,10,10``) spaces each third of the chain with its own count. A suffix ``-gammaG``
scales the initial noise x_T by G (``ddim10-gamma0.5``; ``-gamma0`` starts from zeros, so
DDIM decodes deterministically), the distortion-perception knob the seed paper's conclusion
names. One trained network serves every sampler: picking one picks a distortion-perception
point at decode time.

Per-step coefficients are computed once per sampling run as device tensors, so the loop adds
no host synchronisation or allocation beyond the network calls. A batch may carry one random
generator per sample, so that each sample is the same whatever batch it is drawn in.
"""

from __future__ import annotations

import re
from typing import Callable

import numpy as np
import torch

from ..errors import UnknownNameError
from ..registry import Registry
from .gaussian import interpolate_log_variance, split_output
from .schedule import NoiseSchedule, space_timesteps

SAMPLERS: Registry = Registry("sampler family")
NAME_PATTERN = re.compile(r"^([a-z]+)(\d+(?:,\d+)*)(?:-gamma(\d+(?:\.\d+)?))?$")

#: model(x_t, model_time) -> output; the conditioning is already bound in.
Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
#: One generator for the whole batch, or one per sample.
Generators = torch.Generator | list[torch.Generator] | None


def gaussian_noise(shape: tuple[int, ...], generator: Generators, device, dtype=torch.float32) -> torch.Tensor:
    """Standard normal noise of ``shape``; with a list of generators, sample k is drawn from
    generator k alone (what it would be in a batch of one)."""
    if isinstance(generator, list):
        if len(generator) != shape[0]:
            raise ValueError(f"{len(generator)} generators for a batch of {shape[0]}")
        return torch.stack([torch.randn(shape[1:], generator=g, device=device, dtype=dtype) for g in generator])
    return torch.randn(shape, generator=generator, device=device, dtype=dtype)


class Sampler:
    """Draws x_0 from a trained model by walking a respaced sub-chain of its base schedule.

    ``spec`` is the step count (``"10"``) or comma-separated section counts (``"10,10,10"``).
    """

    family: str

    def __init__(self, spec: str, gamma: float = 1.0):
        self.spec = spec
        #: Scale of the initial noise x_T.
        self.gamma = gamma

    @property
    def name(self) -> str:
        return f"{self.family}{self.spec}" + (f"-gamma{self.gamma:g}" if self.gamma != 1.0 else "")

    def respacing(self) -> str:
        """The improved-diffusion respacing string of this sampler."""
        return self.spec

    def chain(self, model_schedule: NoiseSchedule) -> NoiseSchedule:
        """The sub-chain of the model's base schedule this sampler visits."""
        base = model_schedule.base()
        try:
            positions = space_timesteps(len(base), self.respacing())
        except ValueError as error:
            raise ValueError(f"{self.name}: {error}") from None
        return base.respaced(positions)

    @torch.inference_mode()
    def sample(
        self,
        model: Denoiser,
        model_schedule: NoiseSchedule,
        shape: tuple[int, ...],
        generator: Generators = None,
        x_T: torch.Tensor | None = None,
        device: torch.device | str = "cpu",
    ) -> torch.Tensor:
        """x_0 of the given shape, in [-1, 1]; x_T is drawn from ``generator`` (one, or one per
        sample) unless given."""
        chain = self.chain(model_schedule)
        x = x_T if x_T is not None else self.gamma * gaussian_noise(shape, generator, device)
        c = _Coefficients(chain, x)
        times = chain.model_time(torch.arange(len(chain), device=x.device))
        for i in reversed(range(len(chain))):
            output = model(x, times[i : i + 1].expand(x.shape[0]))
            x = self.step(c, i, x, output, generator)
        return x

    def step(self, c, i: int, x: torch.Tensor, output: torch.Tensor, generator) -> torch.Tensor:
        raise NotImplementedError


class _Coefficients:
    """Per-step constants of a chain, as tensors on the sample's device and dtype."""

    def __init__(self, chain: NoiseSchedule, like: torch.Tensor):
        def tensor(values: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(values, dtype=like.dtype, device=like.device)

        alpha_bar, alpha_bar_prev = chain.alphas_cumprod, chain.alphas_cumprod_prev
        self.recip_sqrt_alpha_bar = tensor(1 / np.sqrt(alpha_bar))
        self.sqrt_recip_m1 = tensor(np.sqrt(1 / alpha_bar - 1))
        self.mean_x0, self.mean_xt = map(tensor, chain.posterior_mean_coefficients)
        self.max_log = tensor(np.log(chain.betas))
        self.min_log = tensor(chain.posterior_log_variance_clipped)
        self.alpha_bar = tensor(alpha_bar)
        self.alpha_bar_prev = tensor(alpha_bar_prev)

    def x0_and_eps(self, i: int, x: torch.Tensor, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Clamped predicted x_0 and the epsilon consistent with it."""
        x0 = (self.recip_sqrt_alpha_bar[i] * x - self.sqrt_recip_m1[i] * eps).clamp(-1, 1)
        return x0, (self.recip_sqrt_alpha_bar[i] * x - x0) / self.sqrt_recip_m1[i]


@SAMPLERS.register("ddpm")
class DDPM(Sampler):
    """Ancestral sampling; uses the learned variance when the model predicts one."""

    family = "ddpm"

    def step(self, c: _Coefficients, i: int, x, output, generator):
        eps, v = split_output(output)
        x0, _ = c.x0_and_eps(i, x, eps)
        mean = c.mean_x0[i] * x0 + c.mean_xt[i] * x
        if i == 0:
            return mean
        if v is None:
            log_variance = c.max_log[i]
        else:
            log_variance = interpolate_log_variance(v, c.max_log[i], c.min_log[i])
        noise = gaussian_noise(x.shape, generator, x.device, x.dtype)
        return mean + torch.exp(0.5 * log_variance) * noise


@SAMPLERS.register("ddim")
class DDIM(Sampler):
    """Denoising diffusion implicit model steps; eta = 0 draws no noise after x_T."""

    family = "ddim"

    def __init__(self, spec: str, gamma: float = 1.0, eta: float = 0.0):
        super().__init__(spec, gamma)
        self.eta = eta

    def respacing(self) -> str:
        return self.spec if "," in self.spec else f"ddim{self.spec}"

    def step(self, c: _Coefficients, i: int, x, output, generator):
        eps, _ = split_output(output)
        x0, eps = c.x0_and_eps(i, x, eps)
        alpha_bar, alpha_bar_prev = c.alpha_bar[i], c.alpha_bar_prev[i]
        sigma = self.eta * ((1 - alpha_bar_prev) / (1 - alpha_bar) * (1 - alpha_bar / alpha_bar_prev)).sqrt()
        mean = x0 * alpha_bar_prev.sqrt() + (1 - alpha_bar_prev - sigma**2).sqrt() * eps
        if i == 0 or self.eta == 0:
            return mean
        noise = gaussian_noise(x.shape, generator, x.device, x.dtype)
        return mean + sigma * noise


def parse_sampler_name(name: str) -> tuple[str, str, float | None]:
    """``ddim10-gamma0.5`` -> ("ddim", "10", 0.5); the gamma is None when not given. Raises
    UnknownNameError for names that do not have this form."""
    match = NAME_PATTERN.match(name)
    if not match or 0 in map(int, match.group(2).split(",")):
        raise UnknownNameError("sampler", name, [f"{family}N[-gammaG]" for family in SAMPLERS.names()])
    spec = ",".join(str(int(count)) for count in match.group(2).split(","))  # ddim010 -> ddim10
    return match.group(1), spec, None if match.group(3) is None else float(match.group(3))


def get_sampler(name: str, **options) -> Sampler:
    """``ddim10`` -> DDIM over 10 steps, ``ddpm1000`` -> DDPM over 1000, ``ddpm10,10,10`` ->
    DDPM with 10 steps in each third of the chain, ``ddim10-gamma0.5`` -> DDIM from x_T of
    half the unit variance's scale; ``options`` go to the sampler (``eta``)."""
    family, spec, gamma = parse_sampler_name(name)
    if family not in SAMPLERS:
        raise UnknownNameError("sampler", name, [f"{family}N[-gammaG]" for family in SAMPLERS.names()])
    return SAMPLERS.get(family)(spec, gamma=1.0 if gamma is None else gamma, **options)
