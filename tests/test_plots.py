"""Figures drawn from a small results folder: panels, titles, labels, legend."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from rdpbench.cli import app
from rdpbench.codecs.cards import all_published_points, published_beside
from rdpbench.plots import metric_title, plot_distortion_perception, plot_rd_grid, rd_grid_points
from rdpbench.results import collect_points, dataset_groups

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


def test_same_codec_same_colour_samplers_told_apart(results):
    figure, _ = plot_rd_grid(collect_points(results))
    lines = {l.get_label(): l for l in figure.axes[7].lines}
    first, second = lines["ours (ddim10)"], lines["ours (ddpm100)"]
    assert first.get_color() == second.get_color()
    assert (first.get_linestyle(), first.get_marker()) != (second.get_linestyle(), second.get_marker())
    assert lines["msh"].get_color() != first.get_color()


def test_missing_metrics_leave_lines_out_with_a_note(results):
    figure, notes = plot_rd_grid(collect_points(results))
    musiq_axis = figure.axes[2]
    assert len(musiq_axis.lines) == 0
    assert "msh: no musiq, dbcnn; left out of those panels" in notes


def test_psnr_panel_plots_the_measured_numbers(results):
    figure, _ = plot_rd_grid(collect_points(results))
    msh = next(l for l in figure.axes[7].lines if l.get_label() == "msh")
    assert list(msh.get_xdata()) == pytest.approx([0.1, 0.2, 0.4])
    assert list(msh.get_ydata()) == pytest.approx([27.0, 29.0, 31.0])


def test_distortion_perception_view_has_one_panel_per_rate_point_of_ours(results):
    figure = plot_distortion_perception(collect_points(results), "psnr", "fid")
    assert [a.get_title() for a in figure.axes] == [
        "ours q1, 0.090 bpp", "ours q2, 0.180 bpp", "ours q3, 0.360 bpp"]
    assert figure.axes[0].get_xlabel() == "PSNR (dB) ↑" and figure.axes[0].get_ylabel() == "FID ↓"


def test_cli_plot_and_report_write_their_files(results):
    runner = CliRunner()
    result = runner.invoke(app, ["plot", str(results)])
    assert result.exit_code == 0, result.output
    for name in ("fig3-kodak.png", "fig3-kodak.pdf", "fig3-kodak-dp.png", "fig3-kodak-dp.pdf"):
        assert (results / name).stat().st_size > 1000
    result = runner.invoke(app, ["report", str(results), "--anchor", "msh"])
    assert result.exit_code == 0, result.output
    assert pd.read_csv(results / "report_bd.csv").shape[0] > 0


def test_cli_plot_of_an_empty_folder_fails_cleanly(tmp_path):
    result = CliRunner().invoke(app, ["plot", str(tmp_path)])
    assert result.exit_code == 1 and "no readable results" in result.output


@pytest.fixture
def mixed(tmp_path):
    """jpeg and msh on the full Kodak set (by content), jpeg on its first 2 images, and jpeg
    on another set, all under one folder."""
    from rdpbench.datasets import published_content_sha256

    from results_factory import ANCHOR, ANCHOR_BPP, write_run

    [kodak] = [sha for sha, name in published_content_sha256().items() if name == "kodak"]
    folder = tmp_path / "mixed"
    write_run(folder, "msh", {"default": (ANCHOR_BPP, ANCHOR)}, dataset="kodak", identity=kodak)
    write_run(folder, "jpeg", {"default": ([2 * r for r in ANCHOR_BPP], ANCHOR)}, dataset="kodak", identity=kodak)
    lower = {m: [v - 1 for v in values] for m, values in ANCHOR.items()}
    write_run(folder, "jpeg", {"default": ([3 * r for r in ANCHOR_BPP], lower)}, dataset="kodak[:2]")
    write_run(folder, "jpeg", {"default": ([4 * r for r in ANCHOR_BPP], ANCHOR)}, dataset="sample")
    return folder


def test_one_figure_set_per_image_set_each_line_from_one_set(mixed):
    result = CliRunner().invoke(app, ["plot", str(mixed)])
    assert result.exit_code == 0, result.output
    for label in ("kodak", "kodak-first2", "sample"):
        for suffix in (".png", ".pdf", ".csv"):
            assert (mixed / f"fig3-{label}{suffix}").is_file()
    points = collect_points(mixed)
    for label, rate_factor in (("kodak", 2), ("kodak-first2", 3), ("sample", 4)):
        drawn = pd.read_csv(mixed / f"fig3-{label}.csv", dtype={"point": str})
        jpeg_psnr = drawn[(drawn.codec == "jpeg") & ~drawn.published & (drawn.metric == "psnr")]
        assert list(jpeg_psnr.bpp) == pytest.approx([rate_factor * r for r in (0.1, 0.2, 0.4)])
    assert set(points.dataset) == {"kodak", "kodak[:2]", "sample"}


def test_published_curves_only_on_the_full_set_and_the_csv_holds_what_is_drawn(mixed):
    for label, group in dataset_groups(collect_points(mixed)):
        published = published_beside(group)
        assert (not published.empty) == (label == "kodak")
        figure, _ = plot_rd_grid(group, published)
        drawn = rd_grid_points(group, published)
        assert set(drawn.dataset) == {label}  # one image set a figure
        from_axes = sorted((axis.get_title(), line.get_label(), float(x), float(y))
                           for axis in figure.axes for line in axis.lines
                           for x, y in zip(line.get_xdata(), line.get_ydata()))
        def legend_label(row):
            if row.published:
                return row.sampler  # a published curve's sampler column holds its label
            return row.codec if row.sampler == "default" else f"{row.codec} ({row.sampler})"

        from_csv = sorted((metric_title(r.metric), legend_label(r), r.bpp, r.value) for r in drawn.itertuples())
        assert from_axes == from_csv
        labels = [text.get_text() for text in figure.legends[0].get_texts()]
        assert set(labels) == {line.get_label() for axis in figure.axes for line in axis.lines}


def test_jpeg_cards_kodak_curve_is_drawn_beside_a_kodak_jpeg_run_in_jpegs_colour(mixed):
    from rdpbench.codecs.cards import RATE_MARGIN, load_card

    [card] = [c for c in load_card("jpeg")["published"] if c["dataset"] == "kodak"]
    result = CliRunner().invoke(app, ["plot", str(mixed)])
    assert result.exit_code == 0, result.output
    drawn = pd.read_csv(mixed / "fig3-kodak.csv", dtype={"point": str})
    measured = drawn[~drawn.published]
    low, high = measured.bpp.min() / RATE_MARGIN, measured.bpp.max() * RATE_MARGIN
    # the card's points within the measured rates (widened by the margin), with the card's values
    inside = [(q, b, v) for q, b, v in zip(card["quality"], card["bpp"], card["psnr"]) if low <= b <= high]
    curve = drawn[drawn.published & (drawn.sampler == card["label"]) & (drawn.metric == "psnr")]
    assert (curve.codec == "jpeg").all() and len(inside) >= 2
    assert list(zip(curve.point, curve.bpp, curve.value)) == inside
    for label in ("kodak-first2", "sample"):  # never beside a subset or another set
        other = pd.read_csv(mixed / f"fig3-{label}.csv")
        assert card["label"] not in set(other.sampler)

    kodak = next(group for label, group in dataset_groups(collect_points(mixed)) if label == "kodak")
    figure, _ = plot_rd_grid(kodak, published_beside(kodak))
    lines = {line.get_label(): line for line in figure.axes[7].lines}
    assert lines[card["label"]].get_color() == lines["jpeg"].get_color()
    assert lines[card["label"]].get_linestyle() == "--"


def test_plot_of_one_chosen_dataset(mixed):
    result = CliRunner().invoke(app, ["plot", str(mixed), "--dataset", "kodak[:2]"])
    assert result.exit_code == 0, result.output
    assert (mixed / "fig3-kodak-first2.png").is_file() and not (mixed / "fig3-sample.png").exists()
    result = CliRunner().invoke(app, ["plot", str(mixed), "--dataset", "clic"])
    assert result.exit_code == 1 and "there are: kodak, kodak[:2], sample" in result.output


def test_distortion_perception_legend_has_one_entry_per_curve(results):
    figure = plot_distortion_perception(collect_points(results), "psnr", "fid")
    labels = [text.get_text() for text in figure.legends[0].get_texts()]
    assert sorted(labels) == ["jpeg", "msh", "ours (ddim10)", "ours (ddpm100)"]


def test_report_keeps_image_sets_apart(mixed):
    result = CliRunner().invoke(app, ["report", str(mixed)])
    assert result.exit_code == 0, result.output
    bd = pd.read_csv(mixed / "report_bd.csv")
    assert set(bd.dataset) == {"kodak"} and set(bd.codec) == {"jpeg"}  # only kodak has two curves
    psnr = bd[bd.metric == "psnr"].bd_rate_percent.item()
    assert psnr == pytest.approx(100.0, abs=1e-6)  # kodak's jpeg: msh's quality at twice its rate
    table = pd.read_csv(mixed / "report_points.csv")
    assert sorted(set(table.dataset)) == ["kodak", "kodak[:2]", "sample"]
    text = (mixed / "report.md").read_text()
    assert "## kodak[:2]" in text and "## sample" in text


def test_ci_bands_are_the_bootstrap_interval_of_the_per_image_values(results):
    from rdpbench.report import point_intervals
    from rdpbench.results import collect_images

    result = CliRunner().invoke(app, ["plot", str(results), "--ci"])
    assert result.exit_code == 0, result.output
    drawn = pd.read_csv(results / "fig3-kodak.csv", dtype={"point": str})
    msh_psnr = drawn[(drawn.codec == "msh") & (drawn.metric == "psnr")]
    # the factory's four images sit at mean -0.005, +0.005, -0.005, +0.005: every resample mean
    # lies within +-0.005 of the mean, and both signs are drawn
    assert ((msh_psnr.ci95_low >= msh_psnr.value - 0.005 - 1e-9) & (msh_psnr.ci95_low < msh_psnr.value)).all()
    assert ((msh_psnr.ci95_high <= msh_psnr.value + 0.005 + 1e-9) & (msh_psnr.ci95_high > msh_psnr.value)).all()
    assert drawn[drawn.metric == "fid"].ci95_low.isna().all()  # one value per point: no band
    images = collect_images(results)
    constant = images.assign(psnr=30.0)
    interval = point_intervals(constant).iloc[0]
    assert (interval.psnr_ci95_low, interval.psnr_ci95_high) == (30.0, 30.0)
    points = collect_points(results).merge(point_intervals(images), on=["run", "codec", "quality", "sampler"])
    figure, _ = plot_rd_grid(points)
    assert len(figure.axes[7].collections) == 4  # a band per curve in the PSNR panel


def test_a_codec_cards_legend_names_its_curves():
    from rdpbench.plots import legend_label

    assert legend_label("cdc-eps-rho0.9", "ddim500") == "yang (rho=0.9) (ddim500)"
    assert legend_label("msh", "default") == "msh"


INLINE = "module://matplotlib_inline.backend_inline"


def run_python(script: str, cwd: Path) -> subprocess.CompletedProcess:
    """``script`` in a fresh interpreter with no display and no backend chosen by the environment."""
    repo = Path(__file__).parents[1]
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")}
    environment["PYTHONPATH"] = os.pathsep.join([str(repo), str(repo / "tests"), environment.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.subprocess
def test_importing_and_drawing_leave_a_notebooks_backend_alone(tmp_path):
    """In Jupyter the inline backend is chosen before rdpbench is imported: importing and
    drawing must not switch it, and the figures still save to files without a display."""
    result = run_python(f"""
        import matplotlib
        matplotlib.use("{INLINE}")
        from pathlib import Path
        import numpy as np
        import rdpbench.plots, rdpbench.show
        from rdpbench.results import collect_points
        from results_factory import make_results
        print("after import:", matplotlib.get_backend())
        points = collect_points(make_results(Path("results")))
        figure, _ = rdpbench.plots.plot_rd_grid(points)
        rdpbench.plots.save_figure(figure, Path("fig3"))
        panels = [rdpbench.show.Panel(np.zeros((32, 48, 3), np.uint8), "original")]
        rdpbench.plots.save_figure(rdpbench.show.plot_comparison(panels), Path("fig2"))
        print("after drawing:", matplotlib.get_backend())
    """, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"after import: {INLINE}", f"after drawing: {INLINE}"]
    for name in ("fig3.png", "fig3.pdf", "fig2.png", "fig2.pdf"):
        assert (tmp_path / name).stat().st_size > 1000


def test_draw_results_writes_every_figure_of_a_folder_and_returns_paths_and_notes(results, tmp_path):
    from rdpbench.plots import draw_results

    written, notes = draw_results(results)
    assert written == [results / f"fig3-kodak{suffix}" for suffix in (".png", ".pdf", ".csv")] + [
        results / f"fig3-kodak-dp{suffix}" for suffix in (".png", ".pdf", ".csv")]
    assert all(path.stat().st_size > 0 for path in written)
    # the factory measures neither MUSIQ nor DBCNN
    assert "kodak: msh: no musiq, dbcnn; left out of those panels" in notes
    written, notes = draw_results(results, out=tmp_path / "figures" / "rd", published=False, perception="musiq")
    assert written == [tmp_path / "figures" / f"rd-kodak{suffix}" for suffix in (".png", ".pdf", ".csv")]
    assert "kodak: no rate point has both psnr and musiq; no distortion-perception view" in notes


def test_draw_results_raises_one_line_rdpbench_errors(results, tmp_path):
    from rdpbench.errors import RdpbenchError
    from rdpbench.plots import draw_results

    (tmp_path / "empty").mkdir()
    for folder, options, message in ((tmp_path / "nowhere", {}, "is not a folder"),
                                     (tmp_path / "empty", {}, "no readable results"),
                                     (results, {"dataset": "clic"}, "there are: kodak")):
        with pytest.raises(RdpbenchError, match=message) as raised:
            draw_results(folder, **options)
        assert "\n" not in str(raised.value)


def test_each_figure_names_its_image_set(mixed):
    for label, group in dataset_groups(collect_points(mixed)):
        figure, _ = plot_rd_grid(group)
        assert figure.get_suptitle() == label
        assert plot_distortion_perception(group, "psnr", "fid").get_suptitle() == label


@pytest.fixture
def same_name(tmp_path):
    """Two image sets both called "imgs" (two folders of that name), told apart by content."""
    import hashlib

    from results_factory import ANCHOR, ANCHOR_BPP, write_run

    folder = tmp_path / "same-name"
    identities = [hashlib.sha256(text.encode()).hexdigest() for text in ("first imgs", "second imgs")]
    write_run(folder, "jpeg", {"default": ([2 * r for r in ANCHOR_BPP], ANCHOR)}, dataset="imgs",
              identity=identities[0])
    write_run(folder, "msh", {"default": (ANCHOR_BPP, ANCHOR)}, dataset="imgs", identity=identities[1])
    # dataset_groups' rule: a shared name gets the first 8 characters of the set's content hash
    return folder, [f"imgs-{identity[:8]}" for identity in identities]


def test_sets_sharing_a_name_carry_their_file_names_label_in_csv_and_title(same_name):
    from rdpbench.plots import draw_results

    folder, labels = same_name
    draw_results(folder)
    for label, codec in zip(labels, ("jpeg", "msh")):
        for stem in (f"fig3-{label}", f"fig3-{label}-dp"):
            drawn = pd.read_csv(folder / f"{stem}.csv")
            assert set(drawn.dataset) == {label} and set(drawn.codec) == {codec}
    assert [label for label, _ in dataset_groups(collect_points(folder))] == labels
    for label, group in dataset_groups(collect_points(folder)):
        assert plot_rd_grid(group)[0].get_suptitle() == label


def test_plot_dataset_takes_a_shared_name_or_a_full_label(same_name):
    folder, labels = same_name
    result = CliRunner().invoke(app, ["plot", str(folder), "--dataset", "imgs"])
    assert result.exit_code == 0, result.output
    assert all((folder / f"fig3-{label}.png").is_file() for label in labels)
    for path in folder.glob("fig3-*"):
        path.unlink()
    result = CliRunner().invoke(app, ["plot", str(folder), "--dataset", labels[1]])
    assert result.exit_code == 0, result.output
    assert not (folder / f"fig3-{labels[0]}.png").exists() and (folder / f"fig3-{labels[1]}.png").is_file()
    result = CliRunner().invoke(app, ["plot", str(folder), "--dataset", "clic"])
    assert result.exit_code == 1 and f"there are: {labels[0]}, {labels[1]}" in result.output


def test_distortion_perception_of_one_sampler_codecs_draws_labelled_curves_with_their_rates(tmp_path):
    from results_factory import ANCHOR, ANCHOR_BPP, write_run

    folder = tmp_path / "one-sampler"
    better = {m: [v + 1 for v in values] for m, values in ANCHOR.items()}
    write_run(folder, "jpeg", {"default": ([2 * r for r in ANCHOR_BPP], ANCHOR)})
    write_run(folder, "msh", {"default": (ANCHOR_BPP, better)})
    figure = plot_distortion_perception(collect_points(folder), "psnr", "fid")
    [axis] = figure.axes
    assert sorted(text.get_text() for text in figure.legends[0].get_texts()) == ["jpeg", "msh"]
    curves = {line.get_label(): line for line in axis.lines}
    assert list(curves["jpeg"].get_xdata()) == pytest.approx(ANCHOR["psnr"])
    assert list(curves["jpeg"].get_ydata()) == pytest.approx(ANCHOR["fid"])
    assert list(curves["msh"].get_xdata()) == pytest.approx(better["psnr"])
    assert list(curves["msh"].get_ydata()) == pytest.approx(better["fid"])
    # every point carries its rate: jpeg at 0.2, 0.4, 0.8 bpp, msh at 0.1, 0.2, 0.4
    expected = [(f"{bpp:.3f} bpp", psnr, fid) for bpp, psnr, fid in zip([0.2, 0.4, 0.8], ANCHOR["psnr"], ANCHOR["fid"])]
    expected += [(f"{bpp:.3f} bpp", psnr, fid) for bpp, psnr, fid in zip(ANCHOR_BPP, better["psnr"], better["fid"])]
    written = [(text.get_text(), round(text.xy[0], 6), round(text.xy[1], 6)) for text in axis.texts]
    assert sorted(written) == sorted(expected)


def test_distortion_perception_context_points_carry_their_rates(results):
    figure = plot_distortion_perception(collect_points(results), "psnr", "fid")
    # at ours' 0.09 bpp the nearest jpeg point is its lowest, 0.2 bpp, msh's its lowest, 0.1 bpp;
    # the samplers' own rate is the panel's title
    assert sorted(text.get_text() for text in figure.axes[0].texts) == ["0.100 bpp", "0.200 bpp"]


def _titles(figure):
    return [axis.get_title() for axis in figure.axes if axis.get_visible()]


def test_metrics_beyond_the_papers_eight_get_a_grid_of_exactly_the_measured_ones(tmp_path):
    from results_factory import write_run

    measured = {"psnr": [27.0, 29.0, 31.0], "kid": [0.02, 0.01, 0.005], "lpips": [0.3, 0.2, 0.1],
                "gmsd": [0.12, 0.09, 0.07], "nlpd": [0.35, 0.28, 0.22]}
    write_run(tmp_path, "msh", {"default": ([0.1, 0.2, 0.4], measured)})
    figure, notes = plot_rd_grid(collect_points(tmp_path))
    # registry order, rows of four, the last row's three unused places hidden
    assert _titles(figure) == ["GMSD ↓", "KID ↓", "LPIPS ↓", "NLPD ↓", "PSNR (dB) ↑"]
    assert len(figure.axes) == 8 and notes == []


def test_plot_metrics_option_draws_those_panels_in_that_order(results, tmp_path):
    from conftest import invoke

    result = invoke("plot", results, "--metrics", "lpips, psnr", "--out", tmp_path / "chosen")
    assert result.exit_code == 0, result.output
    drawn = pd.read_csv(tmp_path / "chosen-kodak.csv")
    assert list(dict.fromkeys(drawn.metric)) == ["lpips", "psnr"]
    msh = drawn[(drawn.codec == "msh") & (drawn.metric == "psnr")]
    assert list(msh.value) == pytest.approx([27.0, 29.0, 31.0])


def test_the_papers_metrics_alone_keep_fig3(results):
    # six of the eight measured: the paper's grid, two panels saying "not measured"
    assert _titles(plot_rd_grid(collect_points(results))[0]) == EXPECTED_TITLES


def test_column_width_figures_and_pdfs_with_embedded_truetype_fonts(results, tmp_path):
    from matplotlib.image import imread

    from rdpbench.plots import draw_results

    written, _ = draw_results(results, out=tmp_path / "fig", width="column")
    grid_png = next(p for p in written if p.name == "fig-kodak.png")
    # 300 dpi: at most 3.5 in wide (the tight bounding box trims a little)
    assert 900 <= imread(grid_png).shape[1] <= 3.5 * 300
    drawn = pd.read_csv(tmp_path / "fig-kodak.csv")
    assert list(dict.fromkeys(drawn.metric)) == ["fid", "niqe", "gmsd", "nlpd", "lpips", "psnr"]
    pdf = (tmp_path / "fig-kodak.pdf").read_bytes()
    assert b"/FontFile2" in pdf and b"/Type3" not in pdf
