"""Job arrays: shards run apart, then merged, equal one run (FID and KID included)."""

import json
import shutil

import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

from rdpbench.cli import app
from rdpbench.errors import RdpbenchError
from rdpbench.run.merge import merge_shards
from rdpbench.run import RunSettings, evaluate

from conftest import make_photo

TIMES = ["encode_s", "decode_s"]


@pytest.fixture
def five_images(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for index in range(5):
        Image.fromarray(make_photo(256, 256 + 32 * index, seed=index)).save(folder / f"im{index}.png")
    return folder


def run(folder, out, **overrides):
    settings = RunSettings(codec="jpeg", points=["10", "50"], dataset=str(folder), out=out, metrics="psnr")
    for key, value in overrides.items():
        setattr(settings, key, value)
    return evaluate(settings, progress=False)


def without_times(path):
    return pd.read_csv(path, dtype={"quality": str}).drop(columns=TIMES)


def test_two_shards_merged_equal_one_run_fid_and_kid_included(five_images, tmp_path, metric_weights):
    metrics = "psnr,fid,kid,kid_paired"
    shards = [run(five_images, tmp_path / "out", shard=(i, 2), metrics=metrics) for i in (1, 2)]
    assert [s.name for s in shards] == ["jpeg-images-shard1of2", "jpeg-images-shard2of2"]
    assert len(pd.read_csv(shards[0] / "images.csv")) == 2 * 3 and len(pd.read_csv(shards[1] / "images.csv")) == 2 * 2
    whole = run(five_images, tmp_path / "whole", metrics=metrics)
    result = CliRunner().invoke(app, ["merge", *map(str, shards), "--out", str(tmp_path / "merged")])
    assert result.exit_code == 0, result.output
    merged = tmp_path / "merged"
    pd.testing.assert_frame_equal(without_times(merged / "images.csv"), without_times(whole / "images.csv"))
    pd.testing.assert_frame_equal(without_times(merged / "points.csv"), without_times(whole / "points.csv"))
    merged_manifest, whole_manifest = (json.loads((f / "run.json").read_text()) for f in (merged, whole))
    assert merged_manifest["dataset"]["content_sha256"] == whole_manifest["dataset"]["content_sha256"]
    assert merged_manifest["dataset"]["name"] == "images" and "shard" not in merged_manifest["dataset"]
    assert merged_manifest["metric_protocol"]["patches"] == whole_manifest["metric_protocol"]["patches"]

    # a shard folder that also holds features of another extractor (another --patches or device):
    # the merge takes the ones its run.json names, and shards that name different ones are refused
    [key] = merged_manifest["metric_protocol"]["patches"]["features_keys"].values()
    shutil.copytree(shards[0] / "features" / key, shards[0] / "features" / "zz-another-extractor")
    again = merge_shards(shards, tmp_path / "merged-again")
    pd.testing.assert_frame_equal(without_times(again / "points.csv"), without_times(whole / "points.csv"))
    manifest = json.loads((shards[1] / "run.json").read_text())
    manifest["metric_protocol"]["patches"]["features_keys"] = {"inception": "zz-another-extractor"}
    (shards[1] / "run.json").write_text(json.dumps(manifest))
    with pytest.raises(RdpbenchError, match=f"computed their distribution-metric features differently .*{key}.*zz-another"):
        merge_shards(shards, tmp_path / "merged-refused")


def test_shards_of_different_runs_or_an_incomplete_set_are_refused(five_images, tmp_path):
    first = run(five_images, tmp_path / "a", shard=(1, 2))
    second = run(five_images, tmp_path / "a", shard=(2, 2))
    other_seed = run(five_images, tmp_path / "b", shard=(2, 2), seed=1)
    other_points = run(five_images, tmp_path / "c", shard=(2, 2), points=["10"])
    with pytest.raises(RdpbenchError, match="different seed"):
        merge_shards([first, other_seed], tmp_path / "m1")
    with pytest.raises(RdpbenchError, match="different points"):
        merge_shards([first, other_points], tmp_path / "m2")
    with pytest.raises(RdpbenchError, match="need shards 1..2 once each; got 1"):
        merge_shards([first], tmp_path / "m3")
    with pytest.raises(RdpbenchError, match="not a shard"):
        merge_shards([first, run(five_images, tmp_path / "d")], tmp_path / "m4")
    Image.fromarray(make_photo(256, 300, seed=9)).save(five_images / "im1.png")  # another set now
    changed = run(five_images, tmp_path / "e", shard=(2, 2))
    with pytest.raises(RdpbenchError, match="different dataset"):
        merge_shards([first, changed], tmp_path / "m5")
    merge_shards([second, first], tmp_path / "m6")  # any order
    with pytest.raises(RdpbenchError, match="already holds a run"):
        merge_shards([first, second], tmp_path / "m6")


def test_shard_option_is_checked(five_images, tmp_path):
    for text, message in (("3/2", "need 1 <= i <= n"), ("1/9", "only 5 images"), ("a/b", "give I/N")):
        result = CliRunner().invoke(app, ["run", "--codec", "jpeg", "--dataset", str(five_images),
                                          "--out", str(tmp_path), "--shard", text])
        assert result.exit_code == 1 and message in result.output


def test_a_complexity_run_merged_keeps_the_costs_measured_on_the_sets_first_image(five_images, tmp_path):
    settings = {"codec": "plugin_codecs:TinyConvCodec", "points": ["1"], "complexity": True}
    shards = [run(five_images, tmp_path / "out", shard=(i, 2), **settings) for i in (1, 2)]
    whole = run(five_images, tmp_path / "whole", **settings)
    merged = merge_shards(list(reversed(shards)), tmp_path / "merged")
    points = without_times(merged / "points.csv")
    pd.testing.assert_frame_equal(points, without_times(whole / "points.csv"))
    assert points.dec_params.notna().all()
    assert pd.read_csv(merged / "complexity.csv").image.tolist() == ["im0"]

    holder = next(shard for shard in shards if "im0" in pd.read_csv(shard / "images.csv").image.tolist())
    (holder / "complexity.csv").unlink()
    with pytest.raises(RdpbenchError, match=r"complexity.csv measured on the set's first image \(im0\)"):
        merge_shards(shards, tmp_path / "merged-again")
