"""Report tables and Bjontegaard deltas, against numbers computed by hand."""

import shutil

import numpy as np
import pandas as pd
import pytest

from rdpbench.errors import RdpbenchError
from rdpbench.report import bd_table, paired_comparison, write_report
from rdpbench.results import collect_images, collect_points

from results_factory import ANCHOR, make_results


@pytest.fixture
def results(tmp_path):
    return make_results(tmp_path / "results")


def bd(results, codec, sampler, metric):
    table = bd_table(collect_points(results), "msh")
    return table[(table.codec == codec) & (table.sampler == sampler) & (table.metric == metric)].iloc[0]


def test_collect_reads_every_run_with_its_dataset(results):
    points = collect_points(results)
    assert sorted(set(zip(points.codec, points.sampler))) == [
        ("jpeg", "default"), ("msh", "default"), ("ours", "ddim10"), ("ours", "ddpm100")]
    assert (points.dataset == "kodak").all() and (points.n_images == 4).all()
    msh = points[points.codec == "msh"].sort_values("bpp")
    assert list(msh.psnr) == pytest.approx(ANCHOR["psnr"])
    assert list(msh.fid) == pytest.approx(ANCHOR["fid"])


def test_bd_rate_of_a_curve_at_twice_the_rate_is_plus_100_percent(results):
    for metric in ("psnr", "lpips", "gmsd", "nlpd"):
        assert bd(results, "jpeg", "default", metric).bd_rate_percent == pytest.approx(100.0, abs=1e-6)


def test_bd_rate_at_80_percent_of_the_rate_is_minus_20_percent(results):
    row = bd(results, "ours", "ddim10", "psnr")
    assert row.bd_rate_percent == pytest.approx(-20.0, abs=1e-6)


def test_bd_metric_of_a_shifted_curve_is_the_shift(results):
    assert bd(results, "ours", "ddpm100", "psnr").bd_metric == pytest.approx(0.5, abs=1e-9)
    assert bd(results, "ours", "ddpm100", "lpips").bd_metric == pytest.approx(0.0, abs=1e-9)


def test_lower_is_better_metrics_keep_their_own_units_and_sign(results):
    # at half the rate jpeg's LPIPS is msh's LPIPS at that rate: worse, so higher
    row = bd(results, "jpeg", "default", "lpips")
    assert row.bd_metric > 0 and row.bd_rate_percent > 0


def test_a_non_monotone_curve_gets_a_reason_not_a_number(results):
    row = bd(results, "jpeg", "default", "niqe")  # 7.0, 6.0, 5.5 is monotone: a number
    assert np.isfinite(row.bd_rate_percent)
    points = collect_points(results)
    points.loc[(points.codec == "jpeg") & (points.quality == "2"), "niqe"] = 9.0
    table = bd_table(points, "msh")
    row = table[(table.codec == "jpeg") & (table.metric == "niqe")].iloc[0]
    assert np.isnan(row.bd_rate_percent) and "not monotone" in row.note


def test_unknown_anchor_lists_the_curves(results):
    with pytest.raises(RdpbenchError, match="ours@ddim10"):
        bd_table(collect_points(results), "hific")


def test_report_files_hold_the_tables(results):
    paths = write_report(results, anchor="msh")
    assert [p.name for p in paths] == ["report.md", "report_points.csv", "report_bd.csv"]
    text = paths[0].read_text()
    header = next(line for line in text.splitlines() if line.startswith("| codec | sampler | quality"))
    assert "| psnr ↑ |" in header and "| lpips ↓ |" in header and "| fid ↓ |" in header
    assert "### lpips ↓" in text
    points = pd.read_csv(paths[1], dtype={"quality": str})
    assert len(points) == 12
    bd_rows = pd.read_csv(paths[2])
    assert set(bd_rows.codec) == {"jpeg", "ours"}


def test_paired_comparison_of_known_differences(results):
    images = collect_images(results)
    result = paired_comparison(images, "psnr", {"codec": "msh", "quality": "2"},
                               {"codec": "ours", "sampler": "ddpm100", "quality": "2"})
    assert result["n_images"] == 4
    assert result["mean_difference"] == pytest.approx(0.5)
    assert result["ci95_low"] == pytest.approx(0.5) and result["ci95_high"] == pytest.approx(0.5)
    varied = paired_comparison(images, "psnr", {"codec": "msh", "quality": "1"},
                               {"codec": "msh", "quality": "2"})
    assert varied["ci95_low"] <= varied["mean_difference"] <= varied["ci95_high"]


def test_report_without_msh_anchors_on_the_first_curve_and_says_so(tmp_path):
    results = make_results(tmp_path / "results")
    shutil.rmtree(results / "msh-kodak")
    report = write_report(results)[0].read_text()
    assert "Bjontegaard deltas against jpeg (the default anchor: there is no msh curve" in report
    assert len(pd.read_csv(results / "report_bd.csv")) > 0


def test_an_unknown_anchor_is_an_error_naming_the_curves_and_leaves_the_report_alone(results):
    from typer.testing import CliRunner

    from rdpbench.cli import app

    written = write_report(results, anchor="msh")
    before = {path: path.read_bytes() for path in written}
    result = CliRunner().invoke(app, ["report", str(results), "--anchor", "no-such-curve"])
    assert result.exit_code == 1
    [message] = result.output.strip().splitlines()
    assert "'no-such-curve'" in message
    assert all(curve in message for curve in ("jpeg", "msh", "ours@ddim10", "ours@ddpm100"))
    assert {path: path.read_bytes() for path in written} == before
