"""Figures: the paper's Fig. 3 (eight metrics against bpp) and the distortion-perception view.

A figure shows one image set: :func:`rdpbench.results.dataset_groups` splits results by dataset identity, so a
line never joins points measured on two sets; the figure's title, its CSV and its file name
carry the set's label. Each figure is drawn from a long table of the points it shows
(:func:`rd_grid_points`, :func:`dp_points`), written beside it as CSV, so what a reader sees
and what a user re-plots are the same numbers.

Colours tell codecs apart; line style and marker tell the samplers of one codec apart.
Published reference curves (from codec cards) are always dashed, with hollow markers and
"(published)" in the legend, never confused with measured lines. The legend lists only
curves with at least one drawn point; a metric that a curve lacks leaves that panel without
the curve, and a note says so. :func:`draw_results` writes both figures of every image set
under a results folder, as ``rdpbench plot`` does.

Figures are :class:`NotebookFigure` objects, never pyplot's: drawing one leaves the selected
backend and pyplot's figures alone, :func:`save_figure` writes it on any machine (no display
needed), and a notebook shows it when it is a cell's value.
"""

from __future__ import annotations

import io
import itertools
import re
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from .errors import RdpbenchError
from .report import arrow, point_intervals
from .results import collect_images, collect_points, dataset_groups, runs_apart, write_csv
from .schema import curve_label

#: The paper's Fig. 3: no-reference metrics on top, full-reference below.
FIG3_PANELS = [["fid", "niqe", "musiq", "dbcnn"], ["gmsd", "nlpd", "lpips", "psnr"]]
METRIC_TITLES = {"fid": "FID", "kid": "KID", "kid_paired": "KID (paired)", "niqe": "NIQE", "musiq": "MUSIQ",
                 "dbcnn": "DBCNN", "gmsd": "GMSD", "nlpd": "NLPD", "lpips": "LPIPS", "psnr": "PSNR (dB)",
                 "dists": "DISTS", "ssim": "SSIM", "ms_ssim": "MS-SSIM", "ms_ssim_db": "MS-SSIM (dB)"}
SAMPLER_STYLES = [("-", "o"), ("-.", "s"), (":", "^"), ((0, (5, 1, 1, 1)), "D"), ((0, (1, 1)), "v")]
PUBLISHED_STYLE = ("--", "x")
PAGE_WIDTH_IN = 7.16  # a two-column paper's full text width (IEEE, ACM, CVPR)
COLUMN_WIDTH_IN = 3.5  # one column of such a paper
#: Figure width and panels per row of the rate-distortion grid, by name (``plot --width``).
FIGURE_WIDTHS = {"page": (PAGE_WIDTH_IN, 4), "column": (COLUMN_WIDTH_IN, 2)}
#: Columns of the CSV written beside every figure: one row per drawn point and metric.
DRAWN_COLUMNS = ["dataset", "codec", "sampler", "published", "point", "bpp", "metric", "value"]


