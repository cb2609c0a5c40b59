"""The codec interface shared by every codec rdpbench evaluates."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import torch

from ..bitstream import Bitstream, BitstreamError
from ..errors import ImageError, UnknownNameError
from ..images import check_image, check_sizes
from ..schema import DEFAULT_SAMPLER
from ..weights import WeightFile
from .options import CodecOption


@dataclass(frozen=True)
class Encoded:
    """One image as a run's decode stage gets it from a codec: its bitstream (None where the
    codec has none), its rate, and, for reconstructions made elsewhere, the image itself."""

    data: bytes | None
    n_bytes: int | None
    #: The rate where only bits per pixel are known (no bytes).
    bpp: float | None = None
    #: The codec's own estimate of the payload in bits (learned codecs).
    estimated_bits: float | None = None
    precomputed: torch.Tensor | None = None


@dataclass(frozen=True)
class RateKnob:
    """A codec's fine rate setting, which a run at target rates (``--target-bpp``) searches:
    its valid settings (rate points, as ``--quality`` takes them) from the lowest rate to the
    highest, and whether the rate grows with every step (then a bisection finds the setting;
    else every setting is tried)."""

    settings: tuple[str, ...]
    #: What the setting is, in words ("Pillow quality").
    meaning: str
    monotone: bool = True

    def describe(self) -> dict:
        return {"meaning": self.meaning, "lowest_rate": self.settings[0], "highest_rate": self.settings[-1],
                "n_settings": len(self.settings), "monotone": self.monotone}


class CodecBase:
    """What every entry of the codec registry declares: names, rate points, samplers, options,
    the image sizes it takes and the weight files it needs; and how a run gets its
    reconstructions (:meth:`encode_for_run`, :meth:`decode_for_run`)."""

    name: ClassVar[str]
    #: What follows ``NAME:`` for codecs that take an argument (``folder:PATH``); None: no argument.
    argument: ClassVar[str | None] = None
    #: The keywords the constructor takes besides ``device``.
    options: ClassVar[tuple[CodecOption, ...]] = ()
    #: Whether it writes bitstreams (``--save-bitstreams``) and its encode and decode seconds mean something.
    has_bitstreams: ClassVar[bool] = True
    #: Every valid rate point, as strings ("1", "2", ... or "lo", "mi", "hi").
    points: ClassVar[list[str]]
    #: Rate points a run uses when none are asked for.
    default_points: ClassVar[list[str]]
    #: Decode-time settings; most codecs have only the default one.
    samplers: ClassVar[list[str]] = [DEFAULT_SAMPLER]
    #: Whether encode and decode run torch networks, whose multiply-accumulates
    #: :mod:`rdpbench.complexity` counts (programs and Pillow codecs: not applicable).
    runs_networks: ClassVar[bool] = False
    #: Smallest and largest image (height, width) the codec takes.
    min_size: ClassVar[tuple[int, int]] = (1, 1)
    max_size: ClassVar[tuple[int, int]] = (65_500, 65_500)
    #: Peak working memory per pixel of encoding and decoding one image (bytes, on
    #: ``memory_device``), beyond the uint8 images themselves: measured, rounded up. 0 (a
    #: codec that declares nothing) leaves the codec out of the run's memory estimate.
    bytes_per_pixel: ClassVar[float] = 0.0

    def __init__(self, device: str = "cpu"):
        self.device = torch.device(device)

    @property
    def memory_device(self) -> torch.device:
        """Where encoding and decoding take their working memory."""
        return self.device

    def memory_need(self, height: int, width: int) -> int:
        """Peak working memory (bytes, on ``memory_device``) of coding one image of this size,
        beyond the uint8 images themselves; the run's preflight adds it up."""
        return math.ceil(self.bytes_per_pixel * height * width)

    def check_point(self, point: str) -> str:
        """Return ``point`` in canonical form, or raise listing the valid rate points."""
        point = str(point)
        if point not in self.points:
            raise UnknownNameError(f"{self.name} rate point", point, self.describe_points())
        return point

    def check_sampler(self, sampler: str) -> str:
        if sampler not in self.samplers:
            raise UnknownNameError(f"{self.name} sampler", sampler, self.samplers)
        return sampler

    def check_size(self, name: str, height: int, width: int) -> None:
        """Raise ImageError naming the image when the codec cannot take its size."""
        (min_h, min_w), (max_h, max_w) = self.min_size, self.max_size
        if height < min_h or width < min_w or height > max_h or width > max_w:
            raise ImageError(
                f"{name}: {height}x{width} pixels is outside what {self.name} takes "
                f"(from {min_h}x{min_w} to {max_h}x{max_w})"
            )

    def check_images(self, sizes: dict[str, tuple[int, int]]) -> list[str]:
        """Raise ImageError naming every image (name -> (height, width)) the codec cannot
        take; return notes on what it will do with them."""
        check_sizes(sizes, [self.check_size], "image(s) cannot be coded")
        return []

    @classmethod
    def decodes_in_batches(cls) -> bool:
        """Whether several same-size images decode in one pass (``--batch-size``)."""
        return False

    def encode_for_run(self, name: str, image: torch.Tensor, point: str) -> Encoded:
        """Image ``name`` at rate point ``point``, as the decode stage of a run takes it."""
        raise NotImplementedError

    def decode_for_run(self, encoded: list[Encoded], sampler: str, seeds: list[int]) -> list[torch.Tensor]:
        """The reconstructions of ``encoded`` (same-size images) with ``sampler``, image k with seed k."""
        raise NotImplementedError

    @classmethod
    def describe_points(cls) -> str:
        """The valid rate points in words (listings and error messages)."""
        return ", ".join(cls.points)

    def step_network(self, point: str, sampler: str) -> torch.nn.Module | None:
        """The network a diffusion sampler calls once per step when decoding at ``point`` with
        ``sampler`` (its cost is reported per step); None for a decoder of one pass."""
        return None

    def rate_knob(self) -> RateKnob | None:
        """The setting a run at target rates searches; None for a codec without a fine one
        (``--target-bpp`` is then refused)."""
        return None

    def check_installed(self) -> None:
        """Raise RdpbenchError naming every package or program the codec needs and lacks,
        with what installs it (a run's preflight asks first); most codecs need nothing."""

    def weight_files(self, points: list[str]) -> list[WeightFile]:
        """Weight files needed to encode and decode at ``points`` (none for most codecs)."""
        return []

    def prepare(self, points: list[str]) -> None:
        """Load whatever the given rate points need, once, before a run starts."""

    def describe(self) -> dict:
        """What a run manifest records about this codec's configuration."""
        return {"name": self.name}


