"""The write stage: images.csv in run order, points.csv, and one CompressAI export per
sampler. Every file is replaced atomically, so a crash leaves the last complete version."""

from __future__ import annotations

import pandas as pd

from .. import __version__
from ..metrics import with_derived_columns
from ..paths import RunFolder
from ..results import aggregate_points, in_run_order, to_compressai_json, write_csv, write_json
from ..schema import NOT_METRICS, curve_label, image_columns


def write_rows(folder: RunFolder, rows: list[dict], metric_names: list[str], manifest: dict,
               images: list[str]) -> pd.DataFrame:
    """images.csv: the requested metrics' columns first, then those earlier runs into the
    folder added; rows in the order a run writes them (rate point, image, sampler)."""
    targets = any("target_status" in row for row in rows)
    extra = sorted({column for row in rows for column in row} - set(image_columns(metric_names, targets)))
    frame = pd.DataFrame(rows, columns=image_columns(metric_names + extra, targets))
    frame = in_run_order(frame, manifest["points"], images, manifest["samplers"])
    write_csv(frame, folder.images_csv)
    return frame


def write_points(folder: RunFolder, images: pd.DataFrame, scores: dict, manifest: dict, codec_name: str) -> None:
    """points.csv (means of ``images``, the metrics derived from them, the per-point
    ``scores``) and one CompressAI JSON file per sampler."""
    per_image = [column for column in images.columns if column not in NOT_METRICS]
    points = with_derived_columns(aggregate_points(images, per_image, scores))
    write_csv(points, folder.points_csv)
    for sampler, curve in points.groupby("sampler", sort=False):
        exported = to_compressai_json(
            curve,
            curve_label(codec_name, sampler),
            f"rdpbench {__version__} on {manifest['dataset']['name']}",
            {key: manifest[key] for key in ("dataset", "device", "versions", "seed")},
        )
        write_json(exported, folder.export(sampler))
