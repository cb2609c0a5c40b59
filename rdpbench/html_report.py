"""``rdpbench report --html``: one self-contained HTML page of a results folder, to publish
or browse from a file:// URL without a network.

Per image set the page shows the rate-distortion curves (one panel per metric, published
curves dashed), the distortion-perception view, the tables of the Markdown report and, for
runs made with ``--save-images``, a viewer of two reconstructions side by side. Everything
the page shows travels in one JSON blob that an inline script (``rdpbench/data/html``) draws;
reconstructions are embedded as the PNG files the run saved, base64 in data: URIs.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.colors import to_hex
from PIL import Image

from .errors import RdpbenchError
from .metrics import higher_is_better
from .paths import RunFolder
from .plots import curve_styles, dp_points, legend_label, metric_title, panels_for, rd_grid_points
from .report import (BD_METHOD, arrow, bd_table, default_anchor, metric_columns, parse_anchor, points_table,
                     rate_gap_table)
from .results import (atomic_write_text, collect_metric_variants, collect_points, dataset_groups, json_safe,
                      readable_runs, runs_apart)
from .show import original_pixels

#: How many images of each set the viewer embeds unless told otherwise.
DEFAULT_VIEWER_IMAGES = 4
ASSETS = "data/html"
#: SVG stroke-dasharray of each matplotlib line style rdpbench.plots uses.
DASHES = {"-": "", "--": "6 3", "-.": "6 3 1.5 3", ":": "1.5 3"}


def write_html_report(folder: Path, out: Path, anchor: str | None = None, images: int = DEFAULT_VIEWER_IMAGES,
                      image_names: list[str] | None = None, distortion: str = "psnr", perception: str = "fid",
                      published: bool = True) -> tuple[Path, list[str]]:
    """Write the page of the results under ``folder`` to ``out`` (a file); the viewer embeds
    the first ``images`` images of each set (0: none), or those named in ``image_names``.
    Returns the path and notes on what was left out."""
    data, notes = page_data(Path(folder), anchor, images, image_names, distortion, perception, published)
    atomic_write_text(Path(out), render_page(data))
    return Path(out), notes


def page_data(folder: Path, anchor: str | None, images: int, image_names: list[str] | None, distortion: str,
              perception: str, published: bool) -> tuple[dict, list[str]]:
    """Everything the page shows, as JSON-ready data, and notes."""
    from .codecs.cards import published_beside

    if images < 0:
        raise RdpbenchError(f"--html-images {images}: give a count of images, 0 or more")
    points = collect_points(folder)
    if points.empty:
        raise RdpbenchError(f"no results under {folder} (no run folder and no CompressAI JSON file)")
    notes, sets = [], []
    for label, group in dataset_groups(points):
        reference = published_beside(group) if published else None
        drawn = rd_grid_points(group, reference, panels_for(group))
        dp = dp_points(group, distortion, perception)
        keys = list(dict.fromkeys([*zip(drawn.codec, drawn.sampler, drawn.published),
                                   *zip(dp.codec, dp.sampler, dp.published)]))
        styles = curve_styles(keys)
        curves = [_curve_entry(key, styles[key]) for key in keys]
        index = {key: number for number, key in enumerate(keys)}
        viewer, viewer_notes = _viewer(folder, group, index, images, image_names)
        notes += [f"{label}: {note}" for note in viewer_notes]
        sets.append({"label": label, "curves": curves, "rd": _rd_panels(drawn, index),
                     "dp": _dp_panels(dp, index, distortion, perception),
                     "tables": _tables(group, anchor), "viewer": viewer})
    variants = {metric: [{"variant": variant, "runs": runs} for variant, runs in found.items()]
                for metric, found in collect_metric_variants(folder).items()}
    return {"title": f"Results under {folder.name or folder}", "variants": variants, "sets": sets}, notes


def _curve_entry(key: tuple, style: tuple) -> dict:
    codec, sampler, is_published = key
    colour, line, _marker, label = style
    return {"codec": codec, "sampler": sampler, "published": bool(is_published), "label": label,
            "colour": to_hex(colour), "dash": _dash(line)}


def _dash(line) -> str:
    """SVG stroke-dasharray of a matplotlib line style ("-", "--", ..., or (0, (on, off, ...)))."""
    if isinstance(line, tuple):
        return " ".join(f"{1.5 * length:g}" for length in line[1])
    return DASHES[line]


def _rd_panels(drawn: pd.DataFrame, index: dict) -> list[dict]:
    """One panel per metric that a measured curve has, in the grid's order."""
    measured = drawn[~drawn.published]
    panels = []
    for metric in dict.fromkeys(measured.metric):
        rows = drawn[drawn.metric == metric]
        panels.append({"metric": metric, "title": metric_title(metric), "higher": higher_is_better(metric),
                       "points": [{"curve": index[(r.codec, r.sampler, r.published)], "point": r.point,
                                   "bpp": float(r.bpp), "value": float(r.value)} for r in rows.itertuples()]})
    return panels


def _dp_panels(dp: pd.DataFrame, index: dict, distortion: str, perception: str) -> dict:
    """The distortion-perception view: its axes and panels of (distortion, perception) points;
    ``joins`` says which points a line joins: each curve's ("curve") or the codec's samplers."""
    wide = dp.pivot_table(index=["panel", "codec", "sampler", "published", "point", "bpp"], columns="metric",
                          values="value", sort=False).reset_index() if not dp.empty else dp
    panels = []
    for name, rows in (wide.groupby("panel", sort=False) if not wide.empty else []):
        joins = "curve" if name == "all" else rows.codec.iloc[0]  # a sampler panel lists its codec first
        panels.append({"name": name, "joins": joins, "points": [
            {"curve": index[(r["codec"], r["sampler"], r["published"])], "codec": r["codec"], "point": r["point"],
             "bpp": float(r["bpp"]), "x": float(r[distortion]), "y": float(r[perception])}
            for r in rows.to_dict("records")]})
    return {"x": metric_title(distortion), "y": metric_title(perception), "panels": panels}


