"""Golden values for the CDC adapter, made with the authors' own code (run once, outside the
tests; the tests compare against the JSON file it writes, without the upstream code).

    python scripts/golden_cdc.py PATH/TO/CDC_compression --out tests/data/cdc_golden.json

For each parameterisation (eps, x) it builds the authors' ``GaussianDiffusion`` at width 8
(their scripts use 64; the code takes the width as an argument), fills every parameter by
:func:`key_seeded`, a function of the parameter's name and shape alone that the tests repeat,
compresses a fixed 64x64 image, and runs their DDIM for 3 steps from a fixed x_T. It records
their likelihood estimate, the quantized latents' sums, a few schedule values and the decoded
image. Needs the upstream dependencies (einops, lpips, tqdm) importable.
"""

from __future__ import annotations

import argparse
import base64
import importlib
import json
import sys
import zlib
from pathlib import Path

import torch

WIDTH = 8
SIZE = 64
STEPS = 3
GAMMA = 0.8
SEED = 11


def key_seeded(name: str, shape: torch.Size) -> torch.Tensor:
    """The value every test-side and upstream-side parameter ``name`` gets: normal noise from
    a generator seeded by the name's CRC-32, scaled by 0.2."""
    generator = torch.Generator().manual_seed(zlib.crc32(name.encode()))
    return torch.randn(shape, generator=generator) * 0.2


def golden_image() -> torch.Tensor:
    """The uint8 (3, 64, 64) image both sides code."""
    c, h, w = torch.meshgrid(torch.arange(3.0), torch.arange(64.0), torch.arange(64.0), indexing="ij")
    values = 0.5 + 0.35 * torch.sin(0.11 * (h + 1) * (c + 1)) * torch.cos(0.07 * w + c)
    return (values * 255).round().to(torch.uint8)


def initial_noise() -> torch.Tensor:
    """x_T = gamma * N(0, I), drawn as rdpbench draws it for seed ``SEED``."""
    return GAMMA * torch.randn((3, SIZE, SIZE), generator=torch.Generator().manual_seed(SEED))[None]


def build(upstream: Path, parameterisation: str):
    folder = "epsilonparam" if parameterisation == "eps" else "xparam"
    sys.path.insert(0, str(upstream / folder))
    for name in [m for m in sys.modules if m == "modules" or m.startswith("modules.")]:
        del sys.modules[name]
    unet = importlib.import_module("modules.unet")
    compress = importlib.import_module("modules.compress_modules")
    diffusion = importlib.import_module("modules.denoising_diffusion")
    sys.path.pop(0)
    if parameterisation == "eps":
        denoise = unet.Unet(dim=WIDTH, channels=3, context_channels=3, dim_mults=(1, 2, 3, 4, 5, 6),
                            context_dim_mults=(1, 2, 3, 4))
        context = compress.BigCompressor(dim=WIDTH, dim_mults=(1, 2, 3, 4), hyper_dims_mults=(4, 4, 4),
                                         channels=3, out_channels=3, vbr=False)
        model = diffusion.GaussianDiffusion(denoise_fn=denoise, context_fn=context, num_timesteps=20000,
                                            loss_type="l1", clip_noise="none", vbr=False, lagrangian=0.9,
                                            pred_mode="noise", var_schedule="linear", aux_loss_weight=0,
                                            aux_loss_type="lpips")
    else:
        denoise = unet.Unet(dim=WIDTH, channels=3, context_channels=WIDTH, dim_mults=[1, 2, 3, 4, 5, 6],
                            context_dim_mults=[1, 2, 3, 4], embd_type="01")
        context = compress.ResnetCompressor(dim=WIDTH, dim_mults=[1, 2, 3, 4], reverse_dim_mults=[4, 3, 2, 1],
                                            hyper_dims_mults=[4, 4, 4], channels=3, out_channels=WIDTH)
        model = diffusion.GaussianDiffusion(denoise_fn=denoise, context_fn=context, ae_fn=None, num_timesteps=8193,
                                            loss_type="l2", lagrangian=0.0032, pred_mode="x", aux_loss_weight=0,
                                            aux_loss_type="lpips", var_schedule="cosine", use_loss_weight=True,
                                            loss_weight_min=5, use_aux_loss_weight_schedule=False)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            parameter.copy_(key_seeded(name, parameter.shape))
    return model.eval()


def golden(upstream: Path, parameterisation: str) -> dict:
    model = build(upstream, parameterisation)
    x = golden_image()[None].float() / 255 * 2 - 1
    with torch.no_grad():
        outputs = model.context_fn(x)
        kwargs = {"sample_mode": "ddim"} if parameterisation == "eps" else {}
        decoded, bpp = model.compress(x, sample_steps=STEPS, bpp_return_mean=False, init=initial_noise(), **kwargs)
    image = (decoded.clamp(-1, 1) / 2 + 0.5).mul(255).round().to(torch.uint8)[0]
    alphas = model.train_alphas_cumprod
    return {
        "estimated_bits": float(bpp[0]) * SIZE * SIZE,
        "q_latent_sum": float(outputs["q_latent"].double().sum()),
        "q_latent_abs_sum": float(outputs["q_latent"].double().abs().sum()),
        "q_hyper_latent_sum": float(outputs["q_hyper_latent"].double().sum()),
        "train_alphas_cumprod": {str(i): float(alphas[i]) for i in (0, 1, len(alphas) // 2, len(alphas) - 1)},
        "decoded_uint8_zlib_base64": base64.b64encode(zlib.compress(image.numpy().tobytes())).decode(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("upstream", type=Path, help="a checkout of buggyyang/CDC_compression")
    parser.add_argument("--out", type=Path, default=Path("tests/data/cdc_golden.json"))
    arguments = parser.parse_args()
    result = {"width": WIDTH, "size": SIZE, "steps": STEPS, "gamma": GAMMA, "seed": SEED,
              "eps": golden(arguments.upstream, "eps"), "x": golden(arguments.upstream, "x")}
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    arguments.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {arguments.out}")


if __name__ == "__main__":
    main()
