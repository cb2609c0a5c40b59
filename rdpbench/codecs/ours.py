"""``ours``: the paper's codec (Mari & Milani). The bitstream is exactly MSH's (same encoder,
entropy model and bytes); the decoder entropy-decodes y_hat and runs a conditional diffusion
model with the chosen sampler, so the sampler picks a distortion-perception point at the
same rate. Sampler ``msh`` decodes the same bytes with the standard MSH synthesis.

Same-size images decode as one batch (each with its own random generator, so an image is the
same in any batch). ``precision="bf16"`` runs the UNet under bfloat16 autocast in channels-last
layout (the entropy decoding and the sampler's arithmetic stay fp32); ``compile=True`` puts the
UNet through ``torch.compile``.

Decoders are trained per MSH quality (``rdpbench train``); each checkpoint records its
quality, so ``--checkpoint`` takes one file per rate point, in any order. A codec card
``codecs/ours.toml`` may list default checkpoints as ``[checkpoints]`` quality = path.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..bitstream import Bitstream
from ..diffusion import NoiseSchedule, get_sampler, load_decoder
from ..diffusion.precision import check_precision, in_precision, prepared
from ..diffusion.training import read_checkpoint
from ..errors import RdpbenchError, UnknownNameError
from ..images import from_float
from ..file_hash import sha256_of
from .cards import cards_dir, load_card
from .options import CHECKPOINT, COMPILE, ETA, PRECISION, check_eta
from .msh import MeanScaleHyperprior, padding
from .registry import register_codec

MSH_SAMPLER = "msh"


@register_codec
class DiffusionDecoderCodec(MeanScaleHyperprior):
    """MSH bitstream decoded by a conditional diffusion model (samplers ddimN, ddpmN, msh)."""

    name = "ours"
    samplers = ["ddim10", "ddim100", "ddpm100", "ddpm1000", MSH_SAMPLER]
    options = (CHECKPOINT, ETA, PRECISION, COMPILE)
    default_points = ["1", "2", "3"]
    bytes_per_pixel = 10_000  # one UNet step: 9200 measured on the CPU at 512x512 (full-size network, random weights)

    def __init__(
        self,
        device: str = "cpu",
        checkpoint: list[str] | str | None = None,
        eta: float | None = None,
        precision: str = "fp32",
        compile: bool = False,
    ):
        super().__init__(device)
        self.precision = check_precision(precision)
        self.compile = compile
        paths = [checkpoint] if isinstance(checkpoint, str) else list(checkpoint or [])
        self.checkpoints = self._card_checkpoints()
        self.schedules: dict[str, dict] = {}  # noise schedule of each given checkpoint
        for path in map(Path, paths):
            if not path.is_file():
                raise RdpbenchError(f"checkpoint {path} does not exist")
            try:
                payload = read_checkpoint(path)
                quality = str(payload["condition"]["quality"])
            except ValueError as error:
                raise RdpbenchError(str(error)) from None
            except KeyError as error:
                raise RdpbenchError(f"{path}: cannot read as a decoder checkpoint (no {error})") from None
            self.checkpoints[quality] = path
            self.schedules[quality] = payload["schedule"]
        #: DDIM's eta (0: deterministic after x_T); None leaves the sampler's default.
        self.eta = None if eta is None else check_eta(eta)
        self._decoders: dict[str, tuple] = {}

    @property
    def bitstream_name(self) -> str:
        return "msh"

    def check_sampler(self, sampler: str) -> str:
        """Accept ``msh`` and every ``ddimN`` / ``ddpmN`` (with ``-gammaG``) that the checkpoints'
        noise schedules can be respaced to (e.g. ``ddim3000`` has no integer stride over 4000
        steps); return the name in canonical form (``ddim010-gamma1`` -> ``ddim10``)."""
        if sampler == MSH_SAMPLER:
            return sampler
        try:
            chosen = self.sampler(sampler)
        except UnknownNameError:
            raise UnknownNameError(
                "ours sampler", sampler,
                "ddimN, ddpmN (e.g. ddim10, ddpm1000), ddpm10,10,10, any of them with -gammaG (ddim10-gamma0.5), or msh"
            ) from None
        for quality, schedule in self.schedules.items():
            try:
                chosen.chain(NoiseSchedule.create(**schedule))
            except ValueError as error:
                raise RdpbenchError(f"sampler {error} (decoder of quality {quality})") from None
        return chosen.name

    def sampler(self, name: str):
        """The diffusion sampler called ``name``, with this codec's eta for DDIM."""
        options = {"eta": self.eta} if self.eta is not None and name.startswith("ddim") else {}
        return get_sampler(name, **options)

    def prepare(self, points: list[str]) -> None:
        super().prepare(points)
        missing = [p for p in points if p not in self.checkpoints]
        if missing:
            raise RdpbenchError(
                f"no diffusion-decoder checkpoint for ours quality {', '.join(missing)}: pass "
                "--checkpoint FILE (made by `rdpbench train --quality Q`), or list it in "
                "codecs/ours.toml"
            )
        for point in points:
            self.decoder(point)

    def decoder(self, point: str):
        """(network, noise schedule, metadata) of the rate point's checkpoint, loaded once."""
        if point not in self._decoders:
            if point not in self.checkpoints:
                raise RdpbenchError(f"no diffusion-decoder checkpoint for ours quality {point}")
            network, schedule, metadata = load_decoder(self.checkpoints[point], str(self.device))
            self._decoders[point] = prepared(network, self.precision, self.compile), schedule, metadata
        return self._decoders[point]

    def step_network(self, point: str, sampler: str) -> torch.nn.Module | None:
        """The conditional UNet (its conditioning encoder runs once per image, outside it)."""
        return None if sampler == MSH_SAMPLER else self.decoder(point)[0]

    def decode_payload(self, stream: Bitstream, sampler: str, seed: int) -> torch.Tensor:
        [image] = self.decode_payloads([stream], sampler, [seed])
        return image

    @torch.inference_mode()
    def decode_payloads(self, streams: list[Bitstream], sampler: str, seeds: list[int]) -> list[torch.Tensor]:
        if sampler == MSH_SAMPLER:
            return [self.synthesize(stream, self.decode_latent(stream)) for stream in streams]
        y_hat = torch.cat([self.decode_latent(stream) for stream in streams])
        network, schedule, _ = self.decoder(streams[0].point)
        condition = network.encode_condition(y_hat)
        run = in_precision(network, self.device, self.precision)

        def denoise(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return run(x, t, condition)

        shape = (len(streams), 3, y_hat.shape[2] * 16, y_hat.shape[3] * 16)
        generators = [torch.Generator(device=self.device).manual_seed(seed) for seed in seeds]
        x0 = self.sampler(sampler).sample(denoise, schedule, shape, generators, device=self.device)
        _, unpad = padding(streams[0].height, streams[0].width)
        cropped = (torch.nn.functional.pad(x0, unpad) + 1) / 2
        return [from_float(image) for image in cropped.split(1)]

    def describe(self) -> dict:
        described = super().describe()
        described["name"] = self.name
        if self.eta is not None:
            described["ddim_eta"] = self.eta
        if self.precision != "fp32" or self.compile:
            described.update(unet_precision=self.precision, compiled=self.compile)
        described["checkpoints"] = {q: {"path": str(p), "sha256": sha256_of(p)} for q, p in self.checkpoints.items()}
        return described

    @staticmethod
    def _card_checkpoints() -> dict[str, Path]:
        listed = load_card("ours").get("checkpoints", {})
        return {str(q): (cards_dir() / Path(p).expanduser()).resolve() for q, p in listed.items()}
