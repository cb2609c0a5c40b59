"""The preflight: every check that needs no codec work, so that a bad input stops the run
before it writes anything. It writes nothing itself."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..datasets import DatasetSummary, inspect
from ..errors import RdpbenchError
from ..weights import WeightFile, fingerprint, require
from .plan import Plan


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
    full_summary = inspect(plan.full_dataset)
    summary = full_summary.restricted(plan.image_names)
    notes = plan.codec.check_images(summary.sizes)
    # sizes are checked on the whole set (a shard may hold a single patch, the set not)
    n_patches = plan.suite.check_sizes(full_summary.sizes)
    if plan.dataset.shard and plan.suite.extractors:
        n_patches = plan.suite.patch_count(summary.sizes)
    check_writable(plan.folder.root)
    weights = [fingerprint(file) for file in weight_files]
    notes += [f"{entry['file']} is not the upstream file (sha256 differs); results will not be comparable "
              "with published ones" for entry in weights if entry["matches_upstream"] is False]
    return Checked(summary, full_summary, weight_files, weights, n_patches, notes)


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
