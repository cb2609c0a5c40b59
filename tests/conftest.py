"""Shared fixtures: small generated images and a temporary weights cache.

Nothing here reads outside the test's temporary folders or needs the internet.
"""

from __future__ import annotations

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


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """Three RGB PNGs: two landscape, one portrait, none a multiple of 64 in size."""
    folder = tmp_path / "images"
    folder.mkdir()
    for index, (height, width) in enumerate([(48, 80), (70, 52), (40, 40)]):
        Image.fromarray(make_photo(height, width, seed=index)).save(folder / f"img{index}.png")
    return folder


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
