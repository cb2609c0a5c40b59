"""Runs with every metric, on test-built weights."""

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from rdpbench.errors import MissingWeightsError, RdpbenchError
from rdpbench.metrics import list_metrics
from rdpbench.run import RunSettings, evaluate

from conftest import make_photo


@pytest.fixture
def large_images(tmp_path):
    """Three images big enough for 256x256 patches (one per image on the plain grid)."""
    folder = tmp_path / "large"
    folder.mkdir()
    for index in range(3):
        Image.fromarray(make_photo(256, 384, seed=10 + index)).save(folder / f"big{index}.png")
    return folder


def run(images, out, **overrides):
    settings = RunSettings(codec="jpeg", points=["20"], dataset=str(images), out=out, metrics="all")
    for key, value in overrides.items():
        setattr(settings, key, value)
    return evaluate(settings, progress=False)


def test_all_metrics_write_every_column(large_images, tmp_path, metric_weights):
    folder = run(large_images, tmp_path / "out")
    images = pd.read_csv(folder / "images.csv")
    points = pd.read_csv(folder / "points.csv")
    per_image = ["dbcnn", "dists", "gmsd", "lpips", "ms_ssim", "musiq", "niqe", "nlpd", "psnr", "ssim"]
    assert list(images.columns[9:-2]) == per_image
    assert images[per_image].notna().all().all()
    assert list(points.columns[-4:]) == ["fd_dinov2", "fid", "kid", "kid_paired"]
    assert points[["fd_dinov2", "fid", "kid", "kid_paired", "ms_ssim_db"]].notna().all().all()
    manifest = json.loads((folder / "run.json").read_text())
    patches = manifest["metric_protocol"]["patches"]
    assert patches["patch_protocol"] == "hific" and patches["n_patches"] == 3
    assert "rank-deficient" in patches["warning"]
    assert sorted(manifest["metrics"]) == list_metrics()


def test_reference_features_are_computed_once_per_dataset(large_images, tmp_path, metric_weights):
    first = run(large_images, tmp_path / "out", metrics="fid", points=["20"])
    second = run(large_images, tmp_path / "out", metrics="fid,kid", codec="webp", points=["30"])
    computed = [
        json.loads((f / "run.json").read_text())["metric_protocol"]["reference_cache"]["computed_now"]
        for f in (first, second)
    ]
    assert computed == [3, 0]


def test_grid_protocol_is_recorded(large_images, tmp_path, metric_weights):
    folder = run(large_images, tmp_path / "out", metrics="fid", patch_protocol="grid")
    manifest = json.loads((folder / "run.json").read_text())
    assert manifest["metric_protocol"]["patches"]["patch_protocol"] == "grid"


def test_fid_of_a_lossless_copy_is_zero(large_images, tmp_path, metric_weights):
    folder = run(large_images, tmp_path / "out", metrics="fid,psnr", codec=f"folder:{large_images}")
    points = pd.read_csv(folder / "points.csv")
    assert points.fid.iloc[0] == pytest.approx(0, abs=1e-6)


def test_missing_weights_are_all_named_and_nothing_is_written(large_images, tmp_path, torch_home):
    with pytest.raises(MissingWeightsError) as error:
        run(large_images, tmp_path / "out")
    for file_name in ["alexnet-owt-7be5be79.pth", "vgg16-397923af.pth", "DBCNN_scnn-7ea73d75.pth", "DISTS_weights-f5e65c96.pth",
                      "DBCNN_KonIQ10k-2de81c0a.pth", "musiq_koniq_ckpt-e95806b9.pth",
                      "niqe_modelparameters.mat", "weights-inception-2015-12-05-6726825d.pth"]:
        assert file_name in str(error.value)
    assert not (tmp_path / "out").exists()


def test_fid_on_images_too_small_for_patches_is_refused(image_folder, tmp_path, metric_weights):
    with pytest.raises(RdpbenchError, match="at least 2 patches"):
        run(image_folder, tmp_path / "out", metrics="fid")


