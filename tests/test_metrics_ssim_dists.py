"""SSIM, MS-SSIM (and its dB form) and DISTS against the code they follow: CompressAI's own
evaluation function, pytorch_msssim and pyiqa called directly."""

import io
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from rdpbench.metrics import get_metric

from conftest import make_image_folder, photo_tensor, run_once


def jpeg_coded(image: torch.Tensor, quality: int) -> torch.Tensor:
    """``image`` after a JPEG round trip: the kind of distortion the metrics are used on."""
    buffer = io.BytesIO()
    Image.fromarray(image.permute(1, 2, 0).numpy()).save(buffer, "JPEG", quality=quality)
    decoded = np.asarray(Image.open(buffer).convert("RGB"))
    return torch.from_numpy(decoded.copy()).permute(2, 0, 1).contiguous()


def prepared(name: str):
    metric = get_metric(name)
    metric.prepare()
    return metric


@pytest.mark.parametrize("quality", [5, 40])
def test_ms_ssim_is_compressais_ms_ssim_rgb(quality):
    from compressai.utils.eval_model.__main__ import compute_metrics

    reference = photo_tensor(176, 208, seed=1)
    decoded = jpeg_coded(reference, quality)
    # CompressAI's evaluation takes float images in [0, 1]
    published = compute_metrics(reference[None] / 255.0, decoded[None] / 255.0)["ms-ssim-rgb"]
    value = get_metric("ms_ssim").score(reference, decoded)
    assert value == pytest.approx(published, abs=1e-7)
    assert 0 < value < 1


def test_ssim_is_pytorch_msssims_on_rgb_values_and_one_for_identical_images():
    from pytorch_msssim import ssim

    reference = photo_tensor(48, 64, seed=2)
    decoded = jpeg_coded(reference, 20)
    direct = ssim(reference[None].float(), decoded[None].float(), data_range=255).item()
    metric = get_metric("ssim")
    assert metric.score(reference, decoded) == pytest.approx(direct, abs=1e-7)
    assert metric.score(reference, reference.clone()) == pytest.approx(1.0, abs=1e-6)
    assert metric.score(reference, decoded) < 1


def test_ms_ssim_db_of_a_rate_point_is_the_db_of_its_mean_ms_ssim(tmp_path):
    from rdpbench.report import arrow

    images = make_image_folder(tmp_path / "images", [(176, 180), (170, 200)])
    folder = run_once(images, tmp_path / "out", codec="jpeg", points=["10", "60"], metrics="ms_ssim_db")
    per_image = pd.read_csv(folder / "images.csv")
    points = pd.read_csv(folder / "points.csv", dtype={"quality": str})
    assert "ms_ssim_db" not in per_image
    assert list(points.columns[points.columns.get_loc("ms_ssim"):][:2]) == ["ms_ssim", "ms_ssim_db"]
    for quality, group in per_image.groupby(per_image.quality.astype(str)):
        row = points.set_index("quality").loc[quality]
        assert row.ms_ssim_db == pytest.approx(-10 * math.log10(1 - group.ms_ssim.mean()), rel=1e-9)
    assert points.ms_ssim_db.is_monotonic_increasing  # a higher JPEG quality scores higher
    manifest = json.loads((folder / "run.json").read_text())
    assert manifest["metrics"] == ["ms_ssim", "ms_ssim_db"]
    assert "mean of ms_ssim" in manifest["metric_protocol"]["variants"]["ms_ssim_db"]["m"]
    assert manifest["metric_protocol"]["variants"]["ms_ssim"]["data_range"] == 255
    exported = json.loads((folder / "compressai-default.json").read_text())
    assert exported["results"]["ms-ssim-rgb"] == pytest.approx(list(points.ms_ssim))
    assert arrow("ms_ssim_db") == arrow("ms_ssim") == "↑"


def test_published_compressai_curves_are_read_with_ms_ssim_in_db(tmp_path):
    from rdpbench.results import read_compressai_json

    path = tmp_path / "bmshj2018-factorized.json"
    path.write_text(json.dumps({"name": "bmshj2018-factorized",
                                "results": {"bpp": [0.2, 0.5], "psnr-rgb": [28.0, 32.0], "ms-ssim-rgb": [0.9, 0.99]}}))
    frame = read_compressai_json(path)
    assert frame.ms_ssim.tolist() == [0.9, 0.99]
    assert frame.ms_ssim_db.tolist() == pytest.approx([10.0, 20.0], rel=1e-12)


def test_a_lossless_rate_point_has_an_infinite_ms_ssim_db():
    assert get_metric("ms_ssim_db").from_mean(1.0) == math.inf
    assert get_metric("ms_ssim_db").from_mean(0.9) == pytest.approx(10.0)


def test_dists_equals_pyiqas_dists_with_the_same_files(metric_weights):
    import pyiqa

    from rdpbench.weights import get_weight_file

    reference = photo_tensor(64, 80, seed=3)
    decoded = jpeg_coded(reference, 10)
    direct = pyiqa.create_metric("dists", device="cpu",
                                 pretrained_model_path=str(get_weight_file("DISTS_weights-f5e65c96.pth").path))
    expected = direct(decoded[None] / 255.0, reference[None] / 255.0).item()
    metric = prepared("dists")
    assert metric.score(reference, decoded) == pytest.approx(expected, rel=1e-6)
    # DISTS compares the two images' features: 1 - (sum alpha + sum beta) / (sum alpha + sum beta)
    assert metric.score(reference, reference.clone()) == pytest.approx(0.0, abs=1e-6)
    assert metric.score(reference, decoded) > 1e-4


def test_dists_names_its_weight_files_and_its_variant(torch_home):
    from rdpbench.errors import MissingWeightsError

    with pytest.raises(MissingWeightsError) as error:
        prepared("dists")
    assert "DISTS_weights-f5e65c96.pth" in str(error.value) and "vgg16-397923af.pth" in str(error.value)
    variant = get_metric("dists").variant()
    assert variant["pyiqa_name"] == "dists" and variant["weights"] == "DISTS_weights-f5e65c96.pth"
