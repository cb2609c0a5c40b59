"""Joining the shards of a job array (``run --shard i/n``) into the run folder that one
process would have written: the same rows in the same order, the same points.csv (FID and KID
recomputed from the shards' saved features), the same manifest, less the timings.

Shards are merged only when they are the n shards of one image set, evaluated with the same
codec, rate points, samplers, metrics, seed, weights and package versions, and each finished.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from .cache import load_array
from .errors import RdpbenchError
from .lock import RunFolderLock
from .metrics.suite import MetricSuite
from .results import IMAGES_CSV, MANIFEST, in_run_order, read_images, read_manifest, write_csv, write_json
from .runner import features_path, write_points

#: What every shard of one run must share, as manifest keys.
SHARED = ["codec", "points", "samplers", "metrics", "seed", "weights", "metric_protocol", "versions"]


def merge_shards(folders: list[Path], out: Path, replace: bool = False) -> Path:
    """Merge the shard run folders into ``out`` (created; refused if it holds a run, unless
    ``replace``: the ranks of a torchrun write their merge again on every rerun)."""
    shards = [(Path(folder), _shard_manifest(Path(folder))) for folder in folders]
    first = shards[0][1]
    whole = first["dataset"]["shard"]["of"]
    count = first["dataset"]["shard"]["count"]
    for folder, manifest in shards[1:]:
        differs = [key for key in SHARED if _comparable(manifest.get(key), key) != _comparable(first.get(key), key)]
        if manifest["dataset"]["shard"]["of"] != whole:
            differs.insert(0, "dataset")
        if differs:
            raise RdpbenchError(f"{folder} is not a shard of the same run as {shards[0][0]}: "
                                f"different {', '.join(differs)}")
    indices = sorted(manifest["dataset"]["shard"]["index"] for _, manifest in shards)
    if indices != list(range(1, count + 1)):
        raise RdpbenchError(f"need shards 1..{count} once each; got {', '.join(map(str, indices))}")
    if (out / MANIFEST).exists() and not replace:
        raise RdpbenchError(f"{out} already holds a run; merge into a new folder")

    images = _merged_rows(shards, whole["images"])
    protocol = first["metric_protocol"]
    suite = MetricSuite(protocol["per_image"] + protocol["per_point"], "cpu",
                        (protocol.get("patches") or {}).get("patch_protocol", "hific"))
    manifest = _merged_manifest(shards, whole, suite)  # checks the pixels before anything is written
    with RunFolderLock(out, ["rdpbench", "merge", *map(str, folders)], wait=False):
        write_csv(images, out / IMAGES_CSV)
        scores = _point_scores(shards, out, images, whole["images"], suite) if suite.extractor else {}
        write_points(out, images, scores, manifest, first["codec"]["name"])
        write_json(manifest, out / MANIFEST)
    return out


def _shard_manifest(folder: Path) -> dict:
    manifest = read_manifest(folder / MANIFEST)
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


def _merged_rows(shards: list[tuple[Path, dict]], order: list[str]) -> pd.DataFrame:
    """Every shard's rows, in the order one process writes them: rate point, then image
    (the set's order), then sampler."""
    frames = [read_images(folder / IMAGES_CSV) for folder, _ in shards]
    rows = pd.concat(frames, ignore_index=True)
    if rows.duplicated(["codec", "quality", "sampler", "image"]).any():
        raise RdpbenchError("the shards share rows: were they made from the same image set?")
    first = shards[0][1]
    points, samplers = first["points"], first["samplers"]
    expected = len(points) * len(order) * len(samplers)
    listed = rows.quality.isin(points) & rows.image.isin(order) & rows.sampler.isin(samplers)
    if not listed.all() or len(rows) != expected:
        raise RdpbenchError(f"the shards hold {len(rows)} rows where the run has {expected}")
    return in_run_order(rows, points, order, samplers)


def _point_scores(shards, out: Path, images: pd.DataFrame, order: list[str], suite: MetricSuite) -> dict:
    """FID/KID of every rate point from the shards' features, which are copied into ``out``."""
    key = None
    for folder, _ in shards:
        [features] = list((folder / "features").iterdir())
        key = features.name
        shutil.copytree(features, out / "features" / key, dirs_exist_ok=True)
    scores = {}
    reference = [load_array(features_path(out, key, "reference", "", image)) for image in order]
    for (codec, point, sampler), _ in images.groupby(["codec", "quality", "sampler"], sort=False):
        reconstruction = [load_array(features_path(out, key, point, sampler, image)) for image in order]
        if any(features is None for features in reference + reconstruction):
            raise RdpbenchError(f"the shards lack features of rate point {point} ({sampler}); rerun them")
        scores[(codec, point, sampler)] = suite.score_point(reference, reconstruction)
    return scores


def _merged_manifest(shards: list[tuple[Path, dict]], whole: dict, suite: MetricSuite) -> dict:
    """The first shard's manifest with the whole set's identity, the metric protocol of all
    shards' patches together, every shard's notes, and where it came from."""
    from .datasets import content_sha256

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
    if suite.extractor:
        manifest["metric_protocol"] = suite.describe(
            sum(shard["metric_protocol"]["patches"]["n_patches"] for _, shard in shards))
    manifest["notes"] = list(dict.fromkeys(note for _, shard in shards for note in shard.get("notes", [])))
    manifest["merged_from"] = [str(folder) for folder, _ in shards]
    return manifest
