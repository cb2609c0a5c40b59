"""What the published generative codecs (HiFiC, MS-ILLM, No-GAN, CDC) share: a network made
of an image encoder, a mean-scale hyperprior and a generator (:mod:`rdpbench.networks`; for
CDC a conditional diffusion model), loaded from the authors' checkpoint, with real bytes from
CompressAI's range coder.

The encoder and the generator run on the run's device; the hyper path (hyper analysis and
synthesis) and both coders run on the CPU in fp32 at both ends, so the scales that index the
coder's tables are computed identically wherever the bytes are decoded. Images of any size
are padded as upstream pads them and cropped back; the rate counts the original pixels.

Payload: the z string (varint length first), then the y string. Latent sizes follow from the
image size in the container header.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from ..bitstream import Bitstream, join_chunks, split_chunks
from ..errors import RdpbenchError
from ..images import from_float, to_float
from ..weights import WeightFile, load_checkpoint, loading, require
from .base import Codec
from .options import TRUST_CHECKPOINT


@runtime_checkable
class HyperpriorNetwork(Protocol):
    """What a network driven by :class:`GenerativeHyperpriorCodec` provides: its parts on the
    run's device, the analysis, the hyper path and entropy models that make the bytes, and the
    latent sizes of an image size."""

    #: Added to every probability before its log in the rate estimate (a port's own floor).
    estimate_offset: float

    @property
    def image_networks(self) -> list[torch.nn.Module]:
        """The modules that run on the run's device (the rest stays on the CPU in fp32)."""

    def analysis(self, x: torch.Tensor) -> torch.Tensor:
        """y of an image batch in [0, 1]."""

    def hyper_latents(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(y as coded, z)."""

    def hyper_synthesis(self, z_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(means, scales) of y from the quantized z."""

    def entropy_models(self) -> tuple:
        """(z's factorized bottleneck, y's Gaussian conditional), CompressAI modules."""

    def latent_sizes(self, height: int, width: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """(y's, z's) spatial sizes for an image of ``height`` x ``width``."""

    def load_checkpoint(self, state_dict: dict) -> None:
        """Put a checkpoint's tensors in place; raise ValueError naming what does not fit."""


@runtime_checkable
class GeneratorNetwork(HyperpriorNetwork, Protocol):
    """A :class:`HyperpriorNetwork` whose decoder is one pass of a generator."""

    def synthesis(self, y_hat: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """Images in [0, 1], cropped to ``height`` x ``width``, from the decoded y."""


class GenerativeHyperpriorCodec(Codec):
    """A codec whose rate points are published checkpoints of one network family."""

    #: The protocol its networks follow (diffusion decoders need only the hyperprior part).
    network_protocol: type = GeneratorNetwork
    runs_networks = True
    options: tuple = (TRUST_CHECKPOINT,)

    def __init__(self, device: str = "cpu", trust_checkpoint: bool = False):
        super().__init__(device)
        #: Read checkpoints by full unpickling, which may run code: for files the user trusts.
        self.trust_checkpoint = trust_checkpoint
        self._networks: dict[str, HyperpriorNetwork] = {}

    def weight_file(self, point: str) -> WeightFile:
        """The checkpoint of rate point ``point``."""
        raise NotImplementedError

    def build_network(self, checkpoint) -> HyperpriorNetwork:
        """The network of a loaded checkpoint file, its tensors in place; raise ValueError
        saying what does not fit."""
        raise NotImplementedError

    def read_checkpoint(self, file: WeightFile):
        """The checkpoint's contents, read without running pickled code unless the user
        trusts the file (``trust_checkpoint``)."""
        return load_checkpoint(file, trust=self.trust_checkpoint)

    def describe(self) -> dict:
        """The codec's name, and ``trust_checkpoint`` when its files were read trusted."""
        return {**super().describe(), **({"trust_checkpoint": True} if self.trust_checkpoint else {})}

    def weight_files(self, points: list[str]) -> list[WeightFile]:
        return [self.weight_file(point) for point in points]

    def prepare(self, points: list[str]) -> None:
        require(self.weight_files(points))
        for point in points:
            self.network(point)

    def network(self, point: str) -> HyperpriorNetwork:
        """The network of rate point ``point``, loaded once: its image networks on the device,
        its hyper path and coders on the CPU."""
        if point not in self._networks:
            file = self.weight_file(point)
            require([file])
            with loading([file]):
                checkpoint = self.read_checkpoint(file)
            try:
                network = self.build_network(checkpoint)
            except ValueError as error:
                raise RdpbenchError(f"{file.path} is not a {self.name} {point} checkpoint: {error}") from None
            if not isinstance(network, self.network_protocol):
                raise TypeError(f"{type(network).__name__} does not follow {self.network_protocol.__name__}")
            for module in network.image_networks:
                module.to(self.device)
            self._networks[point] = network
        return self._networks[point]

    def encode_payload(self, image: torch.Tensor, point: str) -> bytes:
        return self.encode_payload_estimated(image, point)[0]

    @torch.inference_mode()
    def encode_payload_estimated(self, image: torch.Tensor, point: str) -> tuple[bytes, float]:
        from ..entropy import code_hyperprior

        network = self.network(point)
        y = network.analysis(to_float(image).to(self.device)).float().cpu()
        y, z = network.hyper_latents(y)
        coded = code_hyperprior(y, z, *network.entropy_models(), network.hyper_synthesis, network.estimate_offset)
        return join_chunks([coded.z_string, coded.y_string]), coded.estimated_bits

    def decode_payload(self, stream: Bitstream, sampler: str, seed: int) -> torch.Tensor:
        [image] = self.decode_payloads([stream], sampler, [seed])
        return image

    @torch.inference_mode()
    def decode_payloads(self, streams: list[Bitstream], sampler: str, seeds: list[int]) -> list[torch.Tensor]:
        """Run the generator once over the batch (the streams share rate point and size;
        generators are deterministic)."""
        first = streams[0]
        images = self.network(first.point).synthesis(self.decoded_latents(streams), first.height, first.width)
        return [from_float(image) for image in images.split(1)]

    def decoded_latents(self, streams: list[Bitstream]) -> torch.Tensor:
        """y_hat of each bitstream (of one rate point and size), entropy-decoded on the CPU,
        as one batch on the device."""
        from ..entropy import decode_hyperprior

        first = streams[0]
        network = self.network(first.point)
        _, z_size = network.latent_sizes(first.height, first.width)
        latents = []
        for stream in streams:
            z_string, y_string = split_chunks(stream.payload, 2)
            latents.append(decode_hyperprior(z_string, y_string, z_size, *network.entropy_models(),
                                             network.hyper_synthesis))
        return torch.cat(latents).to(self.device)