class Codec(CodecBase, ABC):
    """An image codec: ``encode`` turns an image into bytes, ``decode`` turns bytes back.

    Images cross this interface as ``torch.uint8`` tensors of shape (3, H, W), RGB. The bytes
    returned by ``encode`` are a complete :class:`~rdpbench.bitstream.Bitstream`: decoding
    uses them alone, in any process, and the rate is 8 * len(bytes) / (H * W).

    Subclasses implement ``encode_payload`` and ``decode_payload``; the container header
    (codec, rate point, original size) is written and checked here.
    """

    @classmethod
    def decodes_in_batches(cls) -> bool:
        return cls.decode_payloads is not Codec.decode_payloads

    def encode_for_run(self, name: str, image: torch.Tensor, point: str) -> Encoded:
        data, bits = self.encode_estimated(image, point)
        return Encoded(data, len(data), estimated_bits=bits)

    def decode_for_run(self, encoded: list[Encoded], sampler: str, seeds: list[int]) -> list[torch.Tensor]:
        return self.decode_batch([item.data for item in encoded], sampler, seeds)

    @property
    def bitstream_name(self) -> str:
        """The codec name written into bitstreams; codecs that share another codec's
        bitstream (a new decoder for an existing encoder) return that codec's name."""
        return self.name

    def encode(self, image: torch.Tensor, point: str) -> bytes:
        """Compress a uint8 (3, H, W) image at rate point ``point`` into a complete bitstream."""
        return self.encode_estimated(image, point)[0]

    def encode_estimated(self, image: torch.Tensor, point: str) -> tuple[bytes, float | None]:
        """:meth:`encode`, and the codec's own estimate of the payload's size in bits:
        -sum(log2 p) over all its latents, the rate learned-codec papers report. None for
        codecs without a likelihood model."""
        check_image(image)
        point = self.check_point(point)
        _, height, width = image.shape
        self.check_size("the image", height, width)
        payload, bits = self.encode_payload_estimated(image, point)
        return Bitstream(self.bitstream_name, point, height, width, payload).to_bytes(), bits

    def decode(self, data: bytes, sampler: str = DEFAULT_SAMPLER, seed: int = 0) -> torch.Tensor:
        """Reconstruct a uint8 (3, H, W) image from the bytes of :meth:`encode` alone.

        ``sampler`` picks a decode-time setting from ``samplers``; ``seed`` makes stochastic
        decoders reproducible (deterministic codecs ignore it).
        """
        [image] = self.decode_batch([data], sampler, [seed])
        return image

    def decode_batch(self, data: list[bytes], sampler: str = DEFAULT_SAMPLER, seeds: list[int] | None = None) -> list[torch.Tensor]:
        """:meth:`decode` of several bitstreams, image k with seed k: each image is what
        ``decode(data[k], sampler, seeds[k])`` gives, whatever the batch. Codecs whose
        decoder gains from batching (:meth:`decode_payloads`) take the batch in one pass when
        the bitstreams share rate point and image size."""
        seeds = list(seeds) if seeds is not None else [0] * len(data)
        if len(seeds) != len(data):
            raise ValueError(f"{len(seeds)} seeds for {len(data)} bitstreams")
        streams = [Bitstream.from_bytes(item) for item in data]
        for stream in streams:
            if stream.codec != self.bitstream_name:
                raise BitstreamError(f"bitstream was made by {stream.codec!r}, not {self.bitstream_name!r}")
        sampler = self.check_sampler(sampler)
        shared = len({(s.point, s.height, s.width) for s in streams}) == 1
        if shared:
            images = self.decode_payloads(streams, sampler, seeds)
        else:
            images = [self.decode_payload(stream, sampler, seed) for stream, seed in zip(streams, seeds)]
        for stream, image in zip(streams, images):
            if tuple(image.shape) != (3, stream.height, stream.width):
                raise RuntimeError(
                    f"{self.name} decoded shape {tuple(image.shape)}, "
                    f"expected (3, {stream.height}, {stream.width})"
                )
        return images

    @abstractmethod
    def encode_payload(self, image: torch.Tensor, point: str) -> bytes:
        """The codec's own bytes for ``image`` (the container adds size and names)."""

    def encode_payload_estimated(self, image: torch.Tensor, point: str) -> tuple[bytes, float | None]:
        """The payload and its estimated size in bits; codecs with a likelihood model override
        this (and let ``encode_payload`` return its first part)."""
        return self.encode_payload(image, point), None

    @abstractmethod
    def decode_payload(self, stream: Bitstream, sampler: str, seed: int) -> torch.Tensor:
        """Rebuild the uint8 (3, H, W) image from a parsed bitstream."""

    def decode_payloads(self, streams: list[Bitstream], sampler: str, seeds: list[int]) -> list[torch.Tensor]:
        """:meth:`decode_payload` of bitstreams of one rate point and image size; override to
        run the decoder's network once over the batch."""
        return [self.decode_payload(stream, sampler, seed) for stream, seed in zip(streams, seeds)]
