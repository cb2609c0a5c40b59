"""Results on disk: the schema of a run folder, atomic writes, aggregation to rate points and
CompressAI's JSON format.

A run folder holds::

    images.csv   one row per codec, quality, sampler, image
    points.csv   one row per codec, quality, sampler: means over images + dataset-level metrics
    run.json     the manifest: schema_version, command, versions, device, seed, dataset hash,
                 weight hashes, conversions; it describes the two CSV files beside it
    compressai-<sampler>.json   the rate points in CompressAI's results format
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from .atomic import atomic_write

SCHEMA_VERSION = 1
KEY_COLUMNS = ["codec", "quality", "sampler", "image"]
RATE_COLUMNS = ["height", "width", "bytes", "bpp"]
TIME_COLUMNS = ["encode_s", "decode_s"]
POINT_KEY = ["codec", "quality", "sampler"]

IMAGES_CSV = "images.csv"
POINTS_CSV = "points.csv"
MANIFEST = "run.json"

# CompressAI's result keys for the metrics both projects compute.
_COMPRESSAI_NAMES = {"psnr": "psnr-rgb"}


def image_columns(metric_names: list[str]) -> list[str]:
    """Column order of images.csv for the given per-image metrics."""
    return KEY_COLUMNS + RATE_COLUMNS + metric_names + TIME_COLUMNS


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` so that ``path`` holds either its old or its new content, never a mix."""
    atomic_write(path, lambda handle: handle.write(text))


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    atomic_write_text(path, frame.to_csv(index=False))


def write_json(data: dict, path: Path) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, default=str) + "\n")


def read_images(path: Path) -> pd.DataFrame:
    """Read an images.csv, keeping rate points and image names as text."""
    return pd.read_csv(
        path,
        dtype={"codec": str, "quality": str, "sampler": str, "image": str},
        float_precision="round_trip",
    )


def aggregate_points(
    images: pd.DataFrame, metric_names: list[str], dataset_metrics: dict | None = None
) -> pd.DataFrame:
    """Rows of points.csv: per codec, quality and sampler, ``n_images``, the mean bpp and the
    mean of every per-image metric, then any dataset-level metrics (``dataset_metrics`` maps
    a (codec, quality, sampler) tuple to {metric: value}).

    A mean is empty when any image lacks the value, so a partial rate is never reported.
    """
    rows = []
    for key, group in images.groupby(POINT_KEY, sort=False):
        row = dict(zip(POINT_KEY, key))
        row["n_images"] = len(group)
        for column in ["bpp", *metric_names, *TIME_COLUMNS]:
            if column in group:
                row[column] = pd.to_numeric(group[column]).mean(skipna=False)
        row.update((dataset_metrics or {}).get(tuple(key), {}))
        rows.append(row)
    return pd.DataFrame(rows)


def to_compressai_json(points: pd.DataFrame, name: str, description: str, meta: dict) -> dict:
    """One curve in CompressAI's results format, plus ``schema_version`` and ``meta``."""
    results = {}
    for column in points.columns:
        if column in POINT_KEY or column == "n_images":
            continue
        values = [None if _missing(v) else float(v) for v in points[column]]
        results[_COMPRESSAI_NAMES.get(column, column)] = values
    results["quality"] = list(points["quality"])
    return {
        "name": name,
        "description": description,
        "schema_version": SCHEMA_VERSION,
        "meta": meta,
        "results": results,
    }


def read_compressai_json(path: Path) -> pd.DataFrame:
    """Rate points from a CompressAI results JSON file, with our column names."""
    data = json.loads(Path(path).read_text())
    results = data["results"]
    from_compressai = {v: k for k, v in _COMPRESSAI_NAMES.items()}
    n_points = len(results["bpp"])
    qualities = results.get("quality") or [str(i + 1) for i in range(n_points)]
    frame = pd.DataFrame(
        {
            "codec": data.get("name", Path(path).stem),
            "quality": [str(q) for q in qualities],
            "sampler": "default",
            "dataset": (data.get("meta") or {}).get("dataset", {}).get("name"),
        }
    )
    for key, values in results.items():
        if key != "quality":
            frame[from_compressai.get(key, key)] = pd.to_numeric(pd.Series(values), errors="coerce")
    return frame


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def run_folders(folder: Path) -> list[Path]:
    """Every run folder (one holding run.json and points.csv) under ``folder``, sorted."""
    return sorted(path.parent for path in Path(folder).rglob(MANIFEST) if (path.parent / POINTS_CSV).is_file())


def collect_points(folder: Path) -> pd.DataFrame:
    """Rate points of every run under ``folder``, plus any CompressAI JSON file there that is
    not a run's own export; column ``source`` tells "measured" from "compressai-json"."""
    frames = []
    runs = run_folders(folder)
    for run in runs:
        frame = pd.read_csv(run / POINTS_CSV, dtype={"codec": str, "quality": str, "sampler": str})
        manifest = json.loads((run / MANIFEST).read_text())
        frame["source"], frame["run"] = "measured", run.name
        frame["dataset"] = manifest.get("dataset", {}).get("name")
        frames.append(frame)
    for path in sorted(Path(folder).rglob("*.json")):
        if path.name == MANIFEST or path.parent in runs:
            continue
        try:
            frame = read_compressai_json(path)
        except (KeyError, ValueError, TypeError):
            continue  # some other JSON file
        frame["source"], frame["run"] = "compressai-json", path.stem
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=POINT_KEY)


def collect_images(folder: Path) -> pd.DataFrame:
    """Per-image rows of every run under ``folder`` (column ``run`` names the run)."""
    frames = []
    for run in run_folders(folder):
        frame = read_images(run / IMAGES_CSV)
        frame["run"] = run.name
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=KEY_COLUMNS)
