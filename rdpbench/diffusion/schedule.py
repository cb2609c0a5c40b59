"""Noise schedules and timestep respacing (Ho et al. 2020; Nichol & Dhariwal 2021).

A :class:`NoiseSchedule` is a chain of ``len(timesteps)`` steps taken from a *base* chain
(e.g. cosine over 4000 steps): ``timesteps`` lists the base indices it visits, in increasing
order, and its betas are recomputed so that its cumulative products alpha_bar equal the base
chain's at those indices. The paper's model is trained on the base cosine-4000 chain respaced
to 1000 steps; samplers respace the *base* chain again (DDPM100, DDIM10, ...), as the authors'
scripts do (improved-diffusion's ``space_timesteps(4000, spec)``), see :func:`space_timesteps`.

The network is told the base index scaled to a 1000-step range
(``model_time = base_index * 1000 / base_steps``), the convention of the authors' code
(``rescale_timesteps``), so one network serves every respacing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


def cosine_betas(steps: int, max_beta: float = 0.999) -> np.ndarray:
    """Betas whose alpha_bar follows cos^2 of (t/T + s)/(1 + s) * pi/2, s = 0.008."""

    def alpha_bar(t: float) -> float:
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

    return np.array(
        [min(1 - alpha_bar((i + 1) / steps) / alpha_bar(i / steps), max_beta) for i in range(steps)]
    )


def linear_betas(steps: int) -> np.ndarray:
    """Ho et al.'s linear betas, 1e-4 to 0.02 at 1000 steps, rescaled for other lengths."""
    scale = 1000 / steps
    return np.linspace(scale * 1e-4, scale * 0.02, steps)


SCHEDULES = {"cosine": cosine_betas, "linear": linear_betas}


def space_timesteps(steps: int, spec: str) -> list[int]:
    """The indices of a ``steps``-long chain that a respacing ``spec`` keeps, increasing,
    by improved-diffusion's rule (Nichol & Dhariwal 2021), which the authors' code uses:

    ``"ddimN"``  the DDIM paper's constant integer stride: the smallest stride s for which
                 range(0, steps, s) has exactly N elements; a ValueError when none does.
    ``"N"``      N steps at the fractional stride (steps - 1) / (N - 1), accumulated in
                 floating point and rounded, so the first and last index are kept.
    ``"A,B,C"``  the chain cut into len(sections) near-equal parts (the first ``steps %
                 len(sections)`` one step longer), each spaced as ``"N"`` with its own count.
    """
    if spec.startswith("ddim"):
        count = int(spec[len("ddim"):])
        for stride in range(1, steps):
            if len(range(0, steps, stride)) == count:
                return list(range(0, steps, stride))
        valid = {len(range(0, steps, s)) for s in range(1, steps)}
        nearest = sorted(valid, key=lambda n: abs(n - count))[:2]
        raise ValueError(
            f"no integer stride gives exactly {count} steps of a {steps}-step chain; "
            f"nearest that do: {', '.join(map(str, sorted(nearest)))}"
        )
    counts = [int(part) for part in spec.split(",")]
    size, extra = divmod(steps, len(counts))
    indices, start = [], 0
    for number, count in enumerate(counts):
        length = size + (1 if number < extra else 0)
        if not 1 <= count <= length:
            raise ValueError(f"cannot take {count} steps of a {length}-step section")
        stride = (length - 1) / (count - 1) if count > 1 else 1
        position = 0.0
        for _ in range(count):
            indices.append(start + round(position))
            position += stride
        start += length
    return sorted(set(indices))


@dataclass(frozen=True)
class NoiseSchedule:
    """A chain of steps over a base schedule; all arrays are float64 numpy, one per step."""

    base_alphas_cumprod: np.ndarray
    timesteps: tuple[int, ...]

    @classmethod
    def create(cls, kind: str = "cosine", base_steps: int = 4000, steps: int | None = None) -> "NoiseSchedule":
        """The ``kind`` schedule over ``base_steps``, respaced to ``steps`` (default: all)."""
        if kind not in SCHEDULES:
            raise ValueError(f"unknown noise schedule {kind!r}; valid: {', '.join(SCHEDULES)}")
        alphas_cumprod = np.cumprod(1.0 - SCHEDULES[kind](base_steps))
        schedule = cls(alphas_cumprod, tuple(range(base_steps)))
        return schedule.respaced(space_timesteps(base_steps, str(steps))) if steps else schedule

    def respaced(self, positions: list[int]) -> "NoiseSchedule":
        """The sub-chain through the given positions of this chain (increasing)."""
        return NoiseSchedule(self.base_alphas_cumprod, tuple(self.timesteps[p] for p in positions))

    def base(self) -> "NoiseSchedule":
        """The whole base chain this chain was taken from."""
        return NoiseSchedule(self.base_alphas_cumprod, tuple(range(self.base_steps)))

    def __len__(self) -> int:
        return len(self.timesteps)

    @property
    def base_steps(self) -> int:
        return len(self.base_alphas_cumprod)

    @property
    def alphas_cumprod(self) -> np.ndarray:
        return self.base_alphas_cumprod[list(self.timesteps)]

    @property
    def alphas_cumprod_prev(self) -> np.ndarray:
        return np.append(1.0, self.alphas_cumprod[:-1])

    @property
    def betas(self) -> np.ndarray:
        return 1.0 - self.alphas_cumprod / self.alphas_cumprod_prev

    @property
    def posterior_variance(self) -> np.ndarray:
        """Variance of q(x_{t-1} | x_t, x_0)."""
        return self.betas * (1.0 - self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod)

    @property
    def posterior_mean_coefficients(self) -> tuple[np.ndarray, np.ndarray]:
        """(c_0, c_t) with mean of q(x_{t-1} | x_t, x_0) = c_0 x_0 + c_t x_t."""
        alpha_bar, alpha_bar_prev, beta = self.alphas_cumprod, self.alphas_cumprod_prev, self.betas
        return (beta * np.sqrt(alpha_bar_prev) / (1 - alpha_bar),
                (1 - alpha_bar_prev) * np.sqrt(1 - beta) / (1 - alpha_bar))

    @property
    def posterior_log_variance_clipped(self) -> np.ndarray:
        """log of the posterior variance, its first (zero) entry replaced by the second."""
        variance = self.posterior_variance
        return np.log(np.append(variance[1], variance[1:]))

    def model_time(self, index: torch.Tensor) -> torch.Tensor:
        """The time the network sees for chain positions ``index``: base index * 1000 / T."""
        table = torch.tensor(self.timesteps, dtype=torch.float32, device=index.device)
        return table[index] * (1000.0 / self.base_steps)

    def q_sample(self, x0: torch.Tensor, index: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) noise, per batch element."""
        alpha_bar = self.gather(self.alphas_cumprod, index, x0)
        return alpha_bar.sqrt() * x0 + (1.0 - alpha_bar).sqrt() * noise

    @staticmethod
    def gather(values: np.ndarray, index: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """values[index] shaped (N, 1, 1, 1) to broadcast against ``like``."""
        table = torch.as_tensor(values, dtype=like.dtype, device=like.device)
        return table[index].reshape(-1, *([1] * (like.ndim - 1)))
