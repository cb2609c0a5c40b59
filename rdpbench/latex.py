"""LaTeX tables of ``rdpbench report``, ready to ``\\input`` inside a ``table`` environment
(they need ``\\usepackage{booktabs}``): per image set, the rate points, the BD-rates against
the anchor and, with ``--at-bpp``, every curve at each rate. Metric headers carry the better
direction ($\\uparrow$, $\\downarrow$); in the BD-rate and at-rate tables, which compare curves
at equal quality or rate, the best value of each column is bold.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .metrics import higher_is_better
from .report import bd_table, curve_name, default_anchor, metric_columns, parse_anchor, points_table
from .results import atomic_write_text
from .tables import at_rate_table, results_by_dataset

_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_ARROWS = {True: r" $\uparrow$", False: r" $\downarrow$", None: ""}


def escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped."""
    return "".join(_SPECIAL.get(character, character) for character in str(text))


def tabular(frame: pd.DataFrame, labels: list[str], best: dict[str, bool], digits: int = 4) -> str:
    """A booktabs tabular of ``frame``: text columns left, numbers right; ``labels`` are the
    headers (already LaTeX); in each column of ``best`` (column -> higher is better) the best
    value is bold. Empty cells are ``--``."""
    numeric = [pd.api.types.is_numeric_dtype(frame[column]) for column in frame.columns]
    lines = [r"\begin{tabular}{" + "".join("r" if n else "l" for n in numeric) + "}", r"\toprule",
             " & ".join(labels) + r" \\", r"\midrule"]
    bold = {column: _best(frame[column], higher) for column, higher in best.items()}
    for index, row in frame.iterrows():
        cells = []
        for column, is_number in zip(frame.columns, numeric):
            value = row[column]
            if not is_number:
                cells.append(escape(value))
            elif pd.isna(value) or not np.isfinite(value):
                cells.append("--")
            else:
                text = f"{value:.{digits}g}"
                cells.append(rf"\textbf{{{text}}}" if bold.get(column) == index else text)
        lines.append(" & ".join(cells) + r" \\")
    return "\n".join(lines + [r"\bottomrule", r"\end{tabular}"])


def _best(values: pd.Series, higher: bool):
    """The index of the best finite value (None when there is none)."""
    finite = pd.to_numeric(values, errors="coerce").replace([np.inf, -np.inf], np.nan).dropna()
    if finite.empty:
        return None
    return finite.idxmax() if higher else finite.idxmin()


def metric_label(metric: str) -> str:
    """A metric's header: its name, escaped, and its better direction."""
    return escape(metric) + _ARROWS[higher_is_better(metric)]


def points_latex(points: pd.DataFrame) -> str:
    """Every rate point (codec, sampler, quality, n_images, bpp and every metric)."""
    table = points_table(points)
    labels = [escape(c) if c not in metric_columns(points) else metric_label(c) for c in table.columns]
    return tabular(table, labels, {})


def bd_latex(points: pd.DataFrame, anchor: str) -> str:
    """BD-rate (%) of every curve against ``anchor`` (rows), one column per metric; the
    lowest (fewest bits at equal quality) of each column is bold."""
    bd = bd_table(points, anchor)
    bd = bd.assign(curve=[curve_name(c, s) for c, s in zip(bd.codec, bd.sampler)])
    wide = bd.pivot(index="curve", columns="metric", values="bd_rate_percent")
    metrics = [m for m in metric_columns(points) if m in wide.columns]
    table = wide.reindex(list(dict.fromkeys(bd.curve)))[metrics].astype(float).reset_index()
    return tabular(table, ["curve", *map(metric_label, metrics)], {m: False for m in metrics})


def at_rate_latex(points: pd.DataFrame, rate: float) -> str:
    """Every curve at ``rate`` bpp (:func:`rdpbench.tables.at_rate_table`); the best value of
    each metric with a known direction is bold."""
    table = at_rate_table(points, [rate])
    metrics = [m for m in metric_columns(points) if m in table]
    table = table.assign(curve=[curve_name(c, s) for c, s in zip(table.codec, table.sampler)])[["curve", *metrics]]
    best = {m: higher_is_better(m) for m in metrics if higher_is_better(m) is not None}
    return tabular(table, ["curve", *map(metric_label, metrics)], best)


def write_latex_tables(folder: Path, out: Path | None = None, anchor: str | None = None,
                       rates: list[float] | None = None) -> list[Path]:
    """report.tex (per image set: the rate points and the BD-rates against ``anchor``, by
    default :func:`rdpbench.report.default_anchor`) and, with ``rates``, report_at_bpp.tex."""
    out = Path(out or folder)
    report, at_rates = [], []
    for dataset, group in results_by_dataset(folder):
        report += [f"% {escape(dataset)}: rate points", points_latex(group), ""]
        chosen = anchor or default_anchor(group)
        curves = set(zip(group.codec, group.sampler))
        if parse_anchor(chosen) in curves and len(curves) > 1:
            report += [f"% {escape(dataset)}: BD-rate (%) against {escape(chosen)}, pchip interpolation; "
                       "lower is better in every column", bd_latex(group, chosen), ""]
        for rate in rates or []:
            at_rates += [f"% {escape(dataset)}: every curve at {rate:g} bpp (pchip over log bpp; -- outside a "
                         "curve's measured rates)", at_rate_latex(group, rate), ""]
    paths = [out / "report.tex"]
    atomic_write_text(paths[0], "\n".join(report))
    if rates:
        paths.append(out / "report_at_bpp.tex")
        atomic_write_text(paths[1], "\n".join(at_rates))
    return paths
