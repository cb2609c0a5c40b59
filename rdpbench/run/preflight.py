"""The preflight: every check that needs no codec work, so that a bad input stops the run
before it writes anything. It writes nothing itself.

Sizes come from the image files' headers, so that sizes and memory are checked before any
pixel is decoded; the images are then decoded once, to check and hash them.

The memory model (bytes, P the pixels of one image): on the CPU, the weight files of the
models that run there (their size on disk), 3 P for each image a decode batch holds (its
originals and a reconstruction per sampler), and the largest working memory of one stage
that runs there: reading the file, the codec, each per-image metric, the FID/KID patch
features, saving a PNG. Each codec and metric declares its own figure (``memory_need``:
``bytes_per_pixel`` measured on the CPU, rounded up; MUSIQ adds its attention over all
tokens); a GPU holds its models' weights and the largest working memory of the stages that
run on it, the automatic decode batch fitting itself to the rest.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from ..datasets import DatasetSummary, image_sizes, inspect
from ..errors import RdpbenchError
from ..images import DECODE_BYTES_PER_PIXEL
from ..memory import available_memory, format_bytes
from ..weights import WeightFile, fingerprint, require
from .plan import Plan

#: Bytes per pixel of one uint8 RGB image held in memory.
IMAGE_BYTES_PER_PIXEL = 3
#: Working memory per pixel of saving a reconstruction as PNG: Pillow's 4-byte pixels.
PNG_BYTES_PER_PIXEL = 4


@dataclass(frozen=True)
class Checked:
    """What the preflight found."""

    #: Sizes, pixel hashes and conversions of this run's images, and of the whole set (a
    #: shard's manifest names the set it is part of).
    summary: DatasetSummary
    full_summary: DatasetSummary
    weight_files: list[WeightFile]
    #: Each weight file's sha256, and whether it is the upstream file.
    weights: list[dict]
    #: FID/KID patches of this run's images (0 without distribution metrics).
    n_patches: int
    notes: list[str]


def preflight(plan: Plan) -> Checked:
    """Check the codec's packages and programs, weights, images, sizes and the output
    folder; raise RdpbenchError naming every problem found."""
    plan.codec.check_installed()
    weight_files = plan.codec.weight_files(plan.points) + plan.suite.weight_files()
    require(weight_files)
    full_sizes = image_sizes(plan.full_dataset)
    sizes = {name: full_sizes[name] for name in plan.image_names}
    notes = plan.codec.check_images(sizes)
    # sizes are checked on the whole set (a shard may hold a single patch, the set not)
    n_patches = plan.suite.check_sizes(full_sizes)
    if plan.dataset.shard and plan.suite.extractors:
        n_patches = plan.suite.patch_count(sizes)
    notes += check_memory(plan, sizes)
    full_summary = inspect(plan.full_dataset)
    summary = full_summary.restricted(plan.image_names)
    check_writable(plan.folder.root)
    weights = [fingerprint(file) for file in weight_files]
    notes += [f"{entry['file']} is not the upstream file (sha256 differs); results will not be comparable "
              "with published ones" for entry in weights if entry["matches_upstream"] is False]
    return Checked(summary, full_summary, weight_files, weights, n_patches, notes)


@dataclass(frozen=True)
class MemoryNeed:
    """The peak memory one image of a run needs on one device, by the memory model above."""

    device: torch.device
    bytes: int
    #: The stage that needs the most working memory there, and how much.
    largest: str
    largest_bytes: int


def memory_needs(plan: Plan, height: int, width: int) -> list[MemoryNeed]:
    """What an image of ``height`` x ``width`` needs on each device the run uses."""
    pixels = height * width
    codec, suite = plan.codec, plan.suite
    stages = [(torch.device("cpu"), "reading the image file", DECODE_BYTES_PER_PIXEL * pixels),
              (codec.memory_device, codec.name, codec.memory_need(height, width) * (plan.batching.requested or 1))]
    stages += [(metric.device, metric.name, metric.memory_need(height, width)) for metric in suite.image_metrics]
    stages += [(extractor.device, f"{extractor.name} patch features", extractor.memory_need(height, width))
               for extractor in suite.extractors.values()]
    if plan.settings.save_images:
        stages.append((torch.device("cpu"), "saving a PNG", PNG_BYTES_PER_PIXEL * pixels))
    weights = [(codec.memory_device, codec.weight_files(plan.points))]
    weights += [(metric.device, metric.weight_files()) for metric in suite.image_metrics]
    weights += [(extractor.device, [extractor.weight_file]) for extractor in suite.extractors.values()]
    held_images = plan.batching.most() * (1 + len(plan.samplers))
    needs = []
    for device in dict.fromkeys(device for device, _, _ in stages):
        largest = max((stage for stage in stages if stage[0] == device), key=lambda stage: stage[2])
        files = {file.path for place, group in weights if place == device for file in group}
        held = IMAGE_BYTES_PER_PIXEL * pixels * held_images if device.type == "cpu" else 0
        total = sum(path.stat().st_size for path in files) + held + largest[2]
        needs.append(MemoryNeed(device, total, largest[1], largest[2]))
    return needs


def device_memory(device: torch.device) -> tuple[int | None, str]:
    """Bytes available on ``device`` now (None: unknown), and where the number comes from."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0], f"free memory of {device} (torch.cuda.mem_get_info)"
    available = available_memory()
    return available.bytes, available.source


def check_memory(plan: Plan, sizes: dict[str, tuple[int, int]]) -> list[str]:
    """Raise RdpbenchError naming every image whose estimated need exceeds the memory
    available (a note instead under ``--ignore-memory-check``); notes on what was not checked."""
    problems, unknown = [], set()
    needs = {size: memory_needs(plan, *size) for size in set(sizes.values())}
    available = {need.device: device_memory(need.device) for size_needs in needs.values() for need in size_needs}
    for name, (height, width) in sizes.items():
        for need in needs[(height, width)]:
            free, source = available[need.device]
            if free is None:
                unknown.add(source)
            elif need.bytes > free:
                problems.append(
                    f"{name}: {width}x{height} pixels need about {format_bytes(need.bytes)} on {need.device} "
                    f"({need.largest}: {format_bytes(need.largest_bytes)}), {format_bytes(free)} available ({source})")
    notes = [f"memory not checked: {source}" for source in sorted(unknown)]
    if not problems:
        return notes
    listing = f"{len(problems)} image(s) may not fit in memory:\n  " + "\n  ".join(problems)
    if not plan.settings.check_memory:
        return notes + [f"--ignore-memory-check: going on although {listing}"]
    raise RdpbenchError(
        f"{listing}\nLeave out the metrics that need most, run on a machine with more memory, or pass "
        "--ignore-memory-check to go on anyway (the estimate errs on the high side)")


def check_writable(folder: Path) -> None:
    """Raise RdpbenchError unless ``folder`` exists as a writable folder or can be created:
    every existing part of the path must be a folder, the nearest existing one writable."""
    for path in [folder, *folder.parents]:
        if not path.exists():
            continue
        if not path.is_dir():
            raise RdpbenchError(f"cannot write results to {folder}: {path} is a file, not a folder")
        if not os.access(path, os.W_OK | os.X_OK):
            raise RdpbenchError(f"cannot write results to {folder}: no permission to write in {path}")
        return
