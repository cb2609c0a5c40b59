"""Golden values for the HiFiC-port and MS-ILLM adapters, made with the upstream code itself
(run once, outside the tests; the tests compare against the JSON file it writes).

    python scripts/golden_hific.py --port PATH/TO/high-fidelity-generative-compression \\
        --neuralcompression PATH/TO/NeuralCompression --out tests/data/hific_golden.json

Both upstream networks have their widths fixed in code, so they are built at full size (about
180 M parameters each). Every parameter is filled by :func:`key_seeded`, a function of its
name and shape that the tests repeat. A fixed 128x128 image is then coded:
- the port (its low model's options: [-1, 1] input, Gaussian; and its medium model's: [0, 1],
  logistic): its own estimate of the rate, the sums of its quantized latents, and its decoded
  image;
- NeuralCompression's HiFiCAutoencoder: its ``compress`` strings, its estimate from
  ``forward``, and its ``decompress`` image.
The port's modules import with stand-ins for the ``autograd`` package, which only its
entropy coder needs; NeuralCompression's with stand-ins for its package ``__init__``.
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import json
import sys
import types
import zlib
from pathlib import Path

import numpy as np
import torch

SIZE = 128


def key_seeded(name: str, shape: torch.Size) -> torch.Tensor:
    """The value parameter ``name`` gets on both sides: normal noise from a generator seeded by
    the name's CRC-32, scaled by 0.05; an entropy bottleneck's quantiles get a median from
    that noise and tails at -+8 around it."""
    generator = torch.Generator().manual_seed(zlib.crc32(name.encode()))
    values = torch.randn(shape, generator=generator) * 0.05
    if name.endswith("quantiles"):
        medians = values[:, :, 1:2]
        values = torch.cat([medians - 8, medians, medians + 8], dim=2)
    return values


def golden_image() -> torch.Tensor:
    """The uint8 (3, 128, 128) image both sides code."""
    c, h, w = torch.meshgrid(torch.arange(3.0), torch.arange(128.0), torch.arange(128.0), indexing="ij")
    values = 0.5 + 0.35 * torch.sin(0.05 * (h + 1) * (c + 1)) * torch.cos(0.04 * w + c)
    return (values * 255).round().to(torch.uint8)


def packed(image: torch.Tensor) -> str:
    """A [0, 1] image batch of one as rounded uint8 bytes, compressed and base64-encoded."""
    pixels = image[0].clamp(0, 1).mul(255).round().to(torch.uint8).numpy()
    return base64.b64encode(zlib.compress(pixels.tobytes())).decode()


def fill(prefix: str, module: torch.nn.Module) -> None:
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            parameter.copy_(key_seeded(f"{prefix}{name}", parameter.shape))


def port_golden(upstream: Path) -> dict:
    autograd = types.ModuleType("autograd")
    autograd.numpy, autograd.make_vjp = np, None
    extend = types.ModuleType("autograd.extend")
    extend.vspace, extend.VSpace = None, object
    sys.modules.update({"autograd": autograd, "autograd.numpy": np, "autograd.extend": extend})
    sys.path.insert(0, str(upstream))
    from src.hyperprior import Hyperprior
    from src.network.encoder import Encoder
    from src.network.generator import Generator

    results = {}
    for point, likelihood, normalize in (("lo", "gaussian", True), ("mi", "logistic", False)):
        parts = {"Encoder": Encoder((3, SIZE, SIZE), 1, C=220, channel_norm=True),
                 "Generator": Generator((220, SIZE // 16, SIZE // 16), 1, C=220, n_residual_blocks=9,
                                        channel_norm=True, sample_noise=False),
                 "Hyperprior": Hyperprior(bottleneck_capacity=220, likelihood_type=likelihood, entropy_code=False)}
        for prefix, part in parts.items():
            fill(f"{prefix}.", part)
            part.eval()
        x = golden_image()[None].float() / 255
        with torch.no_grad():
            y = parts["Encoder"](x * 2 - 1 if normalize else x)
            info = parts["Hyperprior"](y, spatial_shape=(SIZE, SIZE))
            z_hat = torch.floor(parts["Hyperprior"].analysis_net(y) + 0.5)
            reconstruction = parts["Generator"](info.decoded)
            if normalize:
                reconstruction = (torch.tanh(reconstruction) + 1) / 2
        results[point] = {
            "likelihood_type": likelihood, "normalize_input_image": normalize,
            "estimated_bits": float(info.total_qbpp) * SIZE * SIZE,
            "y_hat_sum": float(info.decoded.double().sum()), "y_hat_abs_sum": float(info.decoded.double().abs().sum()),
            "z_hat_sum": float(z_hat.double().sum()),
            "decoded_uint8_zlib_base64": packed(reconstruction),
        }
    sys.path.pop(0)
    return results


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def neuralcompression_golden(upstream: Path) -> dict:
    root = upstream / "neuralcompression"
    package = types.ModuleType("neuralcompression")
    package.__path__ = [str(root)]
    sys.modules["neuralcompression"] = package
    outputs = _load("neuralcompression._hyperprior_output", root / "_outputs" / "_hyperprior_output.py")
    package.HyperpriorCompressedOutput = outputs.HyperpriorCompressedOutput
    package.HyperpriorOutput = outputs.HyperpriorOutput
    functional = types.ModuleType("neuralcompression.functional")
    functional.pad_image_to_factor = _load("neuralcompression.functional._pad_image",
                                           root / "functional" / "_pad_image.py").pad_image_to_factor
    layers = types.ModuleType("neuralcompression.layers")
    layers.ChannelNorm2D = _load("neuralcompression.layers._channel_norm", root / "layers" / "_channel_norm.py").ChannelNorm2D
    models = types.ModuleType("neuralcompression.models")
    models.__path__ = [str(root / "models")]
    sys.modules.update({"neuralcompression.functional": functional, "neuralcompression.layers": layers,
                        "neuralcompression.models": models})
    package.functional, package.layers = functional, layers
    _load("neuralcompression.models._hyperprior_autoencoder", root / "models" / "_hyperprior_autoencoder.py")
    _load("neuralcompression.models._hific_encoder_decoder", root / "models" / "_hific_encoder_decoder.py")
    autoencoder = _load("neuralcompression.models._hific_autoencoder", root / "models" / "_hific_autoencoder.py")

    model = autoencoder.HiFiCAutoencoder()
    fill("", model)
    model.eval()
    model.update(force=True)
    x = golden_image()[None].float() / 255
    with torch.no_grad():
        output = model(x)
        bits = -(torch.log2(output.quantized_latent_likelihoods.double()).sum()
                 + torch.log2(output.quantized_hyper_latent_likelihoods.double()).sum())
        compressed = model.compress(x, force_cpu=True)
        decoded = model.decompress(compressed, force_cpu=True)
    return {
        "estimated_bits": float(bits),
        "z_string_base64": base64.b64encode(compressed.hyper_latent_strings[0]).decode(),
        "y_string_base64": base64.b64encode(compressed.latent_strings[0]).decode(),
        "decoded_uint8_zlib_base64": packed(decoded),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=Path, required=True, help="a checkout of the HiFiC PyTorch port")
    parser.add_argument("--neuralcompression", type=Path, required=True, help="a checkout of NeuralCompression")
    parser.add_argument("--out", type=Path, default=Path("tests/data/hific_golden.json"))
    arguments = parser.parse_args()
    torch.set_grad_enabled(False)
    result = {"size": SIZE, "hific_port": port_golden(arguments.port),
              "hific_autoencoder": neuralcompression_golden(arguments.neuralcompression)}
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    arguments.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {arguments.out}")


if __name__ == "__main__":
    main()
