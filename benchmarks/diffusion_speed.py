"""Speed of the diffusion decoder on one device: seconds per UNet call, seconds per sampled
image for each sampler, and the sampler overhead ratio (sampling time / (steps x call time);
1.0 means the loop adds nothing around the network), and the time of the sampling loop
alone around a stand-in network that returns a constant.

    python benchmarks/diffusion_speed.py --size tiny --resolution 64 64
    python benchmarks/diffusion_speed.py --size paper --resolution 64 64 --samplers ddim10 ddim100
    python benchmarks/diffusion_speed.py --size paper --resolution 512 768 --samplers --calls 1

Random weights: the speed does not depend on their values. The latent is random too.
"""

from __future__ import annotations

import argparse
import resource
import time

import torch

from rdpbench.diffusion import ConditionalUNet, NoiseSchedule, get_sampler
from rdpbench.diffusion.unet import UNET_SIZES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="tiny", choices=sorted(UNET_SIZES))
    parser.add_argument("--resolution", type=int, nargs=2, default=[64, 64], metavar=("H", "W"))
    parser.add_argument("--samplers", nargs="*", default=["ddim10", "ddim100", "ddpm100", "ddpm1000"])
    parser.add_argument("--calls", type=int, default=20, help="UNet calls to time")
    parser.add_argument("--device", default="cpu")
    arguments = parser.parse_args()
    height, width = arguments.resolution
    device = torch.device(arguments.device)

    torch.manual_seed(0)
    network = ConditionalUNet(UNET_SIZES[arguments.size]).eval().to(device)
    parameters = sum(p.numel() for p in network.parameters()) / 1e6
    schedule = NoiseSchedule.create("cosine", 4000, 1000)
    y_hat = torch.randn(1, network.config.latent_channels, height // 16, width // 16, device=device)
    x = torch.randn(1, 3, height, width, device=device)

    def synchronize():
        if device.type == "cuda":
            torch.cuda.synchronize()

    with torch.inference_mode():
        condition = network.encode_condition(y_hat)
        t = torch.tensor([500.0], device=device)
        network(x, t, condition)  # warm-up
        synchronize()
        start = time.perf_counter()
        for _ in range(arguments.calls):
            network(x, t, condition)
        synchronize()
        per_call = (time.perf_counter() - start) / arguments.calls
    print(f"{arguments.size} network ({parameters:.1f} M parameters) at {height}x{width} on {device}: "
          f"{per_call:.4f} s per UNet call")

    constant_output = torch.zeros(1, 6, height, width, device=device)
    for name in arguments.samplers:
        sampler = get_sampler(name)
        generator = torch.Generator(device=device).manual_seed(0)
        start = time.perf_counter()
        sampler.sample(lambda x, t: network(x, t, condition), schedule, tuple(x.shape), generator, device=device)
        synchronize()
        seconds = time.perf_counter() - start
        # the loop alone, around a stand-in network that returns a constant
        start = time.perf_counter()
        sampler.sample(lambda x, t: constant_output, schedule, tuple(x.shape), generator, device=device)
        synchronize()
        steps = len(sampler.chain(schedule))
        loop_ms = (time.perf_counter() - start) / steps * 1000
        print(f"{name:9s} {seconds:9.2f} s per image   overhead ratio "
              f"{seconds / (steps * per_call):.3f}   loop alone {loop_ms:.3f} ms per step")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
