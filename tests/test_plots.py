"""Figures drawn from a small results folder: panels, titles, labels, legend."""

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from typer.testing import CliRunner

from rdpbench.cli import app
from rdpbench.codecs.cards import all_published_points
from rdpbench.plots import plot_distortion_perception, plot_rd_grid
from rdpbench.results import collect_points

from results_factory import make_results

EXPECTED_TITLES = ["FID ↓", "NIQE ↓", "MUSIQ ↑", "DBCNN ↑", "GMSD ↓", "NLPD ↓", "LPIPS ↓", "PSNR (dB) ↑"]


@pytest.fixture
def results(tmp_path):
    return make_results(tmp_path / "results")


def test_fig3_has_the_papers_eight_panels(results):
    figure, _ = plot_rd_grid(collect_points(results))
    axes = figure.axes
    assert [a.get_title() for a in axes] == EXPECTED_TITLES
    assert all(a.get_xlabel() == "bpp" for a in axes)
    plt.close(figure)


def test_fig3_legend_has_one_entry_per_codec_and_sampler_plus_published(results):
    published = all_published_points()
    figure, _ = plot_rd_grid(collect_points(results), published[published.dataset == "kodak"])
    [legend] = figure.legends
    labels = [text.get_text() for text in legend.get_texts()]
    assert sorted(labels[:4]) == ["jpeg", "msh", "ours (ddim10)", "ours (ddpm100)"]
    assert "CompressAI mbt2018-mean (published)" in labels and "HiFiC (published)" in labels
    psnr_axis = figure.axes[7]
    published_line = next(l for l in psnr_axis.lines if l.get_label() == "HiFiC (published)")
    assert published_line.get_linestyle() == "--"
    assert all(l.get_linestyle() != "--" for l in psnr_axis.lines if "published" not in l.get_label())
    plt.close(figure)


def test_same_codec_same_colour_samplers_told_apart(results):
    figure, _ = plot_rd_grid(collect_points(results))
    lines = {l.get_label(): l for l in figure.axes[7].lines}
    first, second = lines["ours (ddim10)"], lines["ours (ddpm100)"]
    assert first.get_color() == second.get_color()
    assert (first.get_linestyle(), first.get_marker()) != (second.get_linestyle(), second.get_marker())
    assert lines["msh"].get_color() != first.get_color()
    plt.close(figure)


def test_missing_metrics_leave_lines_out_with_a_note(results):
    figure, notes = plot_rd_grid(collect_points(results))
    musiq_axis = figure.axes[2]
    assert len(musiq_axis.lines) == 0
    assert "msh: no musiq, left out of its panel" in notes
    plt.close(figure)


def test_psnr_panel_plots_the_measured_numbers(results):
    figure, _ = plot_rd_grid(collect_points(results))
    msh = next(l for l in figure.axes[7].lines if l.get_label() == "msh")
    assert list(msh.get_xdata()) == pytest.approx([0.1, 0.2, 0.4])
    assert list(msh.get_ydata()) == pytest.approx([27.0, 29.0, 31.0])
    plt.close(figure)


def test_distortion_perception_view_has_one_panel_per_rate_point_of_ours(results):
    figure = plot_distortion_perception(collect_points(results), "psnr", "fid")
    assert [a.get_title() for a in figure.axes] == [
        "ours q1, 0.090 bpp", "ours q2, 0.180 bpp", "ours q3, 0.360 bpp"]
    assert figure.axes[0].get_xlabel() == "PSNR (dB) ↑" and figure.axes[0].get_ylabel() == "FID ↓"
    plt.close(figure)


def test_cli_plot_and_report_write_their_files(results):
    runner = CliRunner()
    result = runner.invoke(app, ["plot", str(results)])
    assert result.exit_code == 0, result.output
    for name in ("fig3.png", "fig3.pdf", "fig3-dp.png", "fig3-dp.pdf"):
        assert (results / name).stat().st_size > 1000
    result = runner.invoke(app, ["report", str(results), "--anchor", "msh"])
    assert result.exit_code == 0, result.output
    assert pd.read_csv(results / "report_bd.csv").shape[0] > 0


def test_cli_plot_of_an_empty_folder_fails_cleanly(tmp_path):
    result = CliRunner().invoke(app, ["plot", str(tmp_path)])
    assert result.exit_code == 1 and "no readable results" in result.output
