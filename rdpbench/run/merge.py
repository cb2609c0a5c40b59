"""Joining the shards of a job array (``run --shard i/n``) into the run folder that one
process would have written: the same rows in the same order, the same points.csv (FID and KID
recomputed from the shards' saved features), the same manifest, less the timings.

Shards are merged only when they are the n shards of one image set, evaluated with the same
codec, rate points, samplers, metrics, seed, weights, package versions and feature extractor,
and each finished. A ``--complexity`` run keeps the costs measured on the set's first image,
as one process does.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from ..datasets import content_sha256
from ..errors import RdpbenchError
from ..lock import FolderLock
from ..metrics.feature_set import FeatureSet
from ..metrics.suite import MetricSuite
from ..paths import RunFolder
from ..results import in_run_order, read_images, read_manifest, write_csv, write_json
from ..schema import KEY_COLUMNS
from .costs import merged_costs
from .score import complete_points, score_points
from .write import write_points

#: What every shard of one run must share, as manifest keys.
SHARED = ["codec", "points", "samplers", "metrics", "seed", "weights", "metric_protocol", "versions", "complexity"]


def merge_shards(folders: list[Path], out: Path, replace: bool = False) -> Path:
    """Merge the shard run folders into ``out`` (created; refused if it holds a run, unless
    ``replace``: the ranks of a torchrun write their merge again on every rerun)."""
    shards = [(RunFolder(folder), _shard_manifest(RunFolder(folder))) for folder in folders]
    _check_one_run(shards)
    target = RunFolder(out)
    if target.manifest.exists() and not replace:
        raise RdpbenchError(f"{out} already holds a run; merge into a new folder")
    first = shards[0][1]
    whole = first["dataset"]["shard"]["of"]
    images = _merged_rows(shards, whole["images"])
    protocol = first["metric_protocol"]
    suite = MetricSuite(protocol["per_image"] + protocol["per_point"], "cpu",
                        (protocol.get("patches") or {}).get("patch_protocol", "hific"))
    keys = _features_keys(shards, list(suite.extractors))
    manifest = _merged_manifest(shards, whole, suite, keys)  # checks the pixels before anything is written
    with FolderLock(target.root, ["rdpbench", "merge", *map(str, folders)], wait=False):
        write_csv(images, target.images_csv)
        scores = _point_scores(shards, target, keys, images, whole["images"], suite) if keys else {}
        if first.get("complexity"):
            for key, costs in merged_costs([folder for folder, _ in shards], whole["images"][0], target).items():
                scores[key] = {**scores.get(key, {}), **costs}
        write_points(target, images, scores, manifest, first["codec"]["name"])
        write_json(manifest, target.manifest)
    return target.root


def _check_one_run(shards: list[tuple[RunFolder, dict]]) -> None:
    """Raise unless ``shards`` are shards 1..n, once each, of one run."""
    (first_folder, first), count = shards[0], shards[0][1]["dataset"]["shard"]["count"]
    for folder, manifest in shards[1:]:
        differs = [key for key in SHARED if _comparable(manifest.get(key), key) != _comparable(first.get(key), key)]
        if manifest["dataset"]["shard"]["of"] != first["dataset"]["shard"]["of"]:
            differs.insert(0, "dataset")
        if differs:
            raise RdpbenchError(f"{folder} is not a shard of the same run as {first_folder}: "
                                f"different {', '.join(differs)}")
    indices = sorted(manifest["dataset"]["shard"]["index"] for _, manifest in shards)
    if indices != list(range(1, count + 1)):
        raise RdpbenchError(f"need shards 1..{count} once each; got {', '.join(map(str, indices))}")


def _shard_manifest(folder: RunFolder) -> dict:
    manifest = read_manifest(folder.manifest)
    if "shard" not in manifest["dataset"]:
        raise RdpbenchError(f"{folder} is not a shard (made without --shard)")
    if manifest.get("status") != "complete":
        raise RdpbenchError(f"{folder} has not finished (status {manifest.get('status')}); rerun its command")
    return manifest


def _comparable(value, key: str):
    """Manifest values as far as they must agree between shards (the patch count and the
    reference-cache record differ by shard)."""
    if key == "metric_protocol" and isinstance(value, dict):
        value = {k: v for k, v in value.items() if k not in ("patches", "reference_cache")}
    return value


def _features_keys(shards: list[tuple[RunFolder, dict]], networks: list[str]) -> dict[str, str]:
    """{feature network: extractor key} all shards' distribution-metric features were computed
    under, for each of ``networks``: the keys each manifest names (``features_keys``; a manifest
    from before DINOv2 names Inception's alone as ``features_key``, and an older one none: then
    the only key its folder holds is Inception's)."""
    if not networks:
        return {}
    keys = {}
    for folder, manifest in shards:
        patches = (manifest.get("metric_protocol") or {}).get("patches") or {}
        named = patches.get("features_keys") or (
            {"inception": patches["features_key"]} if "features_key" in patches else None)
        held = folder.feature_keys()
        if named is None and len(held) != 1:
            raise RdpbenchError(f"{folder} holds features of {len(held)} extractors ({', '.join(held) or 'none'}) "
                                "and its run.json names none; rerun the shard to record it")
        keys[folder] = named or {"inception": held[0]}
        if set(keys[folder]) != set(networks):
            raise RdpbenchError(f"{folder}'s run.json names features of {', '.join(keys[folder]) or 'no network'} "
                                f"where its metrics need {', '.join(networks)}; rerun the shard")
    if len({tuple(sorted(named.items())) for named in keys.values()}) > 1:
        listing = "; ".join(f"{folder}: {', '.join(named.values())}" for folder, named in keys.items())
        raise RdpbenchError(f"the shards computed their distribution-metric features differently ({listing}); "
                            "rerun them with the same --patches, weights and kind of device")
    return {network: next(iter(keys.values()))[network] for network in networks}


def _merged_rows(shards: list[tuple[RunFolder, dict]], order: list[str]) -> pd.DataFrame:
    """Every shard's rows, in the order one process writes them: rate point, then image
    (the set's order), then sampler."""
    rows = pd.concat([read_images(folder.images_csv) for folder, _ in shards], ignore_index=True)
    if rows.duplicated(KEY_COLUMNS).any():
        raise RdpbenchError("the shards share rows: were they made from the same image set?")
    first = shards[0][1]
    points, samplers = first["points"], first["samplers"]
    expected = len(points) * len(order) * len(samplers)
    listed = rows.quality.isin(points) & rows.image.isin(order) & rows.sampler.isin(samplers)
    if not listed.all() or len(rows) != expected:
        raise RdpbenchError(f"the shards hold {len(rows)} rows where the run has {expected}")
    return in_run_order(rows, points, order, samplers)


def _point_scores(shards, out: RunFolder, keys: dict[str, str], images: pd.DataFrame, order: list[str],
                  suite: MetricSuite) -> dict:
    """The distribution metrics of every rate point from the shards' features (under ``keys``,
    {network: extractor key}), which are copied into ``out``."""
    for folder, _ in shards:
        for key in keys.values():
            shutil.copytree(folder.features_root(key), out.features_root(key), dirs_exist_ok=True)
    references = {network: [out.reference_features(key, image) for image in order] for network, key in keys.items()}
    complete, incomplete = complete_points(out, keys, images, order)
    if incomplete or not all(path.is_file() for paths in references.values() for path in paths):
        point = incomplete[0] if incomplete else ("", "reference", "")
        raise RdpbenchError(f"the shards lack features of rate point {point[1]} ({point[2]}); rerun them")
    return score_points(suite, out, keys, complete, order,
                        {network: FeatureSet(paths) for network, paths in references.items()})


def _merged_manifest(shards: list[tuple[RunFolder, dict]], whole: dict, suite: MetricSuite,
                     keys: dict[str, str]) -> dict:
    """The first shard's manifest with the whole set's identity, the metric protocol of all
    shards' patches together, every shard's notes, and where it came from."""
    manifest = dict(shards[0][1])
    pixels = {}
    for _, shard in shards:
        pixels.update(shard["dataset"]["pixel_sha256"])
    pixels = {name: pixels[name] for name in whole["images"]}
    if content_sha256(pixels) != whole["content_sha256"]:
        raise RdpbenchError("the shards' images are not the set they name (pixel hashes differ)")
    conversions = {}
    for _, shard in shards:
        conversions.update(shard["dataset"].get("conversions", {}))
    manifest["dataset"] = {**{k: v for k, v in manifest["dataset"].items() if k != "shard"},
                           "name": whole["name"], "n_images": whole["n_images"],
                           "content_sha256": whole["content_sha256"], "pixel_sha256": pixels,
                           "conversions": conversions}
    if suite.extractors:
        protocol = suite.describe(sum(shard["metric_protocol"]["patches"]["n_patches"] for _, shard in shards))
        protocol["patches"]["features_keys"] = keys  # the shards' extractors, wherever the merge runs
        manifest["metric_protocol"] = protocol
    manifest["notes"] = list(dict.fromkeys(note for _, shard in shards for note in shard.get("notes", [])))
    manifest["merged_from"] = [str(folder) for folder, _ in shards]
    return manifest
