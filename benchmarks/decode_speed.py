"""Decoding speed of ``ours`` on real images: fp32 against the fast path (bf16 autocast and
channels-last UNet, optionally torch.compile) and batch sizes, with what each setting does to
the results: PSNR and LPIPS against the originals, and PSNR against the fp32 reconstruction of
the same bytes and seeds.

    python benchmarks/decode_speed.py --checkpoint ours_q2.pt --dataset kodak --limit 8 \\
        --device cuda --sampler ddim10 ddpm1000 --precision fp32 bf16 --batch-size 1 4 --compile

Needs the MSH weights of the checkpoint's quality and the LPIPS weights (`rdpbench weights
download`). The first call of each setting is a warm-up on the first image and is not timed;
the speed-up is against the first row of each sampler (the first precision and batch size).
"""

from __future__ import annotations

import argparse
import itertools
import math
import resource
import time

import torch

from rdpbench.codecs import get_codec
from rdpbench.datasets import get_dataset
from rdpbench.diffusion.training import read_checkpoint
from rdpbench.metrics import get_metric
from rdpbench.run import image_seed, resolve_device
from rdpbench.weights import loading, require


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = (a.double() - b.double()).pow(2).mean().item()
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="a decoder checkpoint of `rdpbench train`")
    parser.add_argument("--dataset", default="sample")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--sampler", nargs="+", default=["ddim10"])
    parser.add_argument("--precision", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    parser.add_argument("--batch-size", type=int, nargs="+", default=[1])
    parser.add_argument("--compile", action="store_true", help="also time each precision compiled")
    parser.add_argument("--device", default="auto")
    arguments = parser.parse_args()
    device = resolve_device(arguments.device)
    point = str(read_checkpoint(arguments.checkpoint)["condition"]["quality"])

    lpips = get_metric("lpips", device)
    require(lpips.weight_files())
    with loading(lpips.weight_files()):
        lpips.prepare()
    dataset = get_dataset(arguments.dataset).limited(arguments.limit)
    originals = {item.name: item.load()[0] for item in dataset.images}
    encoder = get_codec("ours", device=device, checkpoint=[arguments.checkpoint])
    encoder.prepare([point])
    data = {name: encoder.encode(image, point) for name, image in originals.items()}
    names = list(originals)
    print(f"ours quality {point}, {len(names)} images of {dataset.display_name}, on {device}")
    print(f"{'sampler':9s} {'precision':9s} {'compiled':8s} {'batch':>5s} {'s/image':>8s} {'speed-up':>8s} "
          f"{'PSNR':>7s} {'LPIPS':>7s} {'PSNR vs fp32':>12s} {'peak MB':>8s}")
    for sampler in arguments.sampler:
        exact, fp32_seconds = None, None
        for precision, compiled in itertools.product(arguments.precision, [False, True] if arguments.compile else [False]):
            codec = get_codec("ours", device=device, checkpoint=[arguments.checkpoint],
                              precision=precision, compile=compiled)
            codec.prepare([point])
            codec.decode(data[names[0]], sampler, seed=0)  # warm-up (and compilation)
            for batch in arguments.batch_size:
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                    torch.cuda.reset_peak_memory_stats()
                start, decoded = time.perf_counter(), {}
                for first in range(0, len(names), batch):
                    group = names[first : first + batch]
                    sizes = {tuple(originals[n].shape) for n in group}
                    images = (codec.decode_batch([data[n] for n in group], sampler,
                                                 [image_seed(0, n) for n in group])
                              if len(sizes) == 1 else [codec.decode(data[n], sampler, image_seed(0, n)) for n in group])
                    decoded.update(zip(group, images))
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                    peak_mb = torch.cuda.max_memory_allocated() / 2**20
                else:
                    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                seconds = (time.perf_counter() - start) / len(names)
                if exact is None:
                    exact, fp32_seconds = decoded, seconds
                mean = lambda values: sum(values) / len(values)
                print(f"{sampler:9s} {precision:9s} {str(compiled):8s} {batch:5d} {seconds:8.3f} "
                      f"{fp32_seconds / seconds:8.2f} "
                      f"{mean([psnr(originals[n], decoded[n]) for n in names]):7.2f} "
                      f"{mean([lpips.score(originals[n], decoded[n]) for n in names]):7.4f} "
                      f"{mean([psnr(exact[n], decoded[n]) for n in names]):12.2f} {peak_mb:8.0f}")


if __name__ == "__main__":
    main()
