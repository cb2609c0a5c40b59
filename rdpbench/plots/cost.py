"""A metric against a cost (seconds, MACs) at one rate: what quality each codec buys for its price."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..errors import RdpbenchError
from .style import COLUMN_WIDTH_IN, NotebookFigure, legend_label, metric_title


def cost_points(points: pd.DataFrame, cost: str, metric: str, rate: float) -> pd.DataFrame:
    """Per curve (codec, sampler): ``metric`` and ``cost`` (decode_s, dec_kmac_per_px, ...)
    read at ``rate`` bpp as ``report --at-bpp`` reads them (:func:`rdpbench.tables.metric_at_rate`);
    curves that cannot say (rate outside, cost not measured) are left out."""
    from ..tables import metric_at_rate

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
        axis.annotate(legend_label(row.codec, row.sampler), (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    axis.set_xscale("log")
    axis.set_xlabel(cost)
    axis.set_ylabel(f"{metric_title(metric)} at {rate:g} bpp")
    return figure
