"""Runs at target rates (``--target-bpp``): the chosen setting's rate is checked against
independent encodes at that setting and the next one."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from conftest import invoke, make_image_folder, run_once
from rdpbench.bitstream import bits_per_pixel
from rdpbench.codecs import get_codec
from rdpbench.errors import RdpbenchError
from rdpbench.images import load_image
from rdpbench.results import read_images
from rdpbench.run.targets import TargetSearch
from rdpbench.schema import target_label, target_of

# With these small photos JPEG spends about 1 (quality 1) to 10 (quality 100) bpp.
SIZES = [(64, 96), (48, 80)]
TARGETS = [0.5, 2.0, 3.0]


@pytest.fixture(scope="module")
def target_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("targets")
    images = make_image_folder(root / "images", SIZES)
    return images, run_once(images, root / "out", codec="jpeg", target_bpp=TARGETS)


def jpeg_bpp(image, quality: int) -> float:
    """The rate of the built-in jpeg codec at ``quality``, encoded here, apart from the run."""
    _, height, width = image.shape
    return bits_per_pixel(len(get_codec("jpeg").encode(image, str(quality))), height, width)


def test_each_chosen_setting_is_the_highest_rate_at_or_below_its_target(target_run):
    images, folder = target_run
    rows = read_images(folder / "images.csv")
    assert sorted(set(rows.quality)) == sorted(target_label(t) for t in TARGETS)
    met = rows[rows.target_status == "met"]
    assert set(met.quality) == {"bpp2", "bpp3"} and len(met) == 2 * len(SIZES)
    for row in met.itertuples():
        image = load_image(images / f"{row.image}.png")[0]
        target, setting = target_of(row.quality), int(row.setting)
        chosen = jpeg_bpp(image, setting)
        assert chosen == pytest.approx(row.bpp, abs=1e-12)
        assert chosen <= target < jpeg_bpp(image, setting + 1)


def test_a_target_below_the_lowest_rate_is_flagged_and_noted(target_run):
    images, folder = target_run
    rows = read_images(folder / "images.csv")
    low = rows[rows.quality == "bpp0.5"]
    assert set(low.target_status) == {"below_lowest_rate"} and set(low.setting) == {"1"}
    for row in low.itertuples():
        assert row.bpp == pytest.approx(jpeg_bpp(load_image(images / f"{row.image}.png")[0], 1), abs=1e-12)
        assert row.bpp > 0.5
    manifest = json.loads((folder / "run.json").read_text())
    [note] = [note for note in manifest["notes"] if "bpp0.5" in note]
    assert "below the codec's lowest rate" in note and "img0" in note and "img1" in note
    assert manifest["target_rate"]["targets_bpp"] == TARGETS


def test_settings_tried_are_recorded_and_bounded_by_bisection(target_run):
    images, folder = target_run
    tried = pd.read_csv(folder / "target_search.csv", dtype={"setting": str})
    for name, group in tried.groupby("image"):
        image = load_image(images / f"{name}.png")[0]
        assert not group.setting.duplicated().any()
        # the two ends, then ceil(log2(100)) halvings for each target met: an upper bound
        assert len(group) <= 2 + 2 * math.ceil(math.log2(100))
        for row in group.sample(3, random_state=0).itertuples():
            assert row.bpp == pytest.approx(jpeg_bpp(image, int(row.setting)), abs=1e-12)


def test_a_rerun_encodes_nothing_again(target_run, monkeypatch):
    images, folder = target_run
    before = (folder / "images.csv").read_text()
    monkeypatch.setattr(TargetSearch, "choose", lambda *args: pytest.fail("searched again"))
    run_once(images, folder.parent, codec="jpeg", target_bpp=TARGETS)
    assert (folder / "images.csv").read_text() == before


def test_a_search_reuses_settings_tried_for_another_target():
    from conftest import photo_tensor

    image, codec = photo_tensor(64, 96, 0), get_codec("jpeg")
    calls = []
    original = codec.encode
    codec.encode = lambda image, point: calls.append(point) or original(image, point)
    search = TargetSearch(codec)
    first = search.choose("a", image, 2.0)
    n_first = len(calls)
    second = search.choose("a", image, 2.0)
    assert second.setting == first.setting and second.status == "met"
    assert len(calls) == n_first + 1  # only the chosen setting's bytes, made again


def test_knobs_run_from_the_lowest_rate_to_the_highest():
    assert get_codec("jpeg").rate_knob().settings[:2] == ("1", "2")
    assert get_codec("jpeg2000").rate_knob().settings[:2] == ("1000", "999")
    assert get_codec("hevc").rate_knob().settings[:2] == ("51", "50")
    assert get_codec("jpegxl").rate_knob().settings[:2] == ("25", "24.95")


def test_cli_takes_several_targets_and_refuses_them_beside_quality(tmp_path):
    images = make_image_folder(tmp_path / "images", SIZES[:1])
    result = invoke("run", "--codec", "jpeg", "--target-bpp", "2", "3", "--dataset", images, "--out", tmp_path / "out",
                    "--no-progress", "--device", "cpu")
    assert result.exit_code == 0, result.output
    rows = read_images(tmp_path / "out" / "jpeg-targets-images" / "images.csv")
    assert list(rows.quality) == ["bpp2", "bpp3"]
    both = invoke("run", "--codec", "jpeg", "--target-bpp", "2", "--quality", "10", "--dataset", images,
                  "--out", tmp_path / "out", "--no-progress")
    assert both.exit_code == 1 and "--target-bpp and --quality" in both.output


def test_targets_are_refused_for_a_codec_without_a_rate_knob_and_when_not_positive(tmp_path):
    from rdpbench.run import RunSettings, make_plan

    images = make_image_folder(tmp_path / "images", SIZES[:1])
    with pytest.raises(RdpbenchError, match="no fine rate setting"):
        make_plan(RunSettings(codec=f"folder:{images}", dataset=str(images), target_bpp=[0.2], device="cpu"))
    with pytest.raises(RdpbenchError, match="above 0"):
        make_plan(RunSettings(codec="jpeg", dataset=str(images), target_bpp=[0.0], device="cpu"))


def test_target_labels_round_trip():
    assert target_label(0.15) == "bpp0.15" and target_of("bpp0.15") == 0.15
    assert target_of("15") is None and target_of("bpp") is None and target_of("bpp-1") is None


def test_an_external_codec_declares_how_its_rate_follows_the_quality_value(tmp_path):
    from test_codecs_external import write_description

    from rdpbench.codecs.external import ExternalCodec

    falling = ExternalCodec(str(write_description(tmp_path / "a", rate="decreasing")))
    assert falling.rate_knob().settings == ("90", "50", "10")
    rising = ExternalCodec(str(write_description(tmp_path / "b", rate="increasing")))
    assert rising.rate_knob().settings == ("10", "50", "90")
    assert ExternalCodec(str(write_description(tmp_path / "c"))).rate_knob() is None
    with pytest.raises(RdpbenchError, match="increasing"):
        ExternalCodec(str(write_description(tmp_path / "d", rate="up")))
