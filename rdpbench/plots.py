"""Figures: the paper's Fig. 3 (eight metrics against bpp) and the distortion-perception view.

Colours tell codecs apart; line style and marker tell the samplers of one codec apart.
Published reference curves (from codec cards) are always dashed, with hollow markers and
"(published)" in the legend, never confused with measured lines. A metric that a curve
lacks leaves that panel without the curve, and a note says so.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from .report import arrow  # noqa: E402

#: The paper's Fig. 3: no-reference metrics on top, full-reference below.
FIG3_PANELS = [["fid", "niqe", "musiq", "dbcnn"], ["gmsd", "nlpd", "lpips", "psnr"]]
METRIC_TITLES = {"fid": "FID", "kid": "KID", "niqe": "NIQE", "musiq": "MUSIQ", "dbcnn": "DBCNN",
                 "gmsd": "GMSD", "nlpd": "NLPD", "lpips": "LPIPS", "psnr": "PSNR (dB)"}
SAMPLER_STYLES = [("-", "o"), ("-.", "s"), (":", "^"), ((0, (5, 1, 1, 1)), "D"), ((0, (1, 1)), "v")]
PUBLISHED_STYLE = ("--", "x")
COLUMN_WIDTH_IN = 7.16  # a two-column paper's full text width


def metric_title(metric: str) -> str:
    return f"{METRIC_TITLES.get(metric, metric)} {arrow(metric)}".strip()


def _styles(points: pd.DataFrame, published: pd.DataFrame) -> dict:
    """(colour, line style, marker, label) per curve key (codec, sampler, is_published)."""
    codecs = list(dict.fromkeys(list(points.codec) + list(published.get("codec", []))))
    # tab10 rather than "colorblind": there, the 2nd and 4th colours (orange, vermilion) are
    # too close to tell two codecs apart at column width
    palette = dict(zip(codecs, sns.color_palette("tab10", max(len(codecs), 1))))
    styles = {}
    for codec in codecs:
        samplers = list(dict.fromkeys(points[points.codec == codec].sampler))
        for sampler, (line, marker) in zip(samplers, itertools.cycle(SAMPLER_STYLES)):
            label = codec if sampler == "default" else f"{codec} ({sampler})"
            styles[(codec, sampler, False)] = (palette[codec], line, marker, label)
    for label, group in published.groupby("label", sort=False) if not published.empty else []:
        codec = group.codec.iloc[0]
        styles[(codec, label, True)] = (palette[codec], *PUBLISHED_STYLE, label)
    return styles


def _curves(points: pd.DataFrame, published: pd.DataFrame):
    """(key, frame sorted by bpp) for every measured and published curve."""
    for (codec, sampler), group in points.groupby(["codec", "sampler"], sort=False):
        yield (codec, sampler, False), group.sort_values("bpp")
    if not published.empty:
        for label, group in published.groupby("label", sort=False):
            yield (group.codec.iloc[0], label, True), group.sort_values("bpp")


def plot_rd_grid(
    points: pd.DataFrame, published: pd.DataFrame | None = None, panels=FIG3_PANELS
) -> tuple[plt.Figure, list[str]]:
    """Fig. 3: one panel per metric (rows x columns of ``panels``), bpp on x, one line per
    codec and sampler, one shared legend. Returns the figure and notes on missing metrics."""
    published = published if published is not None else pd.DataFrame()
    styles = _styles(points, published)
    rows, columns = len(panels), len(panels[0])
    with sns.axes_style("whitegrid"), plt.rc_context({"font.size": 7, "axes.titlesize": 8}):
        figure, axes = plt.subplots(rows, columns, figsize=(COLUMN_WIDTH_IN, 1.85 * rows + 0.6), squeeze=False)
        notes = []
        for row, names in enumerate(panels):
            for column, metric in enumerate(names):
                axis = axes[row][column]
                for key, curve in _curves(points, published):
                    colour, line, marker, label = styles[key]
                    if metric not in curve or curve[metric].isna().all():
                        if not key[2]:
                            notes.append(f"{label}: no {metric}, left out of its panel")
                        continue
                    axis.plot(curve.bpp, curve[metric], color=colour, linestyle=line, marker=marker,
                              markersize=3.5, linewidth=1.2, label=label,
                              markerfacecolor="none" if key[2] else colour)
                axis.set_title(metric_title(metric))
                axis.set_xlabel("bpp")
                axis.tick_params(labelsize=6)
        handles, labels = [], []
        for axis in axes.flat:
            for handle, label in zip(*axis.get_legend_handles_labels()):
                if label not in labels:
                    handles.append(handle)
                    labels.append(label)
        figure.legend(handles, labels, loc="lower center", ncol=min(len(labels), 5), frameon=False,
                      fontsize=7, bbox_to_anchor=(0.5, 0.0))
        legend_rows = -(-len(labels) // 5)
        figure.tight_layout(rect=(0, 0.045 * legend_rows + 0.02, 1, 1))
    return figure, notes


def plot_distortion_perception(
    points: pd.DataFrame, distortion: str = "psnr", perception: str = "fid"
) -> plt.Figure:
    """At each rate point of every codec with several samplers: distortion (x) against
    perception (y) across its samplers, joined in rate order of the samplers' listing, with
    the other codecs' point nearest in bpp for comparison (labelled with its bpp)."""
    multi = [c for c, g in points.groupby("codec", sort=False) if g.sampler.nunique() > 1]
    anchors = [(codec, quality) for codec in multi
               for quality in dict.fromkeys(points[points.codec == codec].quality)]
    if not anchors:
        anchors = [(None, None)]
    styles = _styles(points, pd.DataFrame())
    with sns.axes_style("whitegrid"), plt.rc_context({"font.size": 7, "axes.titlesize": 8}):
        figure, axes = plt.subplots(1, len(anchors), figsize=(min(COLUMN_WIDTH_IN, 2.6 * len(anchors)), 2.6),
                                    squeeze=False)
        for axis, (codec, quality) in zip(axes[0], anchors):
            if codec is None:
                chosen, rate = points, None
            else:
                chosen = points[(points.codec == codec) & (points.quality == quality)]
                rate = chosen.bpp.mean()
                axis.plot(chosen[distortion], chosen[perception], color=styles[(codec, chosen.sampler.iloc[0], False)][0],
                          linewidth=0.8, alpha=0.6)
                others = points[points.codec != codec]
                nearest = others.loc[(others.bpp - rate).abs().groupby([others.codec, others.sampler]).idxmin()] \
                    if not others.empty else others
                chosen = pd.concat([chosen, nearest])
                axis.set_title(f"{codec} q{quality}, {rate:.3f} bpp")
            for row in chosen.itertuples():
                colour, _, marker, label = styles[(row.codec, row.sampler, False)]
                text = label if rate is None or row.codec == codec else f"{label} @ {row.bpp:.3f}"
                axis.scatter(getattr(row, distortion), getattr(row, perception), color=colour, marker=marker, s=18,
                             label=text, zorder=3)
            axis.set_xlabel(metric_title(distortion))
            axis.set_ylabel(metric_title(perception))
            axis.legend(fontsize=5.5, frameon=False)
        figure.tight_layout()
    return figure


def save_figure(figure: plt.Figure, stem: Path) -> list[Path]:
    """Write ``stem``.png (300 dpi) and ``stem``.pdf; return both paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    figure.savefig(paths[0], dpi=300, bbox_inches="tight")
    figure.savefig(paths[1], bbox_inches="tight")
    plt.close(figure)
    return paths
