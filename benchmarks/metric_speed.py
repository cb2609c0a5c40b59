"""Speed and memory of every metric for one rate point of a dataset, on one device.

    python benchmarks/metric_speed.py --dataset kodak --codec jpeg --point 10

Prints seconds per image for each per-image metric and for each feature network's patch
features (Inception for FID/KID, DINOv2 for FD-DINOv2), the time of the distribution metrics
of two rate points (the second finds the reference features in the cache) and the peak
resident memory. Where the metrics' weight files are missing, seeded random weights of the
same networks are built in a temporary TORCH_HOME (the speed does not depend on their values).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time

from pathlib import Path

from built_weights import use_built_weights_if_missing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="sample")
    parser.add_argument("--codec", default="jpeg")
    parser.add_argument("--point", default="10", help="first rate point")
    parser.add_argument("--second-point", default="30", help="rate point timed with a warm cache")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--limit", type=int, help="use only the first N images")
    arguments = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rdpbench-bench-"))
    os.environ.setdefault("RDPBENCH_CACHE", str(work / "cache"))
    use_built_weights_if_missing(work, os.environ)

    from rdpbench.codecs import get_codec
    from rdpbench.datasets import get_dataset, inspect
    from rdpbench.metrics import list_metrics
    from rdpbench.metrics.feature_set import FeatureSet
    from rdpbench.metrics.suite import MetricSuite

    dataset = get_dataset(arguments.dataset).limited(arguments.limit)
    hashes = inspect(dataset).pixel_hashes
    codec = get_codec(arguments.codec, device=arguments.device)
    suite = MetricSuite(list_metrics(), arguments.device)
    start = time.perf_counter()
    suite.prepare()
    print(f"{len(dataset.images)} images of {arguments.dataset}; models built in "
          f"{time.perf_counter() - start:.1f} s")

    seconds = {metric.name: 0.0 for metric in suite.image_metrics}
    seconds.update({f"{network} features": 0.0 for network in suite.extractors})
    for point in (arguments.point, arguments.second_point):
        features = {network: [] for network in suite.extractors}
        for item in dataset.images:
            reference = item.load_rgb()
            reconstruction = codec.decode(codec.encode(reference, point))
            if point == arguments.point:
                for metric in suite.image_metrics:
                    start = time.perf_counter()
                    metric.score(reference, reconstruction)
                    seconds[metric.name] += time.perf_counter() - start
            for network, extractor in suite.extractors.items():
                start = time.perf_counter()
                features[network].append(extractor(reconstruction))
                seconds[f"{network} features"] += time.perf_counter() - start
        start = time.perf_counter()
        sets = {network: (FeatureSet([suite.reference_features(network, item.load_rgb, hashes[item.name])
                                      for item in dataset.images]), FeatureSet(features[network]))
                for network in suite.extractors}
        scores = suite.score_point(sets)
        print(f"rate point {point}: reference features + FID/KID in {time.perf_counter() - start:.1f} s "
              f"({suite.reference_computed} reference images computed so far) {scores}")

    print(f"\n{'metric':20s} seconds per image (rate point {arguments.point})")
    for name, total in seconds.items():
        per_image = total / len(dataset.images) / (2 if name.endswith(" features") else 1)
        print(f"{name:20s} {per_image:8.3f}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak resident memory: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
