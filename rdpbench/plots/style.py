"""What every figure shares: metric titles and file labels, each curve's colour, line and
marker, the legend and title, paper widths, and writing a figure (PNG, PDF, CSV)."""

from __future__ import annotations

import io
import itertools
import re
from pathlib import Path

import matplotlib
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from ..report import arrow
from ..results import write_csv
from ..schema import curve_label

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


def image_set(points: pd.DataFrame) -> str | None:
    """The label of the image set ``points`` were measured on (their ``dataset`` column)."""
    return points.dataset.iloc[0] if "dataset" in points and len(points) else None


def curve_styles(curves: list[tuple[str, str, bool]]) -> dict:
    """(colour, line style, marker, label) per curve key (codec, sampler, is_published)."""
    codecs = list(dict.fromkeys(codec for codec, _, _ in curves))
    # tab10 rather than "colorblind": there, the 2nd and 4th colours (orange, vermilion) are
    # too close to tell two codecs apart at column width
    palette = dict(zip(codecs, sns.color_palette("tab10", max(len(codecs), 1))))
    styles = {}
    for codec in codecs:
        samplers = [s for c, s, p in curves if c == codec and not p]
        for sampler, (line, marker) in zip(samplers, itertools.cycle(SAMPLER_STYLES)):
            styles[(codec, sampler, False)] = (palette[codec], line, marker, legend_label(codec, sampler))
        for label in [s for c, s, p in curves if c == codec and p]:
            styles[(codec, label, True)] = (palette[codec], *PUBLISHED_STYLE, label)
    return styles


def legend_label(codec: str, sampler: str) -> str:
    """Legend label: "msh", "ours (ddim10)", "jpeg [run]", "ours (ddim10) [run]"; a codec
    card's ``legend`` replaces the codec's name ("yang (rho=0) (ddim500)")."""
    from ..codecs.cards import load_card

    sampler, bracket, run = sampler.partition(" [")
    name = load_card(codec).get("legend", codec)
    label = curve_label(name, sampler)
    return f"{label} [{run}" if bracket else label


def figure_title(figure: Figure, dataset: str | None) -> None:
    """The image set's label above the panels."""
    if dataset is not None:
        figure.suptitle(dataset, fontsize=9)


def figure_legend(figure: Figure, axes, rows: int, columns: int = 5) -> None:
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
