"""Tables researchers publish: every metric at every rate point, Bjontegaard deltas against an
anchor codec, and paired per-image comparisons with bootstrap intervals.

Bjontegaard deltas use the ``bjontegaard`` package (piecewise cubic Hermite interpolation,
``pchip``, by default). Each metric's better direction comes from the metric registry
(:func:`rdpbench.metrics.higher_is_better`, pyiqa's table for ``pyiqa:`` metrics); a
lower-is-better metric is negated before the call (the package assumes higher is better) and
its BD-metric is reported back in the metric's own units, test minus anchor. A curve that is
not monotone in rate gets no number but a stated reason.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import RdpbenchError
from .metrics import higher_is_better, list_metrics
from .results import atomic_write_text, collect_metric_variants, collect_points, dataset_groups, runs_apart, write_csv
from .schema import COMPLEXITY_COLUMNS, COMPLEXITY_NOTE, DEFAULT_SAMPLER, NOT_METRICS, TIME_COLUMNS, curve_label

BD_METHOD = "pchip"

def metric_columns(frame: pd.DataFrame) -> list[str]:
    """Metric columns of a results frame, registered metrics first in registry order."""
    present = [c for c in frame.columns if c not in NOT_METRICS and frame[c].notna().any()]
    known = [m for m in list_metrics() if m in present]
    return known + sorted(set(present) - set(known))


def parse_anchor(anchor: str) -> tuple[str, str]:
    """``"msh"`` -> ("msh", "default"); ``"ours@msh"`` -> ("ours", "msh")."""
    codec, _, sampler = anchor.partition("@")
    return codec, sampler or DEFAULT_SAMPLER


def curve_name(codec: str, sampler: str) -> str:
    """A curve as an anchor names it, the inverse of :func:`parse_anchor`: ("msh", "default")
    -> ``"msh"``; ("ours", "ddim10") -> ``"ours@ddim10"``."""
    return curve_label(codec, sampler, joiner="@{}")


def bd_table(points: pd.DataFrame, anchor: str = "msh", method: str = BD_METHOD) -> pd.DataFrame:
    """BD-rate (%) and BD-metric of every curve against ``anchor``, for every metric with a
    known direction. Columns: codec, sampler, metric, bd_rate_percent, bd_metric, note."""
    import bjontegaard

    anchor_key = parse_anchor(anchor)
    curves = {key: group.sort_values("bpp") for key, group in points.groupby(["codec", "sampler"], sort=False)}
    if anchor_key not in curves:
        available = ", ".join(curve_name(*curve) for curve in curves)
        raise RdpbenchError(f"anchor {anchor!r} is not among the results; available: {available}")
    reference = curves[anchor_key]
    rows = []
    for (codec, sampler), curve in curves.items():
        if (codec, sampler) == anchor_key:
            continue
        for metric in metric_columns(points):
            better = higher_is_better(metric)
            if better is None or metric not in curve or metric not in reference:
                continue
            sign = 1.0 if better else -1.0
            row = {"codec": codec, "sampler": sampler, "metric": metric,
                   "bd_rate_percent": np.nan, "bd_metric": np.nan, "note": ""}
            problem = _curve_problem(reference, metric, sign, "anchor") or _curve_problem(curve, metric, sign, "curve")
            if problem:
                row["note"] = problem
            else:
                arguments = (reference.bpp.to_numpy(), sign * reference[metric].to_numpy(),
                             curve.bpp.to_numpy(), sign * curve[metric].to_numpy())
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        row["bd_rate_percent"] = bjontegaard.bd_rate(*arguments, method=method, require_matching_points=False)
                        row["bd_metric"] = sign * bjontegaard.bd_psnr(*arguments, method=method, require_matching_points=False)
                except (AssertionError, ValueError) as error:
                    row["note"] = f"no BD value: {error or 'curves do not overlap enough in rate'}"
            rows.append(row)
    return pd.DataFrame(rows, columns=["codec", "sampler", "metric", "bd_rate_percent", "bd_metric", "note"])


def _curve_problem(curve: pd.DataFrame, metric: str, sign: float, which: str) -> str:
    """Why a curve cannot enter a Bjontegaard computation ('' when it can)."""
    values = curve[["bpp", metric]].dropna()
    if len(values) < 2:
        return f"{which} has fewer than 2 rate points with {metric}"
    if not np.all(np.diff(values.bpp.to_numpy()) > 0):
        return f"{which} has repeated rates"
    if not np.all(np.diff(sign * values[metric].to_numpy()) > 0):
        return f"{which} is not monotone in rate for {metric} (quality does not improve with every rate step)"
    return ""


def points_table(points: pd.DataFrame) -> pd.DataFrame:
    """Every rate point (rows) with bpp and every metric (columns), in a stable order."""
    columns = ["codec", "sampler", "quality", "n_images", "bpp", *metric_columns(points)]
    columns = [c for c in columns if c in points]
    return points[columns].sort_values(["codec", "sampler", "bpp"], kind="stable").reset_index(drop=True)


def rate_gap_table(points: pd.DataFrame) -> pd.DataFrame:
    """Per codec and rate point with a likelihood estimate: the real bpp, the estimated bpp
    and the gap in percent of the estimate (positive: the bytes are larger). Samplers share
    one bitstream, so each point appears once."""
    if "bpp_est" not in points:
        return pd.DataFrame(columns=["codec", "quality", "bpp", "bpp_est", "gap_percent"])
    known = points.dropna(subset=["bpp_est"]).drop_duplicates(["codec", "quality"])
    table = known[["codec", "quality", "bpp", "bpp_est"]].sort_values(["codec", "bpp"], kind="stable")
    return table.assign(gap_percent=100 * (table.bpp / table.bpp_est - 1)).reset_index(drop=True)


def complexity_table(points: pd.DataFrame) -> pd.DataFrame:
    """Per rate point measured with ``--complexity``: bpp, encode and decode seconds, and the
    complexity columns with their note; empty when no run measured them."""
    if "dec_kmac_per_px" not in points and COMPLEXITY_NOTE not in points:
        return pd.DataFrame()
    measured = points[points.reindex(columns=COMPLEXITY_COLUMNS + [COMPLEXITY_NOTE]).notna().any(axis=1)]
    columns = ["codec", "sampler", "quality", "bpp", *TIME_COLUMNS, *COMPLEXITY_COLUMNS, COMPLEXITY_NOTE]
    table = measured.reindex(columns=columns)
    return table.sort_values(["codec", "sampler", "bpp"], kind="stable").reset_index(drop=True)


def arrow(metric: str) -> str:
    """'↑' for higher-is-better metrics, '↓' for lower-is-better ones, '' if unknown."""
    return {True: "↑", False: "↓", None: ""}[higher_is_better(metric)]


def to_markdown(frame: pd.DataFrame, digits: int = 4) -> str:
    """A GitHub-flavoured Markdown table (no extra dependency)."""
    headers = [f"{c} {arrow(c)}".strip() for c in frame.columns]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    for row in frame.itertuples(index=False):
        cells = [f"{v:.{digits}g}" if isinstance(v, float) and np.isfinite(v)
                 else ("" if isinstance(v, float) else str(v)) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def variants_section(variants: dict[str, dict[str, list[str]]]) -> list[str]:
    """Markdown lines naming the exact variant of every metric, and any metric whose runs
    used different variants (their numbers are not comparable)."""
    if not variants:
        return []
    lines = ["## Metric variants", ""]
    for metric, found in variants.items():
        if len(found) == 1:
            lines.append(f"- **{metric}**: `{next(iter(found))}`")
        else:
            lines.append(f"- **{metric}**: NOT COMPARABLE, the runs used {len(found)} variants:")
            lines += [f"  - `{variant}` in {', '.join(runs)}" for variant, runs in found.items()]
    return lines + [""]


def default_anchor(points: pd.DataFrame) -> str:
    """``msh`` when its curve is among the results, else the first curve (CODEC[@SAMPLER])."""
    curves = list(dict.fromkeys(zip(points.codec, points.sampler)))
    if ("msh", DEFAULT_SAMPLER) in curves:
        return "msh"
    return curve_name(*curves[0])


def write_report(folder: Path, out: Path | None = None, anchor: str | None = None) -> list[Path]:
    """report.md, report_points.csv and report_bd.csv for the results under ``folder``, one
    section per image set; BD values against ``anchor`` within each set (default:
    :func:`default_anchor` of that set). An ``anchor`` that is no curve of any set is an
    RdpbenchError naming the curves, raised before anything is written."""
    points = collect_points(folder)
    if points.empty:
        raise RdpbenchError(f"no results under {folder} (no run folder and no CompressAI JSON file)")
    groups = [(dataset, runs_apart(group)) for dataset, group in dataset_groups(points)]
    curves = dict.fromkeys(curve for _, group in groups for curve in zip(group.codec, group.sampler))
    if anchor and parse_anchor(anchor) not in curves:
        raise RdpbenchError(f"anchor {anchor!r} is not among the results under {folder}; the curves are: "
                            f"{', '.join(curve_name(*curve) for curve in curves)}")
    out = Path(out or folder)
    markdown = [f"# Results under {folder}", "", *variants_section(collect_metric_variants(folder))]
    tables, bd_tables = [], []
    for dataset, group in groups:
        table = points_table(group)
        chosen = anchor or default_anchor(group)
        if anchor and parse_anchor(anchor) not in set(zip(group.codec, group.sampler)):
            bd = pd.DataFrame(columns=["codec", "sampler", "metric", "bd_rate_percent", "bd_metric", "note"])
            heading = f"{anchor} is not among the results on {dataset}: no Bjontegaard deltas"
        else:
            bd = bd_table(group, chosen)
            why = "" if anchor else (" (the default anchor: msh is present)" if chosen == "msh" else
                                     " (the default anchor: there is no msh curve, so the first curve)")
            heading = f"Bjontegaard deltas against {chosen}{why} ({BD_METHOD} interpolation)"
        markdown += [f"## {dataset}", "", "### Rate points", "", to_markdown(table), ""]
        gaps = rate_gap_table(group)
        if not gaps.empty:
            markdown += ["### Real bytes against the likelihood estimate", "",
                         "bpp counts the bitstream's bytes; bpp_est is the codec's own estimate, "
                         "-sum(log2 p) over its latents, the rate papers report.", "", to_markdown(gaps), ""]
        costs = complexity_table(group)
        if not costs.empty:
            markdown += ["### Complexity", "",
                         "Measured on each run's first image (`--complexity`): thousands of multiply-accumulates "
                         "per pixel of the encode and decode (a diffusion decoder's per step, and its steps), "
                         "parameters of the modules that ran, peak CUDA memory of a decode; seconds are the "
                         "per-image means. Empty cells: not applicable or not measured, as the note says.", "",
                         to_markdown(costs), ""]
        markdown += [f"### {heading}", "",
                     "BD-rate: % rate change at equal quality (negative: fewer bits). BD-metric: mean "
                     "metric difference at equal rate, test minus anchor, in the metric's units.", ""]
        for metric, metric_rows in bd.groupby("metric", sort=False):
            markdown += [f"#### {metric} {arrow(metric)}", "",
                         to_markdown(metric_rows.drop(columns="metric").reset_index(drop=True)), ""]
        tables.append(table.assign(dataset=dataset))
        bd_tables.append(bd.assign(dataset=dataset))
    paths = [out / "report.md", out / "report_points.csv", out / "report_bd.csv"]
    atomic_write_text(paths[0], "\n".join(markdown))
    write_csv(_dataset_first(pd.concat(tables, ignore_index=True)), paths[1])
    write_csv(_dataset_first(pd.concat(bd_tables, ignore_index=True)), paths[2])
    return paths


def _dataset_first(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[["dataset", *[c for c in frame.columns if c != "dataset"]]]


def bootstrap_interval(values: np.ndarray, resamples: int = 10_000, seed: int = 0) -> tuple[float, float]:
    """95% percentile bootstrap interval of the mean of ``values`` (resampling with
    replacement, seeded)."""
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (resamples, len(values)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def point_intervals(images: pd.DataFrame, resamples: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Per run, codec, quality and sampler: the 95% bootstrap interval of the mean of each
    per-image metric, as columns ``<metric>_ci95_low`` and ``<metric>_ci95_high``."""
    metrics = [m for m in metric_columns(images) if higher_is_better(m) is not None]
    rows = []
    for key, group in images.groupby(["run", "codec", "quality", "sampler"], sort=False):
        row = dict(zip(["run", "codec", "quality", "sampler"], key))
        for metric in metrics:
            values = pd.to_numeric(group[metric], errors="coerce").dropna().to_numpy(dtype=float)
            if len(values) == len(group) and len(values) > 1:
                row[f"{metric}_ci95_low"], row[f"{metric}_ci95_high"] = bootstrap_interval(values, resamples, seed)
        rows.append(row)
    return pd.DataFrame(rows)


