"""Encode and decode speed of the codecs, per image, on a dataset (default: sample).

    python benchmarks/codec_speed.py --dataset kodak --codec jpeg webp avif jpeg2000
    python benchmarks/codec_speed.py --dataset PATH --codec msh --point 3

Prints, per codec and rate point: mean bpp, mean seconds to encode and decode one image,
and the peak resident memory of the process.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

from rdpbench.bitstream import bits_per_pixel
from rdpbench.codecs import get_codec
from rdpbench.datasets import get_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="sample")
    parser.add_argument("--codec", nargs="+", default=["jpeg", "webp", "avif", "jpeg2000"])
    parser.add_argument("--point", default=None, help="rate point (default: the codec's middle one)")
    parser.add_argument("--device", default="cpu")
    arguments = parser.parse_args()

    images = [(item.name, item.load()[0]) for item in get_dataset(arguments.dataset).images]
    print(f"{len(images)} images of {arguments.dataset}")
    print(f"{'codec':10s} {'point':>6s} {'bpp':>7s} {'encode s':>9s} {'decode s':>9s}")
    for name in arguments.codec:
        codec = get_codec(name, device=arguments.device)
        point = arguments.point or codec.default_points[len(codec.default_points) // 2]
        codec.prepare([point])
        rates, encode_times, decode_times = [], [], []
        for _, image in images:
            start = time.perf_counter()
            data = codec.encode(image, point)
            encode_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            codec.decode(data)
            decode_times.append(time.perf_counter() - start)
            rates.append(bits_per_pixel(len(data), *image.shape[1:]))
        print(
            f"{name:10s} {point:>6s} {statistics.mean(rates):7.4f} "
            f"{statistics.mean(encode_times):9.4f} {statistics.mean(decode_times):9.4f}"
        )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
