"""The distortion-perception view: at one rate, a codec's samplers traced from distortion to
perception, beside the other curves' points nearest in rate."""

from __future__ import annotations

import matplotlib
import pandas as pd
import seaborn as sns

from ..results import runs_apart
from .style import (
    DRAWN_COLUMNS,
    PAGE_WIDTH_IN,
    NotebookFigure,
    curve_styles,
    figure_legend,
    figure_title,
    image_set,
    metric_title,
)


def dp_points(points: pd.DataFrame, distortion: str = "psnr", perception: str = "fid") -> pd.DataFrame:
    """Every point the distortion-perception view draws (DRAWN_COLUMNS, two rows per point:
    its distortion and its perception value), with a ``panel`` column naming the rate point
    of the multi-sampler codec it belongs to ("all" when no codec has several samplers)."""
    points = runs_apart(points)
    dataset = image_set(points)
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
    styles = curve_styles(curves)
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
        figure_title(figure, image_set(points))
        figure_legend(figure, axes[0], rows=1, columns=4)
    return figure


def _rate_label(axis, row, distortion: str, perception: str) -> None:
    """A drawn point's rate, written beside it."""
    axis.annotate(f"{row.bpp:.3f} bpp", (getattr(row, distortion), getattr(row, perception)), xytext=(3, 3),
                  textcoords="offset points", fontsize=5.5, color="0.3")
