"""The complexity stage of a ``--complexity`` run: each rate point and sampler's cost
(:mod:`rdpbench.complexity`), measured once on the run's first image and kept in
complexity.csv, so a resumed run measures only what is missing. The values join points.csv."""

from __future__ import annotations

import pandas as pd

from ..complexity import measure
from ..results import read_results_csv, write_csv
from ..schema import COMPLEXITY_COLUMNS, COMPLEXITY_NOTE, POINT_KEY, target_of
from .decode import image_seed
from .plan import Plan


def point_costs(plan: Plan, rows: dict) -> dict[tuple, dict]:
    """(codec, quality, sampler) -> the complexity columns, for every rate point and sampler of
    ``plan`` (``rows``: images.csv's rows by key; at a target rate, the first image's chosen
    setting is the one measured)."""
    path = plan.folder.complexity_csv
    kept = read_results_csv(path, POINT_KEY) if path.is_file() else pd.DataFrame(columns=POINT_KEY)
    costs = {tuple(row[column] for column in POINT_KEY): row for row in kept.to_dict("records")}
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
            write_csv(pd.DataFrame(list(costs.values()), columns=[*POINT_KEY, "image", *COMPLEXITY_COLUMNS,
                                                                   COMPLEXITY_NOTE]), path)
    return {key: {column: value[column] for column in [*COMPLEXITY_COLUMNS, COMPLEXITY_NOTE]}
            for key, value in costs.items()}
