"""The decode stage: each image of a batch encoded once, the batch decoded once per sampler.
A codec and a folder of reconstructions made elsewhere answer the same two calls
(:meth:`~rdpbench.codecs.base.CodecBase.encode_for_run`, ``decode_for_run``). Also the decode
of one saved bitstream into the run's image, in any process (``rdpbench decode``)."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from ..batching import DecodeBatching
from ..bitstream import Bitstream, bits_per_pixel
from ..codecs import CodecBase, get_codec
from ..codecs.base import Encoded
from ..codecs.options import option_notes
from ..errors import RdpbenchError
from ..images import save_png
from .schedule import Batch
from ..schema import target_of
from .settings import resolve_device
from .targets import TargetSearch


@dataclass(frozen=True)
class Decoded:
    """One reconstruction of one image with one sampler, and what it cost."""

    image: str
    sampler: str
    reconstruction: torch.Tensor
    n_bytes: int | None
    bpp: float | None
    bpp_est: float | None
    encode_s: float | None
    #: A batch's decode time shared equally among its images.
    decode_s: float | None
    #: At a target rate: the codec setting chosen, and whether the target was met (schema.TARGET_STATUSES).
    setting: str | None = None
    target_status: str | None = None


def image_seed(seed: int, image_name: str) -> int:
    """The sampling seed of one image: fixed by the run seed and the image name alone, so a
    resumed or a ``--limit`` run decodes each image exactly as a full run does."""
    digest = hashlib.sha256(f"{seed}:{image_name}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def decode_batch(codec: CodecBase, batching: DecodeBatching, batch: Batch, originals: dict[str, torch.Tensor],
                 seed: int, keep_bitstream: Callable[[str, str, bytes], None] | None = None,
                 search: TargetSearch | None = None) -> list[Decoded]:
    """Every (image, sampler) of ``batch``; ``keep_bitstream(point, image, data)`` is called
    on each bitstream as it is made. At a target rate (``bpp0.15``), ``search`` chooses each
    image's setting, and the encode time is the whole search's."""
    encoded, encode_s, chosen = {}, {}, {}
    target = target_of(batch.point)
    for name in batch.images:
        start = time.perf_counter()
        if target is None:
            encoded[name] = codec.encode_for_run(name, originals[name], batch.point)
        else:
            chosen[name] = search.choose(name, originals[name], target)
            encoded[name] = chosen[name].encoded
        encode_s[name] = time.perf_counter() - start
        if keep_bitstream and encoded[name].data is not None:
            keep_bitstream(batch.point, name, encoded[name].data)
    decoded = []
    for sampler in batch.samplers():
        names = [task.image for task in batch.tasks if sampler in task.samplers]
        start = time.perf_counter()
        images = _decode_fitting(codec, batching, [encoded[n] for n in names], sampler,
                                 [image_seed(seed, n) for n in names])
        decode_s = (time.perf_counter() - start) / len(names)
        for name, image in zip(names, images):
            seconds = (encode_s[name], decode_s) if codec.has_bitstreams else (None, None)
            record = _record(name, sampler, image, encoded[name], originals[name].shape[1:], seconds)
            if name in chosen:
                record = dataclasses.replace(record, setting=chosen[name].setting,
                                             target_status=chosen[name].status)
            decoded.append(record)
    return decoded


def _record(name: str, sampler: str, image: torch.Tensor, encoded: Encoded, size: tuple[int, int],
            seconds: tuple) -> Decoded:
    """The rate counts the original's pixels: bytes where known, else the bpp given."""
    n_bytes, (height, width) = encoded.n_bytes, size
    bpp = bits_per_pixel(n_bytes, height, width) if n_bytes is not None else encoded.bpp
    bpp_est = None if encoded.estimated_bits is None else encoded.estimated_bits / (height * width)
    return Decoded(name, sampler, image, n_bytes, bpp, bpp_est, *seconds)


def _decode_fitting(codec: CodecBase, batching: DecodeBatching, encoded: list[Encoded], sampler: str,
                    seeds: list[int]) -> list[torch.Tensor]:
    """``codec.decode_for_run``; when an automatic batch runs out of GPU memory, its halves
    are decoded apart and later batches are kept to that size."""
    try:
        with batching.measuring(len(encoded)):
            return codec.decode_for_run(encoded, sampler, seeds)
    except torch.cuda.OutOfMemoryError:
        if len(encoded) == 1:
            raise
        if batching.requested:
            raise RdpbenchError(f"out of GPU memory decoding {len(encoded)} images at once: "
                                "lower --batch-size, or leave it out to size batches to the memory") from None
        torch.cuda.empty_cache()
        half = len(encoded) // 2
        batching.shrink(half)
        return (_decode_fitting(codec, batching, encoded[:half], sampler, seeds[:half])
                + _decode_fitting(codec, batching, encoded[half:], sampler, seeds[half:]))


@dataclass(frozen=True)
class SavedDecode:
    """What :func:`decode_saved` did: the codec and sampler it decoded with, and notes."""

    codec: str
    sampler: str
    notes: list[str]


def decode_saved(bitstream: Path, out: Path, codec: str | None = None, sampler: str | None = None, seed: int = 0,
                 image: str | None = None, device: str = "auto", options: dict | None = None) -> SavedDecode:
    """Decode a bitstream a run saved into the PNG ``out``: the run's reconstruction, given
    the run's ``seed`` and codec options (``image`` names the image for its seed; default:
    the file's stem). ``out`` must be a .png file in an existing folder."""
    out, options = Path(out), dict(options or {})
    if out.suffix.lower() != ".png":
        raise RdpbenchError(f"--out {out}: the reconstruction is written as PNG; give a file name ending in .png")
    if out.is_dir():
        raise RdpbenchError(f"--out {out} is a folder; give a file name ending in .png")
    if not out.parent.is_dir():
        raise RdpbenchError(f"--out {out}: folder {out.parent} does not exist; create it first")
    try:
        data = Path(bitstream).read_bytes()
    except OSError as error:
        raise RdpbenchError(f"cannot read {bitstream}: {error.strerror or error}") from None
    name = codec or Bitstream.from_bytes(data).codec
    device = resolve_device(device)
    decoder = get_codec(name, device=device, **options)
    chosen = decoder.check_sampler(sampler) if sampler else decoder.samplers[0]
    notes = option_notes(type(decoder), options, [chosen], torch.device(device).type)
    reconstruction = decoder.decode(data, sampler=chosen, seed=image_seed(seed, image or Path(bitstream).stem))
    save_png(reconstruction, out)
    return SavedDecode(name, chosen, notes)
