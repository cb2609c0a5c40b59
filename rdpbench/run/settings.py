"""What ``rdpbench run`` is asked to do, and the checks on it that need nothing loaded."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import RdpbenchError


@dataclass
class RunSettings:
    """Everything ``rdpbench run`` is asked to do."""

    codec: str
    points: list[str] = field(default_factory=list)
    samplers: list[str] = field(default_factory=list)
    dataset: str = "sample"
    metrics: str = "psnr"
    out: Path = Path("results")
    name: str | None = None
    device: str = "auto"
    seed: int = 0
    limit: int | None = None
    #: FID/KID patch protocol; None means the default, ``hific``.
    patch_protocol: str | None = None
    #: Keep every reconstruction as a lossless PNG, and every bitstream as it was written.
    save_images: bool = False
    save_bitstreams: bool = False
    #: (i, n): run only the i-th of n disjoint image shards (1-based), for job arrays.
    shard: tuple[int, int] | None = None
    #: Same-size images decoded at once; None sizes batches to the device (see rdpbench.batching).
    batch_size: int | None = None
    #: Refuse, before any work, images whose estimated memory need exceeds what is available
    #: (False: name them in a note and go on).
    check_memory: bool = True
    #: The codec's own options (``checkpoint``, ``eta``, ...), as it declares them.
    codec_options: dict = field(default_factory=dict)
    #: Target rates in bpp (``--target-bpp``), searched per image instead of ``points``.
    target_bpp: list[float] = field(default_factory=list)
    #: Measure each rate point and sampler's MACs, parameters and peak memory on the first image.
    complexity: bool = False
    command: list[str] = field(default_factory=list)


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``; explicit names are checked."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RdpbenchError(f"--device {device}: no CUDA device is visible to torch")
    if not re.fullmatch(r"cpu|cuda(:\d+)?", device):
        raise RdpbenchError(f"unknown device {device!r}; use cpu, cuda, cuda:N or auto")
    return device


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/8"`` -> (2, 8); the range is checked against the image set later."""
    index, slash, count = text.partition("/")
    if not (slash and index.isdigit() and count.isdigit()):
        raise RdpbenchError(f"--shard {text!r}: give I/N, e.g. 2/8 for the second of eight shards")
    return int(index), int(count)


def check_run_name(name: str | None) -> None:
    """Refuse a ``--name`` that is not one folder name."""
    if name is not None and (name in ("", ".", "..") or Path(name).name != name):
        raise RdpbenchError(f"--name {name!r}: give a folder name, not a path (--out says where)")
