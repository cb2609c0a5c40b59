import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from rdpbench.errors import ImageError, RdpbenchError
from rdpbench import run


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
    settings = run.RunSettings(
        codec=f"folder:{reconstructions}", dataset=str(image_folder), out=tmp_path / "out"
    )
    for key, value in overrides.items():
        setattr(settings, key, value)
    folder = run.evaluate(settings, progress=False)
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


@pytest.mark.parametrize("value", ["-0.5", "0", "nan", "inf", "fast", ""])
def test_a_rate_that_cannot_be_is_refused_with_file_line_and_value(image_folder, reconstructions, tmp_path, value):
    (reconstructions / "rates.csv").write_text(f"image,bpp\nimg0,0.5\nimg1,{value}\nimg2,0.125\n")
    with pytest.raises(RdpbenchError) as raised:
        evaluate(image_folder, reconstructions, tmp_path)
    assert f"rates.csv, line 3: bpp {value!r} of img1 is not a rate" in str(raised.value)
    assert not (tmp_path / "out").exists()


def test_a_second_rate_for_one_image_is_refused(image_folder, reconstructions, tmp_path):
    (reconstructions / "rates.csv").write_text("image,bpp\nimg0,0.5\nimg1,0.2\nimg0.png,0.3\n")
    with pytest.raises(RdpbenchError, match="line 4: a second rate for img0"):
        evaluate(image_folder, reconstructions, tmp_path)


def test_an_empty_bitstream_file_is_refused(image_folder, reconstructions, tmp_path):
    for path in reconstructions.glob("*.png"):
        path.with_suffix(".bin").write_bytes(b"x" * 10)
    (reconstructions / "img2.bin").write_bytes(b"")
    with pytest.raises(ImageError, match="img2.bin: empty bitstream file"):
        evaluate(image_folder, reconstructions, tmp_path)


def test_images_without_a_rate_are_named(image_folder, reconstructions, tmp_path):
    (reconstructions / "rates.csv").write_text("image,bpp\nimg1,0.25\n")
    images = evaluate(image_folder, reconstructions, tmp_path)
    assert images.bpp.isna().tolist() == [True, False, True]
    manifest = json.loads((tmp_path / "out" / "folder_recon-images" / "run.json").read_text())
    assert any("no rate for img0, img2" in note for note in manifest["notes"])


def test_a_truncated_reconstruction_is_found_before_any_output(image_folder, reconstructions, tmp_path):
    data = (reconstructions / "img1.png").read_bytes()
    (reconstructions / "img1.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="img1.png: not a readable image"):
        evaluate(image_folder, reconstructions, tmp_path)
    assert not (tmp_path / "out").exists()


def test_a_lossless_reconstruction_has_a_finite_psnr_and_valid_json(image_folder, tmp_path):
    images = evaluate(image_folder, image_folder, tmp_path)
    assert (images.psnr == 80.0).all()

    def refuse(constant):
        raise ValueError(f"non-standard JSON token {constant}")

    folder = tmp_path / "out" / "folder_images-images"
    exported = json.loads((folder / "compressai-default.json").read_text(), parse_constant=refuse)
    assert exported["results"]["psnr-rgb"] == [80.0]
    json.loads((folder / "run.json").read_text(), parse_constant=refuse)


def test_rates_csv_from_a_spreadsheet_is_read(image_folder, reconstructions, tmp_path):
    """A byte-order mark, spaces after commas and around names are a spreadsheet's habits."""
    (reconstructions / "rates.csv").write_bytes("\ufeffimage, bpp\n img0 , 0.5\nimg1,0.25\nimg2, 0.125\n".encode())
    images = evaluate(image_folder, reconstructions, tmp_path)
    assert images.bpp.tolist() == [0.5, 0.25, 0.125]


def test_rates_csv_that_is_not_utf8_is_named(image_folder, reconstructions, tmp_path):
    (reconstructions / "rates.csv").write_bytes("image,bpp\nimg\xe9,0.5\n".encode("latin-1"))
    with pytest.raises(RdpbenchError, match="rates.csv: not UTF-8 text"):
        evaluate(image_folder, reconstructions, tmp_path)


def test_two_reconstructions_of_one_image_are_refused(image_folder, reconstructions, tmp_path):
    Image.open(reconstructions / "img0.png").save(reconstructions / "img0.jpg")
    with pytest.raises(ImageError, match="both claim to reconstruct 'img0'"):
        evaluate(image_folder, reconstructions, tmp_path)
