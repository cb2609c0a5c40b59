"""The score stage: one images.csv row per reconstruction, and the distribution metrics (FID,
KID) of each rate point from the patch features saved per image (shared with the merge of
shards)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..cache import load_array, save_array
from ..images import save_png
from ..metrics.suite import MetricSuite
from ..paths import RunFolder
from ..schema import POINT_KEY
from .decode import Decoded
from .plan import Plan


def score_row(plan: Plan, point: str, original: torch.Tensor, decoded: Decoded) -> dict:
    """The images.csv row of one reconstruction. Its features and PNG are saved first, so a
    row on disk implies its files are there too."""
    suite, folder = plan.suite, plan.folder
    if suite.extractor:
        path = folder.features(suite.extractor.cache_key, point, decoded.sampler, decoded.image)
        save_array(suite.features(decoded.reconstruction), path)
    if plan.settings.save_images:
        save_png(decoded.reconstruction, folder.image(point, decoded.sampler, decoded.image))
    height, width = original.shape[1:]
    return {
        "codec": plan.codec.name,
        "quality": point,
        "sampler": decoded.sampler,
        "image": decoded.image,
        "height": height,
        "width": width,
        "bytes": decoded.n_bytes,
        "bpp": decoded.bpp,
        "bpp_est": decoded.bpp_est,
        **suite.score_image(original, decoded.reconstruction),
        "encode_s": decoded.encode_s,
        "decode_s": decoded.decode_s,
    }


def complete_points(folder: RunFolder, key: str, images: pd.DataFrame, names: list[str]) -> tuple[list, list]:
    """(rate points whose every image in ``names`` has a row and saved features under
    extractor ``key``, the rate points that lack some), each as (codec, quality, sampler)."""
    complete, incomplete = [], []
    for point_key, group in images.groupby(POINT_KEY, sort=False):
        _, point, sampler = point_key
        paths = [folder.features(key, point, sampler, name) for name in names]
        whole = set(group.image) == set(names) and all(path.is_file() for path in paths)
        (complete if whole else incomplete).append(tuple(point_key))
    return complete, incomplete


def score_points(suite: MetricSuite, folder: RunFolder, key: str, points: list[tuple], names: list[str],
                 reference: list[np.ndarray]) -> dict:
    """{(codec, quality, sampler): {metric: value}} of the distribution metrics; each point's
    features are read in the order of ``names``, paired with ``reference``."""
    scores = {}
    for codec, point, sampler in points:
        reconstruction = [load_array(folder.features(key, point, sampler, name)) for name in names]
        scores[(codec, point, sampler)] = suite.score_point(reference, reconstruction)
    return scores


def reference_features(plan: Plan, pixel_hashes: dict[str, str]) -> list[np.ndarray]:
    """The originals' features, in set order: from the run folder, else from the shared cache
    or computed. They are kept in the run folder too, so that shards merge on any machine."""
    suite, features = plan.suite, []
    for item in plan.dataset.images:
        kept = plan.folder.reference_features(suite.extractor.cache_key, item.name)
        found = load_array(kept)
        if found is None:
            found = suite.reference_features(item.load_rgb, pixel_hashes[item.name])
            save_array(found, kept)
        features.append(found)
    return features


def run_point_scores(plan: Plan, pixel_hashes: dict[str, str], images: pd.DataFrame) -> dict:
    """The distribution metrics of every complete rate point of a run; none for a shard (its
    FID and KID come when the shards are merged), whose reference features are kept all the same."""
    if not plan.suite.extractor:
        return {}
    key = plan.suite.extractor.cache_key
    complete, _ = complete_points(plan.folder, key, images, plan.image_names)
    if not complete:
        return {}
    reference = reference_features(plan, pixel_hashes)
    if plan.dataset.shard:
        return {}
    return score_points(plan.suite, plan.folder, key, complete, plan.image_names, reference)
