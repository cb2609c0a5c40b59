"""Damaged results files: named, skipped by plot and report, refused by resume; a row cut
mid-write is never read as data."""

import json
import math

import pandas as pd
import pytest
from typer.testing import CliRunner

from rdpbench.cli import app
from rdpbench.errors import DamagedResultsError, DamagedResultsWarning, RdpbenchError
from rdpbench.results import collect_images, collect_points, read_compressai_json, read_images, write_json
from rdpbench.schema import image_columns
from rdpbench.run import RunSettings, evaluate
from results_factory import make_results

DAMAGES = {
    "empty": lambda text: "",
    "cut in half": lambda text: text[: len(text) // 2],
    "garbage": lambda text: "\x00\x01 this is not it {[",
}


def damage(path, how):
    path.write_text(DAMAGES[how](path.read_text()))


@pytest.mark.parametrize("how", DAMAGES)
@pytest.mark.parametrize("file", ["points.csv", "run.json"])
def test_plot_and_report_skip_a_damaged_run_naming_the_file(tmp_path, file, how):
    results = make_results(tmp_path / "results")
    damage(results / "jpeg-kodak" / file, how)
    with pytest.warns(DamagedResultsWarning, match=f"jpeg-kodak/{file}"):
        points = collect_points(results)
    assert set(points.codec) == {"msh", "ours"}

    for command in (["plot", str(results)], ["report", str(results)]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 0, result.output
        assert f"warning: {results / 'jpeg-kodak' / file}" in result.output
        assert "Traceback" not in result.output


def test_plot_fails_only_when_nothing_readable_is_left(tmp_path):
    results = make_results(tmp_path / "results")
    for run in ("msh-kodak", "jpeg-kodak", "ours-kodak"):
        (results / run / "points.csv").write_text("")
    for command in ("plot", "report"):
        result = CliRunner().invoke(app, [command, str(results)])
        assert result.exit_code == 1
        assert "warning" in result.output and "Traceback" not in result.output


def test_a_row_cut_mid_write_is_left_out_not_read_as_data(tmp_path):
    results = make_results(tmp_path / "results")
    images_csv = results / "msh-kodak" / "images.csv"
    text = images_csv.read_text()
    # cut inside the last row's PSNR: "29.005" would read as a plausible 29.0
    cut = text.rstrip("\n")
    images_csv.write_text(cut[: cut.rindex(",", 0, len(cut) - 20) + 3])
    with pytest.warns(DamagedResultsWarning, match="last line .* is cut short"):
        images = collect_images(results)
    msh = images[images.codec == "msh"]
    assert len(msh) == 11 and msh[image_columns(["psnr", "lpips"])].notna().all().all()
    with pytest.raises(DamagedResultsError, match="is cut short"):
        read_images(images_csv)


def test_a_short_row_in_the_middle_is_named_by_line(tmp_path):
    results = make_results(tmp_path / "results")
    images_csv = results / "msh-kodak" / "images.csv"
    lines = images_csv.read_text().splitlines(keepends=True)
    lines[3] = ",".join(lines[3].split(",")[:5]) + "\n"
    images_csv.write_text("".join(lines))
    with pytest.raises(DamagedResultsError, match=r"images.csv, line 4: 5 fields where the header has"):
        read_images(images_csv)


def test_text_where_a_number_belongs_is_named(tmp_path):
    results = make_results(tmp_path / "results")
    points_csv = results / "msh-kodak" / "points.csv"
    frame = pd.read_csv(points_csv, dtype=str)
    frame.loc[1, "bpp"] = "fast"
    frame.to_csv(points_csv, index=False)
    with pytest.warns(DamagedResultsWarning, match=r"points.csv, line 3: bpp is 'fast', not a number"):
        collect_points(results)


@pytest.mark.parametrize("how", DAMAGES)
@pytest.mark.parametrize("file", ["images.csv", "run.json"])
def test_resume_refuses_a_damaged_folder_with_a_clear_message(image_folder, tmp_path, file, how):
    settings = RunSettings(codec="jpeg", points=["10"], dataset=str(image_folder), out=tmp_path, name="run")
    evaluate(settings, progress=False)
    damage(tmp_path / "run" / file, how)
    with pytest.raises(RdpbenchError) as raised:
        evaluate(settings, progress=False)
    message = str(raised.value)
    assert str(tmp_path / "run" / file) in message and "cannot resume" in message


def test_json_is_strict_and_infinities_come_back(tmp_path):
    """A lossless image's PSNR is infinite; the JSON files stay valid JSON."""
    path = tmp_path / "compressai-default.json"
    write_json({"name": "lossless", "results": {"bpp": [1.0, 2.0], "psnr-rgb": [40.0, math.inf],
                                                "lpips": [math.nan, 0.0]}}, path)

    def refuse(constant):
        raise ValueError(f"non-standard JSON token {constant}")

    data = json.loads(path.read_text(), parse_constant=refuse)
    assert data["results"]["psnr-rgb"] == [40.0, "inf"] and data["results"]["lpips"] == [None, 0.0]
    frame = read_compressai_json(path)
    assert frame.psnr.tolist() == [40.0, math.inf]
    assert math.isnan(frame.lpips[0])


def test_an_unrelated_json_file_with_odd_meta_is_read_or_skipped_without_a_crash(tmp_path):
    results = make_results(tmp_path / "results")
    (results / "other.json").write_text('{"results": {"bpp": [0.5], "psnr-rgb": [30]}, "meta": "x"}')
    (results / "notes.json").write_text('{"anything": [1, 2]}')
    points = collect_points(results)
    assert "other" in set(points.codec)
    assert CliRunner().invoke(app, ["report", str(results)]).exit_code == 0


@pytest.mark.parametrize("edit", [{"points": "10"}, {"weights": "none"}, {"dataset": {"content_sha256": 7}}])
def test_resume_refuses_a_hand_edited_manifest_of_the_wrong_shape(image_folder, tmp_path, edit):
    settings = RunSettings(codec="jpeg", points=["10"], dataset=str(image_folder), out=tmp_path, name="run")
    evaluate(settings, progress=False)
    manifest = json.loads((tmp_path / "run" / "run.json").read_text())
    manifest.update(edit)
    (tmp_path / "run" / "run.json").write_text(json.dumps(manifest))
    with pytest.raises(RdpbenchError, match="run.json is damaged: .* not as rdpbench writes them; cannot resume"):
        evaluate(settings, progress=False)


def test_files_under_a_hidden_folder_are_not_results(image_folder, tmp_path):
    """A torchrun leaves each rank's part, CompressAI exports included, in ``.<run>.ranks/``
    beside the run folder: those are parts of the run, not further curves."""
    import shutil

    results = tmp_path / "results"
    run = evaluate(RunSettings(codec="jpeg", points=["10", "50"], dataset=str(image_folder), out=results,
                               name="jpeg-images"), progress=False)
    assert (run / "compressai-default.json").is_file()
    shutil.copytree(run, results / ".jpeg-images.ranks" / "rank1of2")
    points = collect_points(results)
    assert set(points.source) == {"measured"} and sorted(points.quality) == ["10", "50"]
