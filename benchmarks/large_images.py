"""Speed and memory of a whole run on CLIC-size images (2048x1365), one run per image count.

    python benchmarks/large_images.py --images 3 30
    python benchmarks/large_images.py --images 3 --device cuda
    python benchmarks/large_images.py --images 3 30 --metrics psnr,fid,kid,lpips

Makes the images from scikit-image's sample photographs (crops, upscaled with Pillow's bicubic
filter: nothing is downloaded), then, for each count N, runs ``rdpbench run`` through
:func:`rdpbench.run.evaluate` in a fresh process (jpeg at one quality, every metric unless
``--metrics`` names some) on the CPU and, when CUDA is present, on CUDA. Prints seconds per
image (the run's wall time, model building included, over N), each stage's seconds per image,
patches per second of the patch features (FID/KID's Inception and FD-DINOv2's, where measured;
reconstructions and originals), and the child's peak resident memory (ru_maxrss), and whether
the peak of the largest N stays within 1.2x that of the smallest. The metrics' weight files
are used where the loaders find them; where any is missing, seeded random weights of the same
architectures are built in a temporary TORCH_HOME (a network's timing does not depend on its
weights; its scores then mean nothing), and the output says so.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from built_weights import use_built_weights_if_missing

SIZE = (2048, 1365)  # width, height: CLIC 2020's most common size
PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png", "rocket.jpg",
          "hubble_deep_field.jpg", "retina.jpg", "ihc.png", "motorcycle_right.png"]


def make_images(folder: Path, count: int) -> None:
    """``count`` distinct 2048x1365 PNGs: 3:2 crops of the sample photographs, each photo
    cropped at a different place every time it comes round, upscaled."""
    import skimage
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        with Image.open(Path(skimage.__file__).parent / "data" / PHOTOS[index % len(PHOTOS)]) as photo:
            photo = photo.convert("RGB")
        round_ = index // len(PHOTOS)
        width = 0.8 * min(photo.width, photo.height * SIZE[0] / SIZE[1])
        height = width * SIZE[1] / SIZE[0]
        left = (photo.width - width) * ((0.5 + 0.37 * round_) % 1)
        top = (photo.height - height) * ((0.5 + 0.61 * round_) % 1)
        crop = photo.resize(SIZE, Image.BICUBIC, box=(left, top, left + width, top + height))
        crop.save(folder / f"large{index:02d}.png")


def child(folder: Path, device: str, point: str, metrics: str, out: Path) -> dict:
    """One run with ``metrics``, timing each stage; the numbers, for the parent."""
    import torch

    from rdpbench.metrics.base import ImageMetric
    from rdpbench.metrics.features import PatchFeatures
    from rdpbench.metrics.patches import patch_corners
    from rdpbench.run import RunSettings, evaluate

    seconds: dict[str, float] = {}
    patches = [0]

    def timed(function, name):
        def wrapper(self, *arguments):
            start = time.perf_counter()
            try:
                return function(self, *arguments)
            finally:
                key = name or self.name
                seconds[key] = seconds.get(key, 0.0) + time.perf_counter() - start
        return wrapper

    for metric_class in {type(m) for m in _all_metrics()}:
        if issubclass(metric_class, ImageMetric):
            metric_class.score = timed(metric_class.score, None)
    features_call = PatchFeatures.__call__

    def counted(self, image):
        patches[0] += len(patch_corners(image.shape[1], image.shape[2], self.protocol))
        return features_call(self, image)

    PatchFeatures.__call__ = timed(counted, "features")
    start = time.perf_counter()
    run = evaluate(RunSettings(codec="jpeg", points=[point], dataset=str(folder), out=out, metrics=metrics,
                               device=device), progress=False)
    wall = time.perf_counter() - start
    import pandas as pd

    rows = pd.read_csv(run / "images.csv")
    seconds["jpeg"] = float(rows.encode_s.sum() + rows.decode_s.sum())
    gpu_peak = torch.cuda.max_memory_allocated() / 1e9 if device == "cuda" else None
    return {"wall_s": wall, "seconds": seconds, "patches": patches[0], "gpu_peak_gb": gpu_peak}


def _all_metrics():
    from rdpbench.metrics import get_metric, list_metrics

    return [get_metric(name) for name in list_metrics()]


def measured(folder: Path, device: str, point: str, metrics: str, environment: dict) -> dict:
    """:func:`child` in a fresh process; with its peak resident memory. The run's notes (test
    weights are not the upstream files, ...) are shown only when it fails."""
    with tempfile.TemporaryDirectory(prefix="rdpbench-large-") as work:
        command = [sys.executable, __file__, "--child", str(folder), "--device", device, "--point", point,
                   "--metrics", metrics, "--out", work]
        with open(Path(work) / "stderr.txt", "w+") as errors:
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True,
                                       env={**environment, "RDPBENCH_CACHE": str(Path(work) / "cache")})
            output = process.stdout.read()
            _, status, usage = os.wait4(process.pid, 0)
            errors.seek(0)
            if status != 0:
                raise SystemExit(f"the run on {device} failed (status {status}):\n{errors.read()}")
    return {**json.loads(output.splitlines()[-1]), "peak_rss_gb": usage.ru_maxrss * 1024 / 1e9}


def report(count: int, device: str, result: dict) -> None:
    per_image = {name: value / count for name, value in sorted(result["seconds"].items())}
    print(f"\n{count} images on {device}: {result['wall_s'] / count:.1f} s/image "
          f"(wall {result['wall_s']:.0f} s), peak RSS {result['peak_rss_gb']:.2f} GB"
          + (f", GPU peak {result['gpu_peak_gb']:.2f} GB" if result["gpu_peak_gb"] is not None else ""))
    if result["patches"]:
        print(f"  patch features (each extractor, reconstructions and originals): {result['patches']} patches, "
              f"{result['patches'] / result['seconds']['features']:.2f} patches/s")
    print("  s/image by stage: " + ", ".join(f"{name} {value:.2f}" for name, value in per_image.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, nargs="+", default=[3], help="image counts, one run each")
    parser.add_argument("--point", default="50", help="jpeg quality")
    parser.add_argument("--metrics", default="all", help="the run's --metrics (default: every metric)")
    parser.add_argument("--device", choices=["cpu", "cuda", "both"], default="both",
                        help="both: the CPU, and CUDA when present")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        print(json.dumps(child(arguments.child, arguments.device, arguments.point, arguments.metrics, arguments.out)))
        return

    import torch

    devices = {"both": ["cpu"] + (["cuda"] if torch.cuda.is_available() else []),
               "cpu": ["cpu"], "cuda": ["cuda"]}[arguments.device]
    with tempfile.TemporaryDirectory(prefix="rdpbench-large-") as work:
        environment = dict(os.environ)
        use_built_weights_if_missing(Path(work), environment)
        peaks: dict[str, dict[int, float]] = {}
        for count in arguments.images:
            folder = Path(work) / f"images{count}"
            make_images(folder, count)
            for device in devices:
                result = measured(folder, device, arguments.point, arguments.metrics, environment)
                report(count, device, result)
                peaks.setdefault(device, {})[count] = result["peak_rss_gb"]
    for device, by_count in peaks.items():
        if len(by_count) > 1:
            low, high = min(by_count), max(by_count)
            ratio = by_count[high] / by_count[low]
            print(f"\n{device}: peak({high}) / peak({low}) = {ratio:.2f} "
                  f"({'within' if ratio <= 1.2 else 'ABOVE'} 1.2)")


if __name__ == "__main__":
    main()
