"""Shared fixtures and helpers: small generated photos and image folders, temporary weight
caches with built weights, runs, the command line through its real argument parsing, and the
environment of a test's subprocesses.

Nothing here reads outside the test's temporary folders or needs the internet. Markers:
``slow`` (seconds of work or more; ``pytest -m "not slow"`` is the quick loop) and
``subprocess`` (starts Python processes of its own).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image


def make_photo(height: int, width: int, seed: int) -> np.ndarray:
    """A smooth colour gradient with texture and an edge: compresses like a small photo."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    channels = []
    for c in range(3):
        phase = rng.uniform(0, 2 * np.pi)
        wave = 0.5 + 0.3 * np.sin(x / (6 + 3 * c) + phase) * np.cos(y / (9 + c))
        channels.append(wave + 0.25 * (x > width / 2) + rng.normal(0, 0.04, (height, width)))
    return (np.clip(np.stack(channels, axis=2), 0, 1) * 255).round().astype(np.uint8)


def photo_tensor(height: int, width: int, seed: int) -> torch.Tensor:
    """:func:`make_photo` as a codec takes it: uint8 (3, H, W)."""
    return torch.from_numpy(make_photo(height, width, seed)).permute(2, 0, 1).contiguous()


def make_image_folder(folder: Path, sizes: list[tuple[int, int]], stem: str = "img") -> Path:
    """PNG photos of the given (height, width), named STEM0.png, STEM1.png, ..."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, (height, width) in enumerate(sizes):
        Image.fromarray(make_photo(height, width, seed=index)).save(folder / f"{stem}{index}.png")
    return folder


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """Three RGB PNGs: two landscape, one portrait, none a multiple of 64 in size."""
    return make_image_folder(tmp_path / "images", [(48, 80), (70, 52), (40, 40)])


def run_once(dataset: Path, out: Path, **settings) -> Path:
    """A finished run (on the CPU, no progress bar) of ``settings``; its folder."""
    from rdpbench.run import RunSettings, evaluate

    settings.setdefault("device", "cpu")
    return evaluate(RunSettings(dataset=str(dataset), out=out, **settings), progress=False)


def invoke(*args):
    """``rdpbench ARGS`` in this process, through the same argument handling as the console
    command (``--quality 10 50`` included); the typer result (exit_code, output)."""
    from typer.testing import CliRunner

    from rdpbench.cli import app, expand_multi_value_options

    return CliRunner().invoke(app, expand_multi_value_options([str(arg) for arg in args]))


def subprocess_env(**extra) -> dict:
    """The environment of a test's subprocesses: the plug-in codecs of tests/ importable,
    one thread each (they run beside the test process), plus ``extra``."""
    return {**os.environ, "PYTHONPATH": str(Path(__file__).parent), "OMP_NUM_THREADS": "1",
            **{key: str(value) for key, value in extra.items()}}


def rdpbench_process(*args) -> list[str]:
    """The command line of ``rdpbench ARGS`` in a fresh Python process."""
    return [sys.executable, "-m", "rdpbench", *map(str, args)]


@pytest.fixture
def torch_home(tmp_path: Path, monkeypatch) -> Path:
    """An empty TORCH_HOME, so weight lookups see only what the test puts there."""
    home = tmp_path / "torch_home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    return home


@pytest.fixture
def msh_weights(torch_home: Path) -> Path:
    """A seeded random mbt2018-mean quality-1 checkpoint, saved where CompressAI's loader
    looks for the published one (with entropy-coder tables, as published files have)."""
    from compressai.zoo import mbt2018_mean

    from rdpbench.weights import compressai_weight_file

    torch.manual_seed(0)
    model = mbt2018_mean(quality=1, pretrained=False).eval()
    model.update(force=True)
    path = compressai_weight_file("mbt2018-mean", 1).path
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return path


def _kaiming(model: torch.nn.Module) -> torch.nn.Module:
    """Variance-preserving random convolutions, so deep random features keep a usable scale."""
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    return model


def build_metric_weights(home: Path) -> None:
    """Seeded random weights of the right architectures for every registered metric, and for
    ``pyiqa:wadiqam_nr``, saved under ``home`` exactly where the loaders look (torchvision,
    torch-fidelity, pyiqa, lpips)."""
    from unittest import mock

    import scipy.io
    import torchvision
    from pyiqa.archs.dbcnn_arch import DBCNN, SCNN
    from pyiqa.archs.dists_arch import DISTS
    from pyiqa.archs.musiq_arch import MUSIQ
    from pyiqa.archs.wadiqam_arch import WaDIQaM
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    from rdpbench.weights import weight_files

    def place(file_name: str) -> Path:
        relative = weight_files()[file_name].path.relative_to(torch.hub.get_dir())
        path = home / "hub" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    torch.manual_seed(0)
    torch.save(torchvision.models.alexnet().state_dict(), place("alexnet-owt-7be5be79.pth"))
    torch.save(torchvision.models.vgg16().state_dict(), place("vgg16-397923af.pth"))
    # torch-fidelity's Inception loads a file in its constructor: build it around an empty one.
    with mock.patch.object(torch.nn.Module, "load_state_dict"), mock.patch("torch.load", return_value={}):
        inception = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], "unused")
    torch.save(_kaiming(inception).state_dict(), place("weights-inception-2015-12-05-6726825d.pth"))
    with mock.patch("pyiqa.archs.inception.load_pretrained_network"):
        from pyiqa.archs.inception import fid_inception_v3

        torch.save(_kaiming(fid_inception_v3()).state_dict(), place("pt_inception-2015-12-05-6726825d.pth"))
    torch.save(tiny_dinov2().state_dict(), place("dinov2_vitl14_pretrain.pth"))
    torch.save(MUSIQ(pretrained=False).state_dict(), place("musiq_koniq_ckpt-e95806b9.pth"))
    torch.save(SCNN().state_dict(), place("DBCNN_scnn-7ea73d75.pth"))
    with mock.patch.dict("os.environ", {"TORCH_HOME": str(home)}):
        import pyiqa.utils.download_util as download_util

        with mock.patch.object(download_util, "DEFAULT_CACHE_DIR", str(home / "hub" / "pyiqa")):
            dbcnn = DBCNN(pretrained=False)
            dists = DISTS(pretrained=False)  # VGG-16 from the file above
    torch.save({"params": dbcnn.state_dict()}, place("DBCNN_KonIQ10k-2de81c0a.pth"))
    torch.save({"alpha": dists.alpha.detach(), "beta": dists.beta.detach()}, place("DISTS_weights-f5e65c96.pth"))
    # a metric reached only by name (pyiqa:wadiqam_nr): its file where pyiqa's loader looks
    (home / "hub" / "pyiqa").mkdir(parents=True, exist_ok=True)
    torch.save({"params": WaDIQaM(metric_type="NR", pretrained=False).state_dict()},
               home / "hub" / "pyiqa" / "WaDIQaM-NR-koniq-aaffea29.pth")
    rng = np.random.default_rng(0)
    factor = rng.normal(size=(36, 36))
    scipy.io.savemat(
        place("niqe_modelparameters.mat"),
        {"mu_prisparam": rng.normal(size=(1, 36)), "cov_prisparam": factor @ factor.T / 36 + np.eye(36)},
    )


def tiny_dinov2() -> torch.nn.Module:
    """A seeded random DINOv2 ViT with the checkpoint's key layout, small enough for tests: width
    128 (2 heads), 2 blocks, patch 14, trained on a 5 x 5 grid (so 224 pixels interpolate the
    position embeddings, as the real 37 x 37 grid does)."""
    from rdpbench.networks.dinov2 import DinoV2ViT

    torch.manual_seed(0)
    network = DinoV2ViT(dim=128, depth=2, patch_size=14, hidden=256, trained_grid=5)
    with torch.no_grad():
        for name, parameter in network.named_parameters():
            if name.endswith(("cls_token", "pos_embed", "gamma")):
                parameter.normal_(0, 0.5)
    return network


@pytest.fixture(scope="session")
def metric_weights_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("metric_torch_home")
    build_metric_weights(home)
    return home


@pytest.fixture
def metric_weights(metric_weights_home: Path, monkeypatch, tmp_path) -> Path:
    """TORCH_HOME holding test-built weights of every metric, and an empty rdpbench cache."""
    monkeypatch.setenv("TORCH_HOME", str(metric_weights_home))
    monkeypatch.setenv("RDPBENCH_CACHE", str(tmp_path / "rdpbench_cache"))
    return metric_weights_home


def gaussian_cdf(x: torch.Tensor) -> torch.Tensor:
    """The standard normal CDF through erfc, exact in the far tails (as the codecs compute it)."""
    return 0.5 * torch.erfc(-x / 2**0.5)


def box_likelihood(values: torch.Tensor, means: torch.Tensor, scales: torch.Tensor, scale_bound: float,
                   cdf=gaussian_cdf) -> torch.Tensor:
    """p(values) under a mean-scale density integrated over the unit box around each value,
    the scales bounded below, floored at 1e-9: the latent likelihood of every learned codec here."""
    scales, centred = scales.clamp(min=scale_bound), (values - means).abs()
    return (cdf((0.5 - centred) / scales) - cdf((-0.5 - centred) / scales)).clamp(min=1e-9)


def golden_script(name: str):
    """A script of scripts/ that made golden values in tests/data with upstream code; the tests
    take its weight-filling rule and inputs from it, so both sides agree by construction."""
    import importlib.util

    path = Path(__file__).parents[1] / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_latent_sum(y_hat, expected: float) -> None:
    """A sum over quantized latents (symbol + predicted mean) equals upstream's.

    One symbol that differs moves the sum by exactly 1, while float32 differences between CPU
    kernels move the predicted means by about 1e-7 each (measured: 2e-3 over HiFiC's 14,080
    latents of the golden image). An absolute tolerance of 0.05 tells the two apart."""
    assert y_hat == pytest.approx(expected, abs=0.05)


class CallOnLoad:
    """An object whose unpickling calls ``function(*arguments)``: what a hostile checkpoint
    holds to run code when it is read."""

    def __init__(self, function, *arguments):
        self.function, self.arguments = function, arguments

    def __reduce__(self):
        return self.function, self.arguments
