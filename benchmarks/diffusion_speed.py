"""Speed of the diffusion decoder on one device: seconds per UNet call, seconds per sampled
image for each sampler, and the sampler overhead ratio (sampling time / (steps x call time);
1.0 means the loop adds nothing around the network), and the time of the sampling loop
alone around a stand-in network that returns a constant.

    python benchmarks/diffusion_speed.py --size tiny --resolution 64 64
    python benchmarks/diffusion_speed.py --size paper --resolution 64 64 --samplers ddim10 ddim100
    python benchmarks/diffusion_speed.py --size paper --resolution 512 768 --samplers --calls 1
    python benchmarks/diffusion_speed.py --model cdc-eps --resolution 512 768 --calls 3 --device cuda

``--model ours`` (default) times the seed paper's decoder at ``--size``; ``cdc-eps`` and
``cdc-x`` time Yang & Mandt's full-size UNet: seconds per step (one UNet call, the context
computed once beforehand), and the whole DDIM loop for ``--cdc-steps``.

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
    parser.add_argument("--model", default="ours", choices=["ours", "cdc-eps", "cdc-x"])
    parser.add_argument("--cdc-steps", type=int, default=0, help="also time a whole CDC DDIM loop of this many steps")
    arguments = parser.parse_args()
    if arguments.model != "ours":
        return cdc_speed(arguments)
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


def cdc_speed(arguments) -> None:
    """Seconds per CDC UNet call at the resolution, with the context computed once; peak memory."""
    from rdpbench.networks.cdc import CdcConfig, CdcModel

    height, width = arguments.resolution
    device = torch.device(arguments.device)
    parameterisation = arguments.model.split("-")[1]
    torch.manual_seed(0)
    model = CdcModel(CdcConfig(parameterisation), 20000 if parameterisation == "eps" else 8193).eval()
    model.train_alphas_cumprod.copy_(torch.linspace(0.9999, 1e-4, len(model.train_alphas_cumprod)))
    model.denoise_fn.to(device)
    model.context_fn.dec.to(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    with torch.inference_mode():
        y_hat = torch.randn(1, 256, height // 16, width // 16, device=device)
        context = model.context_fn.decode(y_hat)
        x = torch.randn(1, 3, height, width, device=device)
        time_input = torch.full((1, 1), 0.5, device=device)
        model.denoise_fn(x, time_input, context)  # warm-up
        synchronize = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
        synchronize()
        start = time.perf_counter()
        for _ in range(arguments.calls):
            model.denoise_fn(x, time_input, context)
        synchronize()
        per_step = (time.perf_counter() - start) / arguments.calls
        loop = None
        if arguments.cdc_steps:
            start = time.perf_counter()
            model.sample(model.denoise_fn, context, x, arguments.cdc_steps)
            synchronize()
            loop = time.perf_counter() - start
    parameters = sum(p.numel() for p in model.denoise_fn.parameters()) / 1e6
    peak = (torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(f"{arguments.model} UNet ({parameters:.1f} M parameters) at {height}x{width} on {device}: "
          f"{per_step:.3f} s per step; peak memory {peak:.0f} MB")
    if loop is not None:
        print(f"ddim{arguments.cdc_steps}: {loop:.1f} s per image (overhead ratio {loop / (arguments.cdc_steps * per_step):.3f})")


if __name__ == "__main__":
    main()