class NotebookFigure(Figure):
    """A matplotlib Figure that IPython shows as a PNG when it is a cell's value, whichever
    backend is selected (the inline backend's own figure formatter comes first when active)."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()


def metric_title(metric: str) -> str:
    return f"{METRIC_TITLES.get(metric, metric)} {arrow(metric)}".strip()


def file_label(dataset: str) -> str:
    """A dataset label as a file-name part: ``kodak[:4]`` -> ``kodak-first4``."""
    label = re.sub(r"\[:(\d+)\]$", r"-first\1", dataset)
    return re.sub(r"[^A-Za-z0-9._+-]", "_", label)


def _curves(points: pd.DataFrame, published: pd.DataFrame):
    """(key, frame sorted by bpp) for every measured and published curve; a key is
    (codec, sampler or published label, is_published)."""
    for (codec, sampler), group in points.groupby(["codec", "sampler"], sort=False):
        yield (codec, sampler, False), group.sort_values("bpp")
    if not published.empty:
        for label, group in published.groupby("label", sort=False):
            yield (group.codec.iloc[0], label, True), group.sort_values("bpp")


def panels_for(points: pd.DataFrame, metrics: list[str] | None = None, per_row: int = 4) -> list[list[str]]:
    """The panels of the rate-distortion grid, rows of at most ``per_row``: ``metrics`` in the
    order given; else the paper's Fig. 3 when every metric measured is one of its eight (a
    metric not measured says so in its panel), else every measured metric, registered ones
    first in registry order."""
    from .report import metric_columns

    if metrics is None:
        measured = [m for m in metric_columns(points) if not m.endswith(("_ci95_low", "_ci95_high"))]
        paper = list(itertools.chain.from_iterable(FIG3_PANELS))
        if set(measured) <= set(paper):
            if per_row == len(FIG3_PANELS[0]):
                return FIG3_PANELS
            measured = paper
        metrics = measured
    if not metrics:
        raise RdpbenchError("no metric to draw: the results hold no metric values")
    return [metrics[start:start + per_row] for start in range(0, len(metrics), per_row)]


def rd_grid_points(points: pd.DataFrame, published: pd.DataFrame | None = None,
                   panels: list[list[str]] | None = None) -> pd.DataFrame:
    """Every point Fig. 3 draws, one row per curve, rate point and metric (DRAWN_COLUMNS):
    the points with a finite bpp and a finite value of the panel's metric; with
    ``ci95_low``/``ci95_high`` when ``points`` carry intervals (``<metric>_ci95_low`` ...,
    from :func:`rdpbench.report.point_intervals`)."""
    published = published if published is not None else pd.DataFrame()
    panels = panels or panels_for(points)
    points = runs_apart(points)
    dataset = _image_set(points)
    rows = []
    for metric in itertools.chain.from_iterable(panels):
        for (codec, sampler, is_published), curve in _curves(points, published):
            if metric not in curve:
                continue
            for _, row in curve.iterrows():
                if np.isfinite(_number(row.bpp)) and np.isfinite(_number(row[metric])):
                    interval = [_number(row.get(f"{metric}_ci95_{end}")) for end in ("low", "high")]
                    rows.append([dataset, codec, sampler, is_published, str(row.quality), float(row.bpp), metric,
                                 float(row[metric]), *interval])
    drawn = pd.DataFrame(rows, columns=DRAWN_COLUMNS + ["ci95_low", "ci95_high"])
    return drawn if drawn[["ci95_low", "ci95_high"]].notna().any().any() else drawn[DRAWN_COLUMNS]


def _image_set(points: pd.DataFrame) -> str | None:
    """The label of the image set ``points`` were measured on (their ``dataset`` column)."""
    return points.dataset.iloc[0] if "dataset" in points and len(points) else None


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _styles(curves: list[tuple[str, str, bool]]) -> dict:
    """(colour, line style, marker, label) per curve key (codec, sampler, is_published)."""
    codecs = list(dict.fromkeys(codec for codec, _, _ in curves))
    # tab10 rather than "colorblind": there, the 2nd and 4th colours (orange, vermilion) are
    # too close to tell two codecs apart at column width
    palette = dict(zip(codecs, sns.color_palette("tab10", max(len(codecs), 1))))
    styles = {}
    for codec in codecs:
        samplers = [s for c, s, p in curves if c == codec and not p]
        for sampler, (line, marker) in zip(samplers, itertools.cycle(SAMPLER_STYLES)):
            styles[(codec, sampler, False)] = (palette[codec], line, marker, _label(codec, sampler))
        for label in [s for c, s, p in curves if c == codec and p]:
            styles[(codec, label, True)] = (palette[codec], *PUBLISHED_STYLE, label)
    return styles


def plot_rd_grid(
    points: pd.DataFrame, published: pd.DataFrame | None = None, panels: list[list[str]] | None = None,
    width: float = PAGE_WIDTH_IN,
) -> tuple[NotebookFigure, list[str]]:
    """Fig. 3 of one image set, titled with its label: one panel per metric (rows of
    ``panels``, default :func:`panels_for`), each titled with the metric's direction, bpp on
    x, one line per codec and sampler, one shared legend of the curves drawn, ``width``
    inches wide. Draws exactly :func:`rd_grid_points`. Returns the figure and notes on metrics
    a curve lacks."""
    panels = panels or panels_for(points)
    drawn = rd_grid_points(points, published, panels)
    curves = list(dict.fromkeys(zip(drawn.codec, drawn.sampler, drawn.published)))
    styles = _styles(curves)
    rows, columns = len(panels), max(len(names) for names in panels)
    notes = []
    for (codec, sampler, _), _curve in _curves(runs_apart(points), pd.DataFrame()):
        own = drawn[(drawn.codec == codec) & (drawn.sampler == sampler) & ~drawn.published]
        missing = [m for m in itertools.chain.from_iterable(panels) if m not in set(own.metric)]
        if missing:
            notes.append(f"{_label(codec, sampler)}: no {', '.join(missing)}; left out of "
                         f"{'that panel' if len(missing) == 1 else 'those panels'}")
    with sns.axes_style("whitegrid"), matplotlib.rc_context({"font.size": 7, "axes.titlesize": 8}):
        figure = NotebookFigure(figsize=(width, 1.85 * rows + 0.6))
        axes = figure.subplots(rows, columns, squeeze=False)
        for axis in axes.flat[sum(len(names) for names in panels):]:
            axis.set_visible(False)  # the last row's unused places
        for row, names in enumerate(panels):
            for column, metric in enumerate(names):
                axis = axes[row][column]
                for key, curve in drawn[drawn.metric == metric].groupby(["codec", "sampler", "published"], sort=False):
                    colour, line, marker, label = styles[key]
                    curve = curve.sort_values("bpp")
                    axis.plot(curve.bpp, curve.value, color=colour, linestyle=line, marker=marker,
                              markersize=3.5, linewidth=1.2, label=label,
                              markerfacecolor="none" if key[2] else colour)
                    if "ci95_low" in curve and curve.ci95_low.notna().all():
                        axis.fill_between(curve.bpp, curve.ci95_low, curve.ci95_high, color=colour, alpha=0.18,
                                          linewidth=0)
                axis.set_title(metric_title(metric))
                axis.set_xlabel("bpp")
                axis.tick_params(labelsize=6)
                if not axis.lines:  # say so rather than draw an empty 0..1 grid
                    axis.text(0.5, 0.5, "not measured", transform=axis.transAxes, ha="center", va="center",
                              color="0.5")
                    axis.set_xticks([])
                    axis.set_yticks([])
        _figure_title(figure, _image_set(points))
        _figure_legend(figure, axes.flat, rows=rows, columns=5 if width >= PAGE_WIDTH_IN else 2)
    return figure, notes


def _label(codec: str, sampler: str) -> str:
    """Legend label: "msh", "ours (ddim10)", "jpeg [run]", "ours (ddim10) [run]"; a codec
    card's ``legend`` replaces the codec's name ("yang (rho=0) (ddim500)")."""
    from .codecs.cards import load_card

    sampler, bracket, run = sampler.partition(" [")
    name = load_card(codec).get("legend", codec)
    label = curve_label(name, sampler)
    return f"{label} [{run}" if bracket else label


def _figure_title(figure: Figure, dataset: str | None) -> None:
    """The image set's label above the panels."""
    if dataset is not None:
        figure.suptitle(dataset, fontsize=9)


