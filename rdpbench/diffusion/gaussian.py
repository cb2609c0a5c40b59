"""What the network's output means: predicted x_0, the reverse-step Gaussian with learned
variance (Nichol & Dhariwal 2021), and the variational-bound terms that train that variance."""

from __future__ import annotations

import math

import numpy as np
import torch

from .schedule import NoiseSchedule


def split_output(output: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(epsilon, v) from a 6-channel output; v is None for a 3-channel (fixed variance) one."""
    if output.shape[1] == 6:
        eps, v = output.chunk(2, dim=1)
        return eps, v
    return output, None


def predict_x0(schedule: NoiseSchedule, x_t: torch.Tensor, index: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """x_0 = (x_t - sqrt(1 - alpha_bar) eps) / sqrt(alpha_bar)."""
    alpha_bar = schedule.gather(schedule.alphas_cumprod, index, x_t)
    return (x_t - (1 - alpha_bar).sqrt() * eps) / alpha_bar.sqrt()


def posterior_mean(schedule: NoiseSchedule, x0: torch.Tensor, x_t: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Mean of q(x_{t-1} | x_t, x_0)."""
    coefficient_x0, coefficient_xt = schedule.posterior_mean_coefficients
    return schedule.gather(coefficient_x0, index, x_t) * x0 + schedule.gather(coefficient_xt, index, x_t) * x_t


def interpolate_log_variance(v: torch.Tensor, max_log, min_log) -> torch.Tensor:
    """log sigma^2 = frac log beta + (1 - frac) log beta_tilde, frac = (v + 1) / 2."""
    fraction = (v + 1) / 2
    return fraction * max_log + (1 - fraction) * min_log


def learned_log_variance(schedule: NoiseSchedule, v: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """The learned-range log variance of the reverse step at chain positions ``index``."""
    max_log = schedule.gather(np.log(schedule.betas), index, v)
    min_log = schedule.gather(schedule.posterior_log_variance_clipped, index, v)
    return interpolate_log_variance(v, max_log, min_log)


def normal_kl(mean1, log_var1, mean2, log_var2) -> torch.Tensor:
    """KL(N(mean1, e^log_var1) || N(mean2, e^log_var2)), elementwise, in nats."""
    return 0.5 * (-1.0 + log_var2 - log_var1 + torch.exp(log_var1 - log_var2)
                  + (mean1 - mean2) ** 2 * torch.exp(-log_var2))


def discretized_gaussian_log_likelihood(x: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """log P(x) for x on the 256 levels of [-1, 1], under a Gaussian integrated over each bin."""

    def standard_normal_cdf(value):
        return 0.5 * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (value + 0.044715 * value**3)))

    centred = x - mean
    inverse_std = torch.exp(-log_scale)
    cdf_plus = standard_normal_cdf(inverse_std * (centred + 1.0 / 255.0))
    cdf_minus = standard_normal_cdf(inverse_std * (centred - 1.0 / 255.0))
    log_cdf_plus = torch.log(cdf_plus.clamp(min=1e-12))
    log_one_minus_cdf_minus = torch.log((1.0 - cdf_minus).clamp(min=1e-12))
    log_delta = torch.log((cdf_plus - cdf_minus).clamp(min=1e-12))
    return torch.where(
        x < -0.999, log_cdf_plus, torch.where(x > 0.999, log_one_minus_cdf_minus, log_delta)
    )


def variational_bound_bits(
    schedule: NoiseSchedule, eps: torch.Tensor, v: torch.Tensor, x0: torch.Tensor, x_t: torch.Tensor, index: torch.Tensor
) -> torch.Tensor:
    """The variational-bound term of each batch element, in bits per dimension: the KL between
    q(x_{t-1} | x_t, x_0) and the model's step at t > 0, the decoder NLL of x_0 at t = 0."""
    true_mean = posterior_mean(schedule, x0, x_t, index)
    true_log_var = schedule.gather(schedule.posterior_log_variance_clipped, index, x_t)
    model_mean = posterior_mean(schedule, predict_x0(schedule, x_t, index, eps), x_t, index)
    model_log_var = learned_log_variance(schedule, v, index)
    kl = normal_kl(true_mean, true_log_var, model_mean, model_log_var).flatten(1).mean(1) / math.log(2.0)
    nll = -discretized_gaussian_log_likelihood(x0, model_mean, 0.5 * model_log_var)
    nll = nll.flatten(1).mean(1) / math.log(2.0)
    return torch.where(index == 0, nll, kl)
