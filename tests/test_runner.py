import io
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from rdpbench.errors import ImageError, MissingWeightsError, RdpbenchError, UnknownNameError
from rdpbench.results import read_compressai_json
from rdpbench.schema import image_columns
from rdpbench.run import RunSettings, evaluate, image_seed

TESTS = Path(__file__).parent


def run(image_folder, out, **overrides):
    settings = RunSettings(codec="jpeg", points=["10", "50"], dataset=str(image_folder), out=out)
    for key, value in overrides.items():
        setattr(settings, key, value)
    return evaluate(settings, progress=False)


def independent_jpeg(path: Path, quality: int) -> tuple[float, float]:
    """bpp and PSNR of Pillow's JPEG with numpy only: the numbers rdpbench must reproduce."""
    original = np.asarray(Image.open(path).convert("RGB"))
    buffer = io.BytesIO()
    Image.fromarray(original).save(buffer, format="JPEG", quality=quality)
    decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
    height, width = original.shape[:2]
    mse = np.mean((original.astype(np.float64) - decoded.astype(np.float64)) ** 2)
    return 8 * len(buffer.getvalue()) / (height * width), 10 * math.log10(255**2 / mse)


def test_jpeg_bpp_and_psnr_agree_with_pillow_and_numpy(image_folder, tmp_path):
    folder = run(image_folder, tmp_path / "results")
    images = pd.read_csv(folder / "images.csv", dtype={"quality": str})
    assert len(images) == 6
    for row in images.itertuples():
        bpp, psnr = independent_jpeg(image_folder / f"{row.image}.png", int(row.quality))
        # container header: magic 4, version 1, "jpeg" 1+4, quality 1+2, height 1, width 1
        header_bits = 8 * (4 + 1 + 5 + 1 + len(row.quality) + 1 + 1)
        assert row.bpp == pytest.approx(bpp + header_bits / (row.height * row.width), rel=1e-12)
        assert row.psnr == pytest.approx(psnr, rel=1e-12)


