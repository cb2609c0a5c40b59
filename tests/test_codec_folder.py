import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from rdpbench.errors import ImageError
from rdpbench.runner import Run, RunSettings


@pytest.fixture
def reconstructions(image_folder, tmp_path):
    """A 'codec output' folder: every original with its red channel lowered by 4."""
    folder = tmp_path / "recon"
    folder.mkdir()
    for path in image_folder.iterdir():
        pixels = np.asarray(Image.open(path)).copy()
        pixels[..., 0] = np.clip(pixels[..., 0].astype(int) - 4, 0, 255)
        Image.fromarray(pixels).save(folder / path.name)
    return folder


def evaluate(image_folder, reconstructions, tmp_path, **overrides):
    settings = RunSettings(
        codec=f"folder:{reconstructions}", dataset=str(image_folder), out=tmp_path / "out"
    )
    for key, value in overrides.items():
        setattr(settings, key, value)
    folder = Run(settings).execute(progress=False)
    return pd.read_csv(folder / "images.csv", dtype={"quality": str}).set_index("image")


def test_rate_comes_from_bin_files(image_folder, reconstructions, tmp_path):
    for index, path in enumerate(sorted(reconstructions.glob("*.png"))):
        path.with_suffix(".bin").write_bytes(b"x" * (100 + index))
    images = evaluate(image_folder, reconstructions, tmp_path)
    assert images.loc["img0", "bytes"] == 100
    assert images.loc["img1", "bpp"] == pytest.approx(8 * 101 / (70 * 52))


def test_rate_comes_from_rates_csv_when_no_bin_files(image_folder, reconstructions, tmp_path):
    (reconstructions / "rates.csv").write_text("image,bpp\nimg0.png,0.5\nimg1,0.25\nimg2,0.125\n")
    images = evaluate(image_folder, reconstructions, tmp_path, points=["2"])
    assert images.loc["img1", "bpp"] == 0.25
    assert set(images.quality) == {"2"}


def test_no_rate_leaves_bpp_empty_says_so_and_still_scores(image_folder, reconstructions, tmp_path):
    images = evaluate(image_folder, reconstructions, tmp_path)
    assert images.bpp.isna().all()
    assert images.psnr.notna().all()
    manifest = json.loads((tmp_path / "out" / "folder_recon-images" / "run.json").read_text())
    assert any("bpp is left empty" in note for note in manifest["notes"])


def test_scores_match_the_known_difference(image_folder, reconstructions, tmp_path):
    images = evaluate(image_folder, reconstructions, tmp_path)
    original = np.asarray(Image.open(image_folder / "img2.png")).astype(float)
    recon = np.asarray(Image.open(reconstructions / "img2.png")).astype(float)
    mse = np.mean((original - recon) ** 2)
    assert images.loc["img2", "psnr"] == pytest.approx(10 * np.log10(255**2 / mse))


def test_missing_reconstruction_is_named_before_any_output(image_folder, reconstructions, tmp_path):
    (reconstructions / "img1.png").unlink()
    with pytest.raises(ImageError, match="img1"):
        evaluate(image_folder, reconstructions, tmp_path)
    assert not (tmp_path / "out").exists()


def test_reconstruction_of_another_size_is_named(image_folder, reconstructions, tmp_path):
    Image.new("RGB", (10, 10)).save(reconstructions / "img0.png")
    with pytest.raises(ImageError, match="img0.png.*10x10"):
        evaluate(image_folder, reconstructions, tmp_path)
