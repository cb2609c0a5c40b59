"""The score stage: one images.csv row per reconstruction, and the distribution metrics (FID,
KID, FD-DINOv2) of each rate point from the patch features saved per image and per feature
network (shared with the merge of shards)."""

from __future__ import annotations

import pandas as pd
import torch

from ..cache import save_array
from ..images import save_png
from ..metrics.feature_set import FeatureSet
from ..metrics.suite import MetricSuite
from ..paths import RunFolder
from ..schema import POINT_KEY
from .decode import Decoded
from .plan import Plan


def score_row(plan: Plan, point: str, original: torch.Tensor, decoded: Decoded) -> dict:
    """The images.csv row of one reconstruction. Its features and PNG are saved first, so a
    row on disk implies its files are there too."""
    suite, folder = plan.suite, plan.folder
    for extractor in suite.extractors.values():
        path = folder.features(extractor.cache_key, point, decoded.sampler, decoded.image)
        save_array(extractor(decoded.reconstruction), path)
    if plan.settings.save_images:
        save_png(decoded.reconstruction, folder.image(point, decoded.sampler, decoded.image))
    height, width = original.shape[1:]
    targets = {"setting": decoded.setting, "target_status": decoded.target_status} if plan.at_targets else {}
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
        **targets,
        **suite.score_image(original, decoded.reconstruction),
        "encode_s": decoded.encode_s,
        "decode_s": decoded.decode_s,
    }


def complete_points(folder: RunFolder, keys: dict[str, str], images: pd.DataFrame,
                    names: list[str]) -> tuple[list, list]:
    """(rate points whose every image in ``names`` has a row and saved features under every
    extractor key of ``keys``, the rate points that lack some), each as (codec, quality, sampler)."""
    complete, incomplete = [], []
    for point_key, group in images.groupby(POINT_KEY, sort=False):
        _, point, sampler = point_key
        paths = [folder.features(key, point, sampler, name) for key in keys.values() for name in names]
        whole = set(group.image) == set(names) and all(path.is_file() for path in paths)
        (complete if whole else incomplete).append(tuple(point_key))
    return complete, incomplete


def score_points(suite: MetricSuite, folder: RunFolder, keys: dict[str, str], points: list[tuple],
                 names: list[str], references: dict[str, FeatureSet]) -> dict:
    """{(codec, quality, sampler): {metric: value}} of the distribution metrics; each point's
    features (under ``keys``, {network: extractor key}) are read image by image in the order of
    ``names``, paired with the network's ``references``."""
    scores = {}
    for codec, point, sampler in points:
        sets = {network: (references[network],
                          FeatureSet([folder.features(key, point, sampler, name) for name in names]))
                for network, key in keys.items()}
        scores[(codec, point, sampler)] = suite.score_point(sets)
    return scores


def reference_features(plan: Plan, pixel_hashes: dict[str, str]) -> dict[str, FeatureSet]:
    """{feature network: the originals' features, in set order}, as files in the run folder (so
    that shards merge on any machine): those missing there are taken from the shared cache or
    computed."""
    suite, sets = plan.suite, {}
    for network, key in suite.features_keys.items():
        paths = []
        for item in plan.dataset.images:
            kept = plan.folder.reference_features(key, item.name)
            if not kept.is_file():
                save_array(suite.reference_features(network, item.load_rgb, pixel_hashes[item.name]), kept)
            paths.append(kept)
        sets[network] = FeatureSet(paths)
    return sets


def run_point_scores(plan: Plan, pixel_hashes: dict[str, str], images: pd.DataFrame) -> dict:
    """The distribution metrics of every complete rate point of a run; none for a shard (its
    FID and KID come when the shards are merged), whose reference features are kept all the same."""
    if not plan.suite.extractors:
        return {}
    keys = plan.suite.features_keys
    complete, _ = complete_points(plan.folder, keys, images, plan.image_names)
    if not complete:
        return {}
    references = reference_features(plan, pixel_hashes)
    if plan.dataset.shard:
        return {}
    return score_points(plan.suite, plan.folder, keys, complete, plan.image_names, references)