def _tables(group: pd.DataFrame, anchor: str | None) -> list[dict]:
    """The Markdown report's tables of one image set (rate points, real against estimated
    bytes, Bjontegaard deltas per metric), as columns and rows of raw values."""
    group = runs_apart(group)
    tables = [_table("Rate points", points_table(group))]
    gaps = rate_gap_table(group)
    if not gaps.empty:
        tables.append(_table("Real bytes against the likelihood estimate", gaps))
    curves = set(zip(group.codec, group.sampler))
    if anchor and parse_anchor(anchor) not in curves:
        tables.append({"title": f"{anchor} is not among the results on this set: no Bjontegaard deltas",
                       "columns": [], "rows": []})
        return tables
    chosen = anchor or default_anchor(group)
    bd = bd_table(group, chosen)
    for metric, rows in bd.groupby("metric", sort=False):
        tables.append(_table(f"BD against {chosen} ({BD_METHOD}): {metric_title(metric)}",
                             rows.drop(columns="metric")))
    return tables


def _table(title: str, frame: pd.DataFrame) -> dict:
    headers = [f"{c} {arrow(c)}".strip() for c in frame.columns]
    rows = [[_plain(value) for value in row] for row in frame.itertuples(index=False)]
    return {"title": title, "columns": headers, "rows": rows}


def _plain(value):
    """A cell as a JSON value: numpy scalars become Python numbers, missing values None."""
    if isinstance(value, (np.integer, np.floating)):
        value = value.item()
    return None if value is None or (isinstance(value, float) and not np.isfinite(value)) else value


def _viewer(folder: Path, group: pd.DataFrame, index: dict, limit: int,
            names: list[str] | None) -> tuple[dict, list[str]]:
    """The saved reconstructions of one image set's runs, as data: URIs of the PNG files
    as saved, with each image's original (encoded as PNG from the pixels the codecs saw)."""
    viewer = {"images": [], "recons": [], "uris": []}
    if limit == 0 and not names:
        return viewer, []
    hashes = group.get("dataset_sha256", pd.Series(dtype=object)).dropna()
    identity = hashes.iloc[0] if len(hashes) else None
    notes = []
    runs = [(run, manifest, rows) for run, manifest, rows in readable_runs(folder)
            if identity is not None and manifest.get("dataset", {}).get("content_sha256") == identity
            and (manifest.get("saved") or {}).get("images")]
    if not runs:
        return viewer, []
    available = list(dict.fromkeys(itertools.chain.from_iterable(rows.image for _, _, rows in runs)))
    if names:
        chosen = [name for name in names if name in available]
        notes += [f"no saved reconstruction of {name}" for name in names if name not in available]
    else:
        chosen = available[:limit]
        if len(available) > limit:
            notes.append(f"the viewer holds {limit} of {len(available)} images (--html-images N for more)")
    for name in chosen:
        entry = {"name": name, "original": None}
        try:
            entry["original"] = _add_uri(viewer, _png_uri(original_pixels(runs[0][1], name)))
        except RdpbenchError as error:
            notes.append(f"no original of {name} in the viewer: {error}")
        for run, _, rows in runs:
            for row in rows[rows.image == name].to_dict("records"):
                path = RunFolder(run).image(str(row["quality"]), row["sampler"], name)
                if not path.is_file():
                    continue
                entry.setdefault("width", int(row["width"]))
                entry.setdefault("height", int(row["height"]))
                key = (row["codec"], row["sampler"], False)
                if key not in index:  # runs_apart told the runs' curves apart by run name
                    key = (row["codec"], f"{row['sampler']} [{run.name}]", False)
                uri = "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
                metrics = {metric_title(m): _plain(row[m]) for m in metric_columns(rows) if _plain(row[m]) is not None}
                viewer["recons"].append({"image": name, "curve": index.get(key), "label": legend_label(*key[:2]),
                                         "point": str(row["quality"]), "bpp": _plain(row["bpp"]),
                                         "metrics": metrics, "src": _add_uri(viewer, uri)})
        if "width" in entry:  # at least one reconstruction's file is there
            viewer["images"].append(entry)
        else:
            notes.append(f"no saved reconstruction file of {name} is left")
    return viewer, notes


def _add_uri(viewer: dict, uri: str) -> int:
    viewer["uris"].append(uri)
    return len(viewer["uris"]) - 1


def _png_uri(pixels: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def script_json(data: dict) -> str:
    """``data`` as JSON that is safe inside a <script> element: no "<", ">" or "&" appears
    raw, so neither "</script>" nor "<!--" can end or change the element."""
    text = json.dumps(json_safe(data), allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_page(data: dict) -> str:
    """The HTML page: the stylesheet and the script inlined once, the data as one JSON blob."""
    assets = resources.files("rdpbench").joinpath(ASSETS)
    style = assets.joinpath("report.css").read_text(encoding="utf-8")
    script = assets.joinpath("report.js").read_text(encoding="utf-8")
    title = data["title"].replace("&", "&amp;").replace("<", "&lt;")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
            "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n"
            f"<title>{title}</title>\n<style>\n{style}</style>\n</head>\n<body>\n"
            f"<script type=\"application/json\" id=\"rdpbench-data\">{script_json(data)}</script>\n"
            f"<main id=\"report\"></main>\n<script>\n{script}</script>\n</body>\n</html>\n")
