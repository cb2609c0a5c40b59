"""Speed and memory of every metric for one rate point of a dataset, on one device.

    python benchmarks/metric_speed.py --dataset kodak --codec jpeg --point 10

Prints seconds per image for each per-image metric and for the Inception patch features,
the time of the FID/KID step of two rate points (the second finds the reference features in
the cache) and the peak resident memory. Needs the metrics' weight files in place (the speed
does not depend on their values, so test-built weights give the same timings).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time

from rdpbench.codecs import get_codec
from rdpbench.datasets import get_dataset, inspect
from rdpbench.metrics import list_metrics
from rdpbench.metrics.feature_set import FeatureSet
from rdpbench.metrics.suite import MetricSuite


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="sample")
    parser.add_argument("--codec", default="jpeg")
    parser.add_argument("--point", default="10", help="first rate point")
    parser.add_argument("--second-point", default="30", help="rate point timed with a warm cache")
    parser.add_argument("--device", default="cpu")
    arguments = parser.parse_args()
    os.environ.setdefault("RDPBENCH_CACHE", tempfile.mkdtemp(prefix="rdpbench-bench-"))

    dataset = get_dataset(arguments.dataset)
    hashes = inspect(dataset).pixel_hashes
    codec = get_codec(arguments.codec, device=arguments.device)
    suite = MetricSuite(list_metrics(), arguments.device)
    start = time.perf_counter()
    suite.prepare()
    print(f"{len(dataset.images)} images of {arguments.dataset}; models built in "
          f"{time.perf_counter() - start:.1f} s")

    seconds = {metric.name: 0.0 for metric in suite.image_metrics}
    seconds["inception features"] = 0.0
    for point in (arguments.point, arguments.second_point):
        features = []
        for item in dataset.images:
            reference = item.load_rgb()
            reconstruction = codec.decode(codec.encode(reference, point))
            if point == arguments.point:
                for metric in suite.image_metrics:
                    start = time.perf_counter()
                    metric.score(reference, reconstruction)
                    seconds[metric.name] += time.perf_counter() - start
            start = time.perf_counter()
            features.append(suite.features(reconstruction))
            seconds["inception features"] += time.perf_counter() - start
        start = time.perf_counter()
        references = [suite.reference_features(item.load_rgb, hashes[item.name]) for item in dataset.images]
        scores = suite.score_point(FeatureSet(references), FeatureSet(features))
        print(f"rate point {point}: reference features + FID/KID in {time.perf_counter() - start:.1f} s "
              f"({suite.reference_computed} reference images computed so far) {scores}")

    print(f"\n{'metric':20s} seconds per image (rate point {arguments.point})")
    for name, total in seconds.items():
        per_image = total / len(dataset.images) / (2 if name == "inception features" else 1)
        print(f"{name:20s} {per_image:8.3f}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak resident memory: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