def paired_comparison(
    images: pd.DataFrame, metric: str, a: dict, b: dict, resamples: int = 10_000, seed: int = 0
) -> dict:
    """Mean of the per-image difference b - a of ``metric`` over the images both have, with a
    95% percentile bootstrap interval. ``a`` and ``b`` select rows, e.g.
    {"codec": "ours", "sampler": "ddim10", "quality": "2"}."""

    def select(selector: dict) -> pd.Series:
        mask = np.ones(len(images), dtype=bool)
        for column, value in selector.items():
            mask &= images[column].astype(str).to_numpy() == str(value)
        chosen = images[mask]
        if chosen.image.duplicated().any():
            raise RdpbenchError(f"{selector} selects an image more than once; add quality or sampler")
        return chosen.set_index("image")[metric]

    first, second = select(a), select(b)
    common = first.index.intersection(second.index)
    if len(common) == 0:
        raise RdpbenchError(f"{a} and {b} share no image")
    differences = (second[common] - first[common]).to_numpy(dtype=float)
    low, high = bootstrap_interval(differences, resamples, seed)
    return {"metric": metric, "n_images": len(common), "mean_difference": float(differences.mean()),
            "ci95_low": float(low), "ci95_high": float(high), "differences": pd.Series(differences, index=common)}

