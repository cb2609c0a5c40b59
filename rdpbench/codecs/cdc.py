"""Yang & Mandt's conditional diffusion codec (CDC, NeurIPS 2023) from the authors'
checkpoints (Hugging Face hub ``rhyang/CDC_params``), with real bytes: the authors only ever
reported their likelihood estimate, which is ``bpp_est`` here.

Four codecs, rate points ``1``, ``2``, ``3`` from low to high rate (a larger training beta is a
lower rate): ``cdc-eps-rho0`` and ``cdc-eps-rho0.9`` (noise-predicting models, trained without
and with LPIPS; the ones the seed paper compared, as yang(rho=0) and yang(rho=0.9)), and
``cdc-x-rho0``, ``cdc-x-rho0.9`` (the authors' later x0-predicting release). The x files hold
the online weights and an EMA; the EMA weights are the ones evaluated.

Samplers ``ddimN`` and ``ddimN-gammaG``: N DDIM steps from x_T = G * N(0, I) (G 0.8 by
default, as the authors; 0 decodes deterministically), seeded per image. Defaults ``ddim500``
(eps, the seed paper's setting) and ``ddim65`` (x, the authors' default). The compressor's
decoder output conditions every step and is computed once per image.
"""

from __future__ import annotations

import torch

from ..bitstream import Bitstream
from ..diffusion.precision import check_precision, in_precision, prepared
from ..diffusion.samplers import gaussian_noise, parse_sampler_name
from ..errors import UnknownNameError
from ..images import from_float
from ..weights import WeightFile, cdc_weight_file
from .generative import GenerativeHyperpriorCodec, HyperpriorNetwork
from .options import COMPILE, PRECISION, TRUST_CHECKPOINT
from .registry import register_codec

DEFAULT_GAMMA = 0.8
#: Training steps of each parameterisation's schedule (20000 linear, 8193 cosine).
TIMESTEPS = {"eps": 20000, "x": 8193}


class CdcCodec(GenerativeHyperpriorCodec):
    """One CDC family: three checkpoints of one parameterisation and LPIPS weight."""

    parameterisation: str
    points = ["1", "2", "3"]
    default_points = ["1", "2", "3"]
    #: Reflect padding to a multiple of 64 needs the pad to be shorter than the side.
    min_size = (33, 33)
    bytes_per_pixel = 2800  # one UNet step: 2506 measured on the CPU at 512x512 (full-size network, random weights)
    options = (PRECISION, COMPILE, TRUST_CHECKPOINT)
    network_protocol = HyperpriorNetwork  # its decoder is the diffusion model's sampler

    def __init__(self, device: str = "cpu", precision: str = "fp32", compile: bool = False,
                 trust_checkpoint: bool = False):
        super().__init__(device, trust_checkpoint)
        self.precision = check_precision(precision)
        self.compile = compile

    def weight_file(self, point: str) -> WeightFile:
        return cdc_weight_file(self.name, point)

    def check_sampler(self, sampler: str) -> str:
        """``ddimN`` or ``ddimN-gammaG``, returned in canonical form (``ddim065-gamma0.80`` ->
        ``ddim65``: gamma 0.8 is the default)."""
        try:
            family, spec, gamma = parse_sampler_name(sampler)
        except UnknownNameError:
            family, spec, gamma = None, "", None
        if family != "ddim" or "," in spec:
            raise UnknownNameError(f"{self.name} sampler", sampler, "ddimN or ddimN-gammaG (e.g. ddim500, ddim65-gamma0)")
        gamma = DEFAULT_GAMMA if gamma is None else gamma
        return f"ddim{int(spec)}" + ("" if gamma == DEFAULT_GAMMA else f"-gamma{gamma:g}")

    def build_network(self, checkpoint) -> torch.nn.Module:
        from ..networks.cdc import CdcConfig, CdcModel
        from ..networks.layers import checkpoint_width, tensor_dict

        if not isinstance(checkpoint, dict) or "model" not in checkpoint:
            raise ValueError("it has no 'model' entry, where the authors save their networks")
        if self.parameterisation == "x":
            ema = tensor_dict(checkpoint.get("ema") or {}, "'ema' entry")
            state = {key[len("ema_model."):]: value for key, value in ema.items() if key.startswith("ema_model.")}
            if not state:
                raise ValueError("it has no ema_model.* weights in its 'ema' entry (the weights the authors evaluate)")
        else:
            state = tensor_dict(checkpoint["model"], "'model' entry")
        config = CdcConfig.from_checkpoint(self.parameterisation, state)
        timesteps = checkpoint_width(state, "train_alphas_cumprod", TIMESTEPS[self.parameterisation])
        network = CdcModel(config, timesteps)
        network.load_checkpoint(state)
        network.denoise_fn = prepared(network.denoise_fn, self.precision, self.compile)
        return network

    def step_network(self, point: str, sampler: str) -> torch.nn.Module:
        """The UNet (the compressor's decoder output that conditions it is computed once)."""
        return self.network(point).denoise_fn

    @torch.inference_mode()
    def decode_payloads(self, streams: list[Bitstream], sampler: str, seeds: list[int]) -> list[torch.Tensor]:
        _, steps, gamma = parse_sampler_name(sampler)
        gamma = DEFAULT_GAMMA if gamma is None else gamma
        first = streams[0]
        network = self.network(first.point)
        y_hat = self.decoded_latents(streams)
        context = network.context_fn.decode(y_hat)
        shape = (len(streams), 3, y_hat.shape[2] * 16, y_hat.shape[3] * 16)
        generators = [torch.Generator(device=self.device).manual_seed(seed) for seed in seeds]
        x_T = gamma * gaussian_noise(shape, generators, self.device)
        x0 = network.sample(in_precision(network.denoise_fn, self.device, self.precision), context, x_T, int(steps))
        images = (x0 / 2 + 0.5)[..., : first.height, : first.width]
        return [from_float(image) for image in images.split(1)]

    def describe(self) -> dict:
        described = {**super().describe(), "network": "Yang & Mandt CDC, CompressAI range coding",
                     "parameterisation": self.parameterisation, "default_gamma": DEFAULT_GAMMA}
        if self.precision != "fp32" or self.compile:
            described.update(unet_precision=self.precision, compiled=self.compile)
        return described


@register_codec
class CdcEpsRho0(CdcCodec):
    """Yang & Mandt CDC, noise-predicting, trained without LPIPS (rho=0); samplers ddimN[-gammaG]."""

    name, parameterisation, samplers = "cdc-eps-rho0", "eps", ["ddim500"]


@register_codec
class CdcEpsRho09(CdcCodec):
    """Yang & Mandt CDC, noise-predicting, trained with LPIPS (rho=0.9); samplers ddimN[-gammaG]."""

    name, parameterisation, samplers = "cdc-eps-rho0.9", "eps", ["ddim500"]


@register_codec
class CdcXRho0(CdcCodec):
    """Yang & Mandt CDC, x0-predicting, trained without LPIPS (rho=0); samplers ddimN[-gammaG]."""

    name, parameterisation, samplers = "cdc-x-rho0", "x", ["ddim65"]


@register_codec
class CdcXRho09(CdcCodec):
    """Yang & Mandt CDC, x0-predicting, trained with LPIPS (rho=0.9); samplers ddimN[-gammaG]."""

    name, parameterisation, samplers = "cdc-x-rho0.9", "x", ["ddim65"]
