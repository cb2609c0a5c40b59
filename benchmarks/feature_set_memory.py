"""Peak memory and time of one rate point's FID, KID and kid_paired, scored from per-image
feature files as a run scores them.

    python benchmarks/feature_set_memory.py --patches 30000 --images 428 --metrics fid

Writes random features (non-negative, like Inception's pooled activations) of the originals
and of a distorted copy into per-image .npy files, one image at a time (CLIC 2020's 428 images
give about 30,000 patches), then scores them and prints each metric's time and the peak
resident memory of the process before and after scoring. Run one metric per process to see
each one's peak.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from rdpbench.cache import save_array
from rdpbench.metrics import get_metric
from rdpbench.metrics.feature_set import FeatureSet


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_sets(folder: Path, patches: int, images: int, dimensions: int) -> tuple[FeatureSet, FeatureSet]:
    """Reference and reconstruction feature files of ``images`` images, ``patches`` in all."""
    rng = np.random.default_rng(0)
    reference, reconstruction = [], []
    for index, count in enumerate(np.diff(np.linspace(0, patches, images + 1).round().astype(int))):
        original = rng.gamma(1.0, 0.5, (count, dimensions))
        distorted = original * 0.9 + rng.normal(0, 0.2, original.shape)
        for name, features, paths in (("reference", original, reference), ("reconstruction", distorted, reconstruction)):
            paths.append(folder / name / f"image{index}.npy")
            save_array(features, paths[-1])
    return FeatureSet(reference), FeatureSet(reconstruction)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patches", type=int, default=30000)
    parser.add_argument("--images", type=int, default=428)
    parser.add_argument("--dimensions", type=int, default=2048)
    parser.add_argument("--metrics", default="fid,kid,kid_paired")
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="rdpbench-features-") as folder:
        reference, reconstruction = write_sets(Path(folder), arguments.patches, arguments.images,
                                               arguments.dimensions)
        print(f"{len(reference)} patches x {reference.dimensions} dimensions in {arguments.images} files per set "
              f"({2 * len(reference) * reference.dimensions * 8 / 2**20:.0f} MB in all); "
              f"peak resident memory before scoring: {peak_mb():.0f} MB")
        for name in arguments.metrics.split(","):
            start = time.perf_counter()
            value = get_metric(name).score_sets(reference, reconstruction)
            print(f"{name}: {value:.6g} in {time.perf_counter() - start:.1f} s; peak resident memory {peak_mb():.0f} MB")


if __name__ == "__main__":
    main()