def test_run_json_and_report_name_each_metrics_exact_variant(image_folder, tmp_path, metric_weights):
    from rdpbench.report import write_report

    settings = RunSettings(codec="jpeg", points=["10", "50"], dataset=str(image_folder), out=tmp_path,
                           metrics="psnr,lpips,gmsd")
    folder = evaluate(settings, progress=False)
    variants = json.loads((folder / "run.json").read_text())["metric_protocol"]["variants"]
    assert variants["psnr"]["cap_db"] == 80.0
    assert (variants["lpips"]["net"], variants["lpips"]["version"]) == ("alex", "0.1")
    assert variants["gmsd"]["options"] == {"type": "GMSD", "test_y_channel": True}
    report = write_report(tmp_path, anchor="jpeg")[0].read_text()
    assert "- **gmsd**: `{\"implementation\": \"pyiqa" in report


def test_report_flags_a_metric_whose_runs_used_different_variants(tmp_path):
    from results_factory import make_results

    from rdpbench.report import write_report

    results = make_results(tmp_path)
    for run, cap in (("msh-kodak", 80.0), ("jpeg-kodak", 100.0)):
        manifest = json.loads((results / run / "run.json").read_text())
        manifest["metric_protocol"] = {"variants": {"psnr": {"cap_db": cap}}}
        (results / run / "run.json").write_text(json.dumps(manifest))
    report = write_report(results)[0].read_text()
    assert "**psnr**: NOT COMPARABLE, the runs used 2 variants" in report


def test_paper_protocol_fid_equals_pyiqas_folder_fid_on_the_authors_patches(tmp_path, metric_weights):
    """The seed paper's FID: portrait images transposed (not rotated), the unshifted 256 grid,
    patches written as PNG folders and scored by pyiqa's FID. rdpbench computes the same in
    memory; the patches here are cut independently, as the authors' script cuts them."""
    import torch
    from pyiqa.archs.fid_arch import FID

    originals, decoded = tmp_path / "originals", tmp_path / "decoded"
    originals.mkdir()
    decoded.mkdir()
    rng = np.random.default_rng(3)
    for index, (height, width) in enumerate([(256, 512), (512, 256), (300, 300)]):
        pixels = make_photo(height, width, seed=index)
        noisy = np.clip(pixels + rng.normal(0, 12, pixels.shape), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(originals / f"im{index}.png")
        Image.fromarray(noisy).save(decoded / f"im{index}.png")

    settings = RunSettings(codec=f"folder:{decoded}", dataset=str(originals), out=tmp_path / "out",
                           metrics="fid", patch_protocol="paper")
    folder = evaluate(settings, progress=False)
    ours = pd.read_csv(folder / "points.csv").fid.item()
    manifest = json.loads((folder / "run.json").read_text())
    assert manifest["metric_protocol"]["patches"]["n_patches"] == 2 + 2 + 1

    patch_folders = {}
    for source in (originals, decoded):
        target = tmp_path / f"{source.name}_patches"
        target.mkdir()
        count = 0
        for path in sorted(source.glob("*.png")):
            image = np.asarray(Image.open(path))
            if image.shape[0] > image.shape[1]:
                image = image.transpose(1, 0, 2)  # the authors' permute(0, 1, 3, 2)
            for top in range(0, image.shape[0] - 255, 256):
                for left in range(0, image.shape[1] - 255, 256):
                    Image.fromarray(image[top:top + 256, left:left + 256]).save(target / f"{count}.png")
                    count += 1
        patch_folders[source.name] = target
    reference = FID()(str(patch_folders["decoded"]), str(patch_folders["originals"]),
                      device=torch.device("cpu"), num_workers=0, verbose=False)
    assert ours == pytest.approx(max(float(reference), 0.0), rel=1e-6)
