"""The rate-distortion grid, the paper's Fig. 3: one panel per metric against bpp."""

from __future__ import annotations

import itertools

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns

from ..errors import RdpbenchError
from ..results import runs_apart
from .style import (
    DRAWN_COLUMNS,
    PAGE_WIDTH_IN,
    NotebookFigure,
    curve_styles,
    figure_legend,
    figure_title,
    image_set,
    legend_label,
    metric_title,
)

#: The paper's Fig. 3: no-reference metrics on top, full-reference below.
FIG3_PANELS = [["fid", "niqe", "musiq", "dbcnn"], ["gmsd", "nlpd", "lpips", "psnr"]]


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
    from ..report import metric_columns

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
    dataset = image_set(points)
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


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


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
    styles = curve_styles(curves)
    rows, columns = len(panels), max(len(names) for names in panels)
    notes = []
    for (codec, sampler, _), _curve in _curves(runs_apart(points), pd.DataFrame()):
        own = drawn[(drawn.codec == codec) & (drawn.sampler == sampler) & ~drawn.published]
        missing = [m for m in itertools.chain.from_iterable(panels) if m not in set(own.metric)]
        if missing:
            notes.append(f"{legend_label(codec, sampler)}: no {', '.join(missing)}; left out of "
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
        figure_title(figure, image_set(points))
        figure_legend(figure, axes.flat, rows=rows, columns=5 if width >= PAGE_WIDTH_IN else 2)
    return figure, notes