def _figure_legend(figure: Figure, axes, rows: int, columns: int = 5) -> None:
    """One legend below the panels with each drawn label once."""
    handles, labels = [], []
    for axis in axes:
        for handle, label in zip(*axis.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    figure.legend(handles, labels, loc="lower center", ncol=max(min(len(labels), columns), 1), frameon=False,
                  fontsize=7, bbox_to_anchor=(0.5, 0.0))
    legend_rows = -(-len(labels) // columns)
    figure.tight_layout(rect=(0, min(0.06 * legend_rows / rows + 0.02, 0.4), 1, 1))


def dp_points(points: pd.DataFrame, distortion: str = "psnr", perception: str = "fid") -> pd.DataFrame:
    """Every point the distortion-perception view draws (DRAWN_COLUMNS, two rows per point:
    its distortion and its perception value), with a ``panel`` column naming the rate point
    of the multi-sampler codec it belongs to ("all" when no codec has several samplers)."""
    points = runs_apart(points)
    dataset = _image_set(points)
    usable = points.dropna(subset=[c for c in ("bpp", distortion, perception) if c in points])
    if distortion not in usable or perception not in usable:
        return pd.DataFrame(columns=DRAWN_COLUMNS + ["panel"])
    multi = [c for c, g in usable.groupby("codec", sort=False) if g.sampler.nunique() > 1]
    panels = [(codec, quality) for codec in multi for quality in dict.fromkeys(usable[usable.codec == codec].quality)]
    rows = []
    for codec, quality in panels or [(None, None)]:
        if codec is None:
            chosen, name = usable, "all"
        else:
            chosen = usable[(usable.codec == codec) & (usable.quality == quality)]
            rate = chosen.bpp.mean()
            others = usable[usable.codec != codec]
            if not others.empty:  # each other curve's point nearest in rate
                nearest = others.loc[(others.bpp - rate).abs().groupby([others.codec, others.sampler]).idxmin()]
                chosen = pd.concat([chosen, nearest])
            name = f"{codec} q{quality}, {rate:.3f} bpp"
        for row in chosen.itertuples(index=False):
            for metric in (distortion, perception):
                rows.append([dataset, row.codec, row.sampler, False, str(row.quality), float(row.bpp), metric,
                             float(getattr(row, metric)), name])
    return pd.DataFrame(rows, columns=DRAWN_COLUMNS + ["panel"])


def plot_distortion_perception(
    points: pd.DataFrame, distortion: str = "psnr", perception: str = "fid"
) -> NotebookFigure:
    """At each rate point of every codec with several samplers: distortion (x) against
    perception (y) across its samplers, joined in the samplers' order, with each other
    curve's point nearest in bpp for comparison, its rate written beside it (the samplers'
    rate is the panel's title). When no codec has several samplers, one panel draws every
    curve across its rate points, each point's rate beside it. Draws exactly
    :func:`dp_points`; one legend entry per codec and sampler; titled with the image set's
    label."""
    drawn = dp_points(points, distortion, perception)
    wide = drawn.pivot_table(index=["panel", "codec", "sampler", "point", "bpp"], columns="metric",
                             values="value", sort=False).reset_index()
    panels = list(dict.fromkeys(wide.panel)) or ["all"]
    curves = list(dict.fromkeys((c, s, False) for c, s in zip(wide.codec, wide.sampler)))
    styles = _styles(curves)
    with sns.axes_style("whitegrid"), matplotlib.rc_context({"font.size": 7, "axes.titlesize": 8}):
        figure = NotebookFigure(figsize=(min(PAGE_WIDTH_IN, 2.6 * len(panels)), 2.9))
        axes = figure.subplots(1, len(panels), squeeze=False)
        for axis, panel in zip(axes[0], panels):
            chosen = wide[wide.panel == panel]
            codec = None if panel == "all" else panel.split(" q")[0]  # the panel's multi-sampler codec
            if codec is None:
                for (curve_codec, sampler), curve in chosen.groupby(["codec", "sampler"], sort=False):
                    colour, line, marker, label = styles[(curve_codec, sampler, False)]
                    curve = curve.sort_values("bpp")
                    axis.plot(curve[distortion], curve[perception], color=colour, linestyle=line, marker=marker,
                              markersize=3.5, linewidth=1.0, label=label)
                    for row in curve.itertuples(index=False):
                        _rate_label(axis, row, distortion, perception)
            else:
                samplers = chosen[chosen.codec == codec]
                axis.plot(samplers[distortion], samplers[perception], linewidth=0.8, alpha=0.6,
                          color=styles[(codec, samplers.sampler.iloc[0], False)][0])
                axis.set_title(panel)
                for row in chosen.itertuples(index=False):
                    colour, _, marker, label = styles[(row.codec, row.sampler, False)]
                    own = row.codec == codec
                    # other curves' nearest-rate points are context: hollow, so none hides the samplers'
                    axis.scatter(getattr(row, distortion), getattr(row, perception), marker=marker,
                                 s=18 if own else 30, label=label, zorder=3 if own else 4, edgecolors=colour,
                                 facecolors=colour if own else "none", linewidths=1.0)
                    if not own:
                        _rate_label(axis, row, distortion, perception)
            axis.set_xlabel(metric_title(distortion))
            axis.set_ylabel(metric_title(perception))
        _figure_title(figure, _image_set(points))
        _figure_legend(figure, axes[0], rows=1, columns=4)
    return figure


def _rate_label(axis, row, distortion: str, perception: str) -> None:
    """A drawn point's rate, written beside it."""
    axis.annotate(f"{row.bpp:.3f} bpp", (getattr(row, distortion), getattr(row, perception)), xytext=(3, 3),
                  textcoords="offset points", fontsize=5.5, color="0.3")


def save_figure(figure: Figure, stem: Path, drawn: pd.DataFrame | None = None) -> list[Path]:
    """Write ``stem``.png (300 dpi) and ``stem``.pdf (fonts embedded as TrueType, as
    publishers require, rather than matplotlib's default Type 3), and ``stem``.csv with the
    points drawn when given; return the paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_name(stem.name + ".png"), stem.with_name(stem.name + ".pdf")]
    figure.savefig(paths[0], dpi=300, bbox_inches="tight")
    with matplotlib.rc_context({"pdf.fonttype": 42}):
        figure.savefig(paths[1], bbox_inches="tight")
    if drawn is not None:
        paths.append(stem.with_name(stem.name + ".csv"))
        write_csv(drawn, paths[-1])
    return paths


def draw_results(
    folder: Path, out: Path | None = None, dataset: str | None = None, published: bool = True,
    distortion: str = "psnr", perception: str = "fid", ci: bool = False, metrics: list[str] | None = None,
    width: str = "page", published_also: list[str] = (),
) -> tuple[list[Path], list[str]]:
    """Fig. 3 and the distortion-perception view of every image set under ``folder`` (when
    ``dataset`` is given, only the sets it names: a label, the label as a file-name part, or
    a name that several sets share), each written as ``out``-LABEL.png/.pdf/.csv and
    ``out``-LABEL-dp.* (``out`` defaults to FOLDER/fig3). ``published`` adds the codec cards'
    curves measured on the same set, of the codecs in the results and those in
    ``published_also``; ``ci`` adds 95% per-image bootstrap bands; ``metrics``
    chooses the grid's panels (default :func:`panels_for`); ``width`` is a paper's ``page``
    or ``column`` width (:data:`FIGURE_WIDTHS`). Returns the
    paths written and notes ("LABEL: ...") on what could not be drawn; raises RdpbenchError."""
    from .codecs.cards import published_beside

    if width not in FIGURE_WIDTHS:
        raise RdpbenchError(f"--width {width!r}: one of {', '.join(FIGURE_WIDTHS)}")
    inches, per_row = FIGURE_WIDTHS[width]
    folder = Path(folder)
    if not folder.is_dir():
        raise RdpbenchError(f"{folder} is not a folder")
    points = collect_points(folder)
    if points.empty:
        raise RdpbenchError(f"no readable results under {folder} (a run writes points.csv when it completes)")
    if ci:
        points = points.merge(point_intervals(collect_images(folder)), on=["run", "codec", "quality", "sampler"],
                              how="left")
    groups = dataset_groups(points)
    if dataset is not None:
        names = points.dataset  # the sets' own names; each group's dataset column holds its label
        chosen = [(label, group) for label, group in groups
                  if dataset in (label, file_label(label), *names[group.index])]
        if not chosen:
            raise RdpbenchError(f"no results on dataset {dataset!r}; there are: "
                                f"{', '.join(label for label, _ in groups)}")
        groups = chosen
    base = Path(out) if out else folder / "fig3"
    written, notes = [], []
    for label, group in groups:
        stem = base.with_name(f"{base.name}-{file_label(label)}")
        reference = published_beside(group, published_also) if published else None
        panels = panels_for(group, metrics, per_row)
        figure, missing = plot_rd_grid(group, reference, panels, inches)
        notes += [f"{label}: {note}" for note in missing]
        try:
            written += save_figure(figure, stem, rd_grid_points(group, reference, panels))
            drawn = dp_points(group, distortion, perception)
            if drawn.empty:
                notes.append(f"{label}: no rate point has both {distortion} and {perception}; "
                             "no distortion-perception view")
            else:
                written += save_figure(plot_distortion_perception(group, distortion, perception),
                                       stem.with_name(stem.name + "-dp"), drawn)
        except OSError as error:
            raise RdpbenchError(f"cannot write the figures to {stem}: {error.strerror or error}") from None
    return written, notes


def cost_points(points: pd.DataFrame, cost: str, metric: str, rate: float) -> pd.DataFrame:
    """Per curve (codec, sampler): ``metric`` and ``cost`` (decode_s, dec_kmac_per_px, ...)
    read at ``rate`` bpp as ``report --at-bpp`` reads them (:func:`rdpbench.tables.metric_at_rate`);
    curves that cannot say (rate outside, cost not measured) are left out."""
    from .tables import metric_at_rate

    for column in (cost, metric):
        if column not in points:
            raise RdpbenchError(f"no {column} in the results: measure it (costs of MACs need run --complexity)")
    rows = []
    for (codec, sampler), curve in points.groupby(["codec", "sampler"], sort=False):
        bpp = curve.bpp.to_numpy(dtype=float)
        x, _ = metric_at_rate(bpp, curve[cost].to_numpy(dtype=float), rate)
        y, _ = metric_at_rate(bpp, curve[metric].to_numpy(dtype=float), rate)
        if np.isfinite(x) and np.isfinite(y):
            rows.append({"codec": codec, "sampler": sampler, "bpp": rate, cost: x, metric: y})
    return pd.DataFrame(rows, columns=["codec", "sampler", "bpp", cost, metric])


def plot_cost_at_rate(drawn: pd.DataFrame, cost: str, metric: str, rate: float) -> Figure:
    """One point per curve of :func:`cost_points`: ``metric`` against ``cost`` at ``rate`` bpp."""
    figure = NotebookFigure(figsize=(COLUMN_WIDTH_IN, 2.8))
    axis = figure.subplots()
    for row in drawn.itertuples(index=False):
        x, y = getattr(row, cost), getattr(row, metric)
        axis.scatter([x], [y])
        axis.annotate(_label(row.codec, row.sampler), (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    axis.set_xscale("log")
    axis.set_xlabel(cost)
    axis.set_ylabel(f"{metric_title(metric)} at {rate:g} bpp")
    return figure
