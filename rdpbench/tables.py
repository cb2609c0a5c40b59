"""Every curve read at given rates (``rdpbench report --at-bpp``): one table per image set.

A metric is read off a curve as BD-rate reads it (:data:`rdpbench.report.BD_METHOD`): a
monotone piecewise cubic (``scipy.interpolate.PchipInterpolator``) through the curve's rate
points, the metric against log(bpp), and only inside the curve's measured rates. Outside them
the cell stays empty and the row's note says why: nothing is extrapolated.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .errors import RdpbenchError
from .report import metric_columns, to_markdown
from .results import atomic_write_text, collect_points, dataset_groups, runs_apart, write_csv

AT_RATE_KEY = ["bpp", "codec", "sampler"]


def results_by_dataset(folder: Path) -> list[tuple[str, pd.DataFrame]]:
    """(image set label, its rate points) for the results under ``folder``, a curve per run
    where runs share a codec and sampler (:func:`rdpbench.results.runs_apart`)."""
    points = collect_points(folder)
    if points.empty:
        raise RdpbenchError(f"no results under {folder} (no run folder and no CompressAI JSON file)")
    return [(dataset, runs_apart(group)) for dataset, group in dataset_groups(points)]


def metric_at_rate(bpp: np.ndarray, values: np.ndarray, rate: float) -> tuple[float, str]:
    """``values`` (a metric at rates ``bpp``) read at ``rate`` by pchip over log(bpp); NaN and
    the reason when the curve cannot say (too few points, repeated rates, ``rate`` outside)."""
    from scipy.interpolate import PchipInterpolator

    keep = np.isfinite(bpp) & np.isfinite(values) & (bpp > 0)
    bpp, values = bpp[keep], values[keep]
    order = np.argsort(bpp, kind="stable")
    bpp, values = bpp[order], values[order]
    if len(bpp) < 2:
        return np.nan, "fewer than 2 rate points"
    if np.any(np.diff(bpp) <= 0):
        return np.nan, "repeated rates"
    if not bpp[0] <= rate <= bpp[-1]:
        return np.nan, f"outside the measured rates {bpp[0]:.4g}-{bpp[-1]:.4g} bpp"
    return float(PchipInterpolator(np.log(bpp), values)(np.log(rate))), ""


def at_rate_table(points: pd.DataFrame, rates: list[float]) -> pd.DataFrame:
    """Per rate (in order) and curve: every metric read at that rate (:func:`metric_at_rate`).
    Columns: bpp, codec, sampler, the metrics, note (why cells are empty)."""
    metrics = metric_columns(points)
    curves = list(points.groupby(["codec", "sampler"], sort=False))
    rows = []
    for rate in rates:
        for (codec, sampler), curve in curves:
            row, problems = {"bpp": rate, "codec": codec, "sampler": sampler}, {}
            for metric in metrics:
                row[metric], problem = metric_at_rate(curve.bpp.to_numpy(dtype=float),
                                                      curve[metric].to_numpy(dtype=float), rate)
                if problem:
                    problems.setdefault(problem, []).append(metric)
            row["note"] = "; ".join(f"{', '.join(names)}: {problem}" if len(problems) > 1 or len(names) < len(metrics)
                                    else problem for problem, names in problems.items())
            rows.append(row)
    return pd.DataFrame(rows, columns=AT_RATE_KEY + metrics + ["note"])


def write_at_rate_tables(folder: Path, rates: list[float], out: Path | None = None) -> list[Path]:
    """report_at_bpp.md and report_at_bpp.csv: :func:`at_rate_table` of each image set under
    ``folder``, at ``rates`` (bpp)."""
    bad = [rate for rate in rates if not (np.isfinite(rate) and rate > 0)]
    if bad:
        raise RdpbenchError(f"--at-bpp {bad[0]}: a rate is a number of bits per pixel above 0")
    out = Path(out or folder)
    markdown = [f"# Results under {folder} at {', '.join(f'{rate:g}' for rate in rates)} bpp", "",
                "Each metric read off each curve at the rate: a monotone piecewise cubic (pchip) of the metric "
                "against log(bpp), as BD-rate interpolates; a rate outside a curve's measured rates leaves its "
                "cells empty (never extrapolated), and the note says so.", ""]
    tables = []
    for dataset, group in results_by_dataset(folder):
        table = at_rate_table(group, rates)
        markdown += [f"## {dataset}", ""]
        for rate, rows in table.groupby("bpp", sort=False):
            markdown += [f"### at {rate:g} bpp", "", to_markdown(rows.drop(columns="bpp").reset_index(drop=True)), ""]
        tables.append(table.assign(dataset=dataset))
    paths = [out / "report_at_bpp.md", out / "report_at_bpp.csv"]
    atomic_write_text(paths[0], "\n".join(markdown))
    frame = pd.concat(tables, ignore_index=True)
    write_csv(frame[["dataset", *[c for c in frame.columns if c != "dataset"]]], paths[1])
    return paths
