"""Encode and decode speed of the codecs on a dataset (default: sample).

    python benchmarks/codec_speed.py --dataset kodak --codec jpeg webp avif jpeg2000
    python benchmarks/codec_speed.py --dataset PATH --codec msh hific msillm noganms --point 3
    python benchmarks/codec_speed.py --dataset kodak --codec hific --point mi --device cuda

Prints, per codec and rate point: mean bpp (and the codec's own estimate where it has one),
seconds to encode and to decode one megapixel, and peak memory: the process's resident
memory so far on CPU, the codec's peak allocated GPU memory on CUDA. The first image is
coded once more beforehand, untimed (warm-up). A codec without its weights is skipped with
the message that says how to get them.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import torch

from rdpbench.bitstream import bits_per_pixel
from rdpbench.codecs import get_codec
from rdpbench.datasets import get_dataset
from rdpbench.errors import MissingWeightsError


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="sample")
    parser.add_argument("--codec", nargs="+", default=["jpeg", "webp", "avif", "jpeg2000"])
    parser.add_argument("--point", default=None, help="rate point (default: the codec's middle one)")
    parser.add_argument("--device", default="cpu")
    arguments = parser.parse_args()

    images = [(item.name, item.load()[0]) for item in get_dataset(arguments.dataset).images]
    cuda = arguments.device.startswith("cuda")
    print(f"{len(images)} images of {arguments.dataset} on {arguments.device}")
    print(f"{'codec':10s} {'point':>6s} {'bpp':>7s} {'bpp_est':>8s} {'enc s/MP':>9s} {'dec s/MP':>9s} {'peak MB':>8s}")
    for name in arguments.codec:
        codec = get_codec(name, device=arguments.device)
        point = codec.check_point(arguments.point or codec.default_points[len(codec.default_points) // 2])
        try:
            codec.prepare([point])
        except MissingWeightsError as error:
            print(f"{name:10s} skipped: {error}")
            continue
        codec.decode(codec.encode(images[0][1], point))  # warm-up
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        rates, estimates, encode_seconds, decode_seconds, megapixels = [], [], 0.0, 0.0, 0.0
        for _, image in images:
            start = time.perf_counter()
            data, bits = codec.encode_estimated(image, point)
            encode_seconds += time.perf_counter() - start
            start = time.perf_counter()
            codec.decode(data)
            if cuda:
                torch.cuda.synchronize()
            decode_seconds += time.perf_counter() - start
            pixels = image.shape[1] * image.shape[2]
            megapixels += pixels / 1e6
            rates.append(bits_per_pixel(len(data), *image.shape[1:]))
            estimates.append(None if bits is None else bits / pixels)
        estimate = f"{statistics.mean(estimates):8.4f}" if None not in estimates else f"{'':8s}"
        peak_mb = (torch.cuda.max_memory_allocated() if cuda else
                   resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024) / 2**20
        print(f"{name:10s} {point:>6s} {statistics.mean(rates):7.4f} {estimate} "
              f"{encode_seconds / megapixels:9.3f} {decode_seconds / megapixels:9.3f} {peak_mb:8.0f}")


if __name__ == "__main__":
    main()
