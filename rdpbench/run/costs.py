"""The complexity stage of a ``--complexity`` run: each rate point and sampler's cost
(:mod:`rdpbench.complexity`), measured once on the run's first image and kept in
complexity.csv, so a resumed run measures only what is missing. The values join points.csv."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..complexity import measure
from ..errors import RdpbenchError
from ..paths import RunFolder
from ..results import read_results_csv, write_csv
from ..schema import COMPLEXITY_COLUMNS, COMPLEXITY_NOTE, POINT_KEY, target_of
from .decode import image_seed
from .plan import Plan

_FILE_COLUMNS = [*POINT_KEY, "image", *COMPLEXITY_COLUMNS, COMPLEXITY_NOTE]


def point_costs(plan: Plan, rows: dict) -> dict[tuple, dict]:
    """(codec, quality, sampler) -> the complexity columns, for every rate point and sampler of
    ``plan`` (``rows``: images.csv's rows by key; at a target rate, the first image's chosen
    setting is the one measured)."""
    path = plan.folder.complexity_csv
    costs = _read(path) if path.is_file() else {}
    first = plan.image_names[0]
    image = None
    for point in plan.points:
        for sampler in plan.samplers:
            key = (plan.codec.name, point, sampler)
            if key in costs:
                continue
            if image is None:
                image = next(item for item in plan.dataset.images if item.name == first).load()[0]
            setting = point if target_of(point) is None else rows[(*key, first)]["setting"]
            measured = measure(plan.codec, first, image, setting, sampler, image_seed(plan.settings.seed, first))
            costs[key] = {**dict(zip(POINT_KEY, key)), "image": first, **measured.columns()}
            _write(costs, path)
    return _point_columns(costs)


def merged_costs(shards: list[RunFolder], first_image: str, out: RunFolder) -> dict[tuple, dict]:
    """The costs one process would have measured, from shards that each measured on their own
    first image: those measured on ``first_image`` (the whole set's first), written to ``out``'s
    complexity.csv and returned as :func:`point_costs` returns them."""
    for shard in shards:
        costs = _read(shard.complexity_csv) if shard.complexity_csv.is_file() else {}
        if costs and all(row["image"] == first_image for row in costs.values()):
            _write(costs, out.complexity_csv)
            return _point_columns(costs)
    raise RdpbenchError(f"no shard holds a complexity.csv measured on the set's first image ({first_image}); "
                        "rerun the shard that holds it")


def _read(path: Path) -> dict[tuple, dict]:
    kept = read_results_csv(path, POINT_KEY)
    return {tuple(row[column] for column in POINT_KEY): row for row in kept.to_dict("records")}


def _write(costs: dict[tuple, dict], path: Path) -> None:
    write_csv(pd.DataFrame(list(costs.values()), columns=_FILE_COLUMNS), path)


def _point_columns(costs: dict[tuple, dict]) -> dict[tuple, dict]:
    return {key: {column: value[column] for column in [*COMPLEXITY_COLUMNS, COMPLEXITY_NOTE]}
            for key, value in costs.items()}