def test_run_writes_images_points_and_manifest(image_folder, tmp_path):
    folder = run(image_folder, tmp_path / "results")
    assert folder == tmp_path / "results" / "jpeg-images"
    images = pd.read_csv(folder / "images.csv", dtype={"quality": str})
    assert list(images.columns) == image_columns(["psnr"])
    assert len(images) == 2 * 3
    points = pd.read_csv(folder / "points.csv", dtype={"quality": str})
    assert list(points.columns[:7]) == ["codec", "quality", "sampler", "n_images", "bpp", "bpp_est", "psnr"]
    assert images.bpp_est.isna().all() and points.bpp_est.isna().all()  # JPEG has no likelihood model
    for point in points.itertuples():
        subset = images[images.quality == point.quality]
        assert point.n_images == 3
        assert point.bpp == pytest.approx(subset.bpp.mean())
        assert point.psnr == pytest.approx(subset.psnr.mean())
    manifest = json.loads((folder / "run.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["schema_version"] == 1
    assert manifest["dataset"]["n_images"] == 3
    assert len(manifest["dataset"]["content_sha256"]) == 64
    assert manifest["versions"]["torch"] and manifest["device"]["device"] == "cpu"


def test_compressai_json_export_reads_back_as_the_same_points(image_folder, tmp_path):
    folder = run(image_folder, tmp_path / "results")
    points = pd.read_csv(folder / "points.csv", dtype={"quality": str})
    exported = json.loads((folder / "compressai-default.json").read_text())
    assert exported["results"]["psnr-rgb"] == pytest.approx(list(points.psnr))
    imported = read_compressai_json(folder / "compressai-default.json")
    assert list(imported.quality) == list(points.quality)
    assert list(imported.bpp) == pytest.approx(list(points.bpp))
    assert list(imported.psnr) == pytest.approx(list(points.psnr))


def test_rerun_recomputes_nothing(image_folder, tmp_path, monkeypatch):
    count_file = tmp_path / "count"
    monkeypatch.setenv("COUNT_FILE", str(count_file))
    settings = dict(codec="plugin_codecs:CountingJpeg", name="counting")
    run(image_folder, tmp_path / "results", **settings)
    first = (tmp_path / "results" / "counting" / "images.csv").read_text()
    assert count_file.read_text().count("encode") == 6
    run(image_folder, tmp_path / "results", **settings)
    assert count_file.read_text().count("encode") == 6
    assert (tmp_path / "results" / "counting" / "images.csv").read_text() == first


def test_adding_a_rate_point_computes_only_that_point(image_folder, tmp_path, monkeypatch):
    count_file = tmp_path / "count"
    monkeypatch.setenv("COUNT_FILE", str(count_file))
    settings = dict(codec="plugin_codecs:CountingJpeg", name="counting")
    run(image_folder, tmp_path / "results", points=["10"], **settings)
    run(image_folder, tmp_path / "results", points=["10", "20"], **settings)
    assert count_file.read_text().count("encode") == 6
    images = pd.read_csv(tmp_path / "results" / "counting" / "images.csv", dtype={"quality": str})
    assert sorted(set(images.quality)) == ["10", "20"]


def test_resuming_with_another_dataset_is_refused(image_folder, tmp_path):
    run(image_folder, tmp_path / "results", name="same")
    Image.new("RGB", (20, 20), "red").save(image_folder / "img0.png")
    with pytest.raises(RdpbenchError, match="different dataset"):
        run(image_folder, tmp_path / "results", name="same")


@pytest.mark.subprocess
def test_kill_9_loses_at_most_the_image_in_flight(image_folder, tmp_path):
    for index in range(3, 8):
        Image.open(image_folder / "img0.png").save(image_folder / f"img{index}.png")
    out = tmp_path / "results"
    command = [sys.executable, "-m", "rdpbench", "run", "--codec", "plugin_codecs:SlowJpeg",
               "--quality", "30", "--dataset", str(image_folder), "--out", str(out),
               "--name", "slow", "--no-progress", "--device", "cpu"]
    env = {**os.environ, "PYTHONPATH": str(TESTS), "SLOW_SECONDS": "0.4",
           "COUNT_FILE": str(tmp_path / "count")}
    process = subprocess.Popen(command, env=env)
    images_csv = out / "slow" / "images.csv"
    deadline = time.time() + 120
    while time.time() < deadline:
        if images_csv.exists() and len(pd.read_csv(images_csv)) >= 3:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    partial = pd.read_csv(images_csv)  # parses: the file is never half-written
    assert 3 <= len(partial) < 8
    encodes_before = (tmp_path / "count").read_text().count("encode")
    assert encodes_before <= len(partial) + 1  # at most the image in flight is lost
    subprocess.run(command, env=env, check=True, timeout=300)
    final = pd.read_csv(images_csv)
    assert len(final) == 8
    encodes_after = (tmp_path / "count").read_text().count("encode")
    assert encodes_after - encodes_before == 8 - len(partial)
    kept = final.set_index("image").loc[partial.image, "encode_s"]
    assert list(kept) == list(partial.encode_s)


def test_corrupt_image_stops_the_run_before_any_row(image_folder, tmp_path):
    (image_folder / "img9.png").write_bytes(b"garbage")
    with pytest.raises(ImageError, match="img9.png"):
        run(image_folder, tmp_path / "results")
    assert not (tmp_path / "results").exists()


def test_image_below_the_codecs_minimum_is_named(image_folder, tmp_path):
    with pytest.raises(ImageError, match="img2.*40x40"):
        run(image_folder, tmp_path / "results", codec="plugin_codecs:WideOnlyJpeg")
    assert not (tmp_path / "results").exists()


def test_missing_weights_stop_the_run_before_any_output(image_folder, tmp_path, torch_home):
    with pytest.raises(MissingWeightsError, match="mbt2018-mean-1"):
        run(image_folder, tmp_path / "results", codec="msh", points=["1"])
    assert not (tmp_path / "results").exists()


def test_unknown_sampler_lists_the_valid_ones(image_folder, tmp_path):
    with pytest.raises(UnknownNameError, match="valid jpeg samplers: default"):
        run(image_folder, tmp_path / "results", samplers=["ddim10"])


def test_conversions_are_recorded_in_the_manifest(image_folder, tmp_path):
    Image.open(image_folder / "img0.png").convert("L").save(image_folder / "img0.png")
    folder = run(image_folder, tmp_path / "results")
    manifest = json.loads((folder / "run.json").read_text())
    assert "grayscale" in manifest["dataset"]["conversions"]["img0"]


def test_msh_run_records_weight_hash_and_that_it_is_not_upstreams(
    image_folder, tmp_path, msh_weights
):
    folder = run(image_folder, tmp_path / "results", codec="msh", points=["1"])
    manifest = json.loads((folder / "run.json").read_text())
    [weight] = manifest["weights"]
    assert weight["file"] == msh_weights.name
    assert weight["matches_upstream"] is False
    images = pd.read_csv(folder / "images.csv")
    assert np.allclose(images.bytes * 8 / (images.height * images.width), images.bpp, rtol=1e-12)


def test_image_seed_depends_on_seed_and_name_only():
    assert image_seed(0, "kodim01") == image_seed(0, "kodim01")
    assert image_seed(0, "kodim01") != image_seed(1, "kodim01")
    assert image_seed(0, "kodim01") != image_seed(0, "kodim02")


def test_out_that_is_a_file_is_refused_before_any_work(image_folder, tmp_path, monkeypatch):
    count_file = tmp_path / "count"
    monkeypatch.setenv("COUNT_FILE", str(count_file))
    (tmp_path / "taken").write_text("a file")
    with pytest.raises(RdpbenchError, match="taken is a file, not a folder"):
        run(image_folder, tmp_path / "taken", codec="plugin_codecs:CountingJpeg")
    with pytest.raises(RdpbenchError, match="taken is a file, not a folder"):
        run(image_folder, tmp_path / "taken" / "deeper", codec="plugin_codecs:CountingJpeg")
    assert not count_file.exists()


def test_out_without_write_permission_is_refused_before_any_work(image_folder, tmp_path, monkeypatch):
    """(Root may write anywhere, so the permission answer is simulated.)"""
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: False if Path(path) == locked else real_access(path, mode))
    with pytest.raises(RdpbenchError, match=f"no permission to write in {locked}"):
        run(image_folder, locked / "results")
    assert not (locked / "results").exists()


def test_a_subset_run_and_a_full_run_never_share_a_folder(image_folder, tmp_path):
    subset = run(image_folder, tmp_path / "results", limit=2)
    full = run(image_folder, tmp_path / "results")
    assert (subset.name, full.name) == ("jpeg-images-first2", "jpeg-images")
    subset_manifest = json.loads((subset / "run.json").read_text())
    full_manifest = json.loads((full / "run.json").read_text())
    assert subset_manifest["dataset"]["name"] == "images[:2]" and full_manifest["dataset"]["name"] == "images"
    assert subset_manifest["dataset"]["content_sha256"] != full_manifest["dataset"]["content_sha256"]
    with pytest.raises(RdpbenchError, match=r"different dataset \(images\[:2\], 2 images.*this run: images, 3 images"):
        run(image_folder, tmp_path / "results", name=subset.name)


def test_result_files_follow_the_umask(image_folder, tmp_path):
    previous = os.umask(0o027)
    try:
        folder = run(image_folder, tmp_path / "results")
    finally:
        os.umask(previous)
    for name in ("images.csv", "points.csv", "run.json", "compressai-default.json"):
        assert (folder / name).stat().st_mode & 0o777 == 0o640


def test_patches_without_fid_or_kid_says_it_has_no_effect(image_folder, tmp_path, capsys):
    folder = run(image_folder, tmp_path / "results", patch_protocol="grid")
    assert "--patches grid applies to the distribution metrics only" in capsys.readouterr().err
    assert any("--patches grid" in note for note in json.loads((folder / "run.json").read_text())["notes"])


def test_preflight_names_every_image_a_metric_cannot_take(image_folder, tmp_path, metric_weights):
    Image.new("RGB", (300, 20), "grey").save(image_folder / "thin.png")
    Image.new("RGB", (8, 8), "grey").save(image_folder / "tiny.png")
    with pytest.raises(ImageError) as raised:
        run(image_folder, tmp_path / "results", metrics="psnr,lpips,gmsd")
    message = str(raised.value)
    assert "thin: 20x300 pixels is smaller than lpips" in message
    assert "tiny: 8x8 pixels is smaller than lpips" in message
    assert "gmsd" not in message  # 4x4 is enough for it
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("name", ["../escaped", "/abs/run", ".", "..", "a/b"])
def test_run_name_must_be_a_folder_name(image_folder, tmp_path, name):
    with pytest.raises(RdpbenchError, match="give a folder name, not a path"):
        run(image_folder, tmp_path / "results", name=name)


def test_image_names_pandas_would_take_for_missing_values_resume_cleanly(tmp_path, monkeypatch):
    folder = tmp_path / "odd"
    folder.mkdir()
    for index, stem in enumerate(["nan", "NA", "null", "None", "001", "1e5"]):
        Image.fromarray(np.full((16, 16, 3), 40 * index, dtype=np.uint8)).save(folder / f"{stem}.png")
    count_file = tmp_path / "count"
    monkeypatch.setenv("COUNT_FILE", str(count_file))
    first = run(folder, tmp_path / "results", codec="plugin_codecs:CountingJpeg", points=["50"])
    run(folder, tmp_path / "results", codec="plugin_codecs:CountingJpeg", points=["50"])
    assert count_file.read_text().count("encode") == 6  # nothing recomputed
    images = pd.read_csv(first / "images.csv", dtype={"image": str}, keep_default_na=False)
    assert sorted(images.image) == sorted(["nan", "NA", "null", "None", "001", "1e5"])
    assert pd.read_csv(first / "points.csv").n_images.tolist() == [6]


def test_rows_edited_in_by_hand_are_left_out_with_a_note(image_folder, tmp_path, capsys):
    folder = run(image_folder, tmp_path / "results", points=["10"])
    images = pd.read_csv(folder / "images.csv", dtype={"quality": str})
    ghost = images.iloc[[0]].assign(image="ghost")
    excel = images.iloc[[1]].assign(quality="10.0")
    pd.concat([images, ghost, excel]).to_csv(folder / "images.csv", index=False)
    run(image_folder, tmp_path / "results", points=["10"])
    assert "left out 2 row(s)" in capsys.readouterr().err
    points = pd.read_csv(folder / "points.csv", dtype={"quality": str})
    assert points.quality.tolist() == ["10"] and points.n_images.tolist() == [3]


def test_a_rate_point_given_twice_is_one_point(image_folder, tmp_path):
    folder = run(image_folder, tmp_path / "results", points=["10", "10"])
    assert json.loads((folder / "run.json").read_text())["points"] == ["10"]
