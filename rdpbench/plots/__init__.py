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

from pathlib import Path

from ..errors import RdpbenchError
from ..report import point_intervals
from ..results import collect_images, collect_points, dataset_groups
from .cost import cost_points, plot_cost_at_rate
from .distortion_perception import dp_points, plot_distortion_perception
from .rate_distortion import FIG3_PANELS, panels_for, plot_rd_grid, rd_grid_points
from .style import (
    COLUMN_WIDTH_IN,
    DRAWN_COLUMNS,
    FIGURE_WIDTHS,
    METRIC_TITLES,
    PAGE_WIDTH_IN,
    NotebookFigure,
    curve_styles,
    file_label,
    legend_label,
    metric_title,
    save_figure,
)

__all__ = [
    "COLUMN_WIDTH_IN", "DRAWN_COLUMNS", "FIG3_PANELS", "FIGURE_WIDTHS", "METRIC_TITLES", "PAGE_WIDTH_IN",
    "NotebookFigure", "cost_points", "curve_styles", "draw_results", "dp_points", "file_label", "legend_label",
    "metric_title", "panels_for", "plot_cost_at_rate", "plot_distortion_perception", "plot_rd_grid",
    "rd_grid_points", "save_figure",
]


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
    from ..codecs.cards import published_beside

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
