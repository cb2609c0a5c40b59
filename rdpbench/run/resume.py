"""Resuming: an earlier run into the same folder is taken up only when it is the same
evaluation (image set, codec and its settings, seed, weights); its rows are kept and its
rate points, samplers, metrics and notes joined with this run's."""

from __future__ import annotations

from ..errors import RdpbenchError
from ..paths import RunFolder
from ..results import read_images, read_manifest
from ..schema import KEY_COLUMNS, target_of
from .plan import Plan


def earlier_manifest(folder: RunFolder, manifest: dict) -> dict | None:
    """The manifest of an earlier run into ``folder``, after checking that a run with
    ``manifest`` may resume it; None when there is none. A refusal names each setting that
    differs, with both values."""
    if not folder.manifest.is_file():
        return None
    try:
        earlier = read_manifest(folder.manifest)
    except RdpbenchError as error:
        raise RdpbenchError(f"{error}; cannot resume from it. Move {folder} away to start afresh, or "
                            "write to another --name or --out") from None
    changed = differences(earlier, manifest)
    if changed:
        raise RdpbenchError(f"{folder} holds a run with a different {', '.join(changed)}; resume only "
                            "with the same settings, or choose another --name or --out")
    return earlier


def differences(earlier: dict, manifest: dict) -> list[str]:
    """What keeps a run with ``manifest`` from resuming one with ``earlier``, in words."""
    changed = []
    if _dataset_id(earlier) != _dataset_id(manifest):
        changed.append(f"dataset ({_describe_dataset(earlier)}; this run: {_describe_dataset(manifest)})")
    before, now = earlier.get("codec") or {}, manifest.get("codec") or {}
    if before.get("name") != now.get("name"):
        changed.append(f"codec ({before.get('name')}; this run: {now.get('name')})")
    else:
        for key in sorted(set(before) | set(now)):
            if before.get(key) != now.get(key):
                changed.append(f"codec setting {key} ({_shown(before.get(key))}; this run: {_shown(now.get(key))})")
    if earlier.get("seed") != manifest.get("seed"):
        changed.append(f"seed ({earlier.get('seed')}; this run: {manifest.get('seed')})")
    earlier_weights = {w["file"]: w for w in earlier.get("weights", [])}
    for weight in manifest["weights"]:
        if weight["file"] in earlier_weights and earlier_weights[weight["file"]] != weight:
            changed.append(f"weight file {weight['file']} (its sha256 changed)")
    return changed


def resumed_manifest(manifest: dict, earlier: dict | None) -> dict:
    """``manifest`` with the earlier run's rate points, samplers, metrics, notes and weights joined in."""
    if earlier is None:
        return manifest
    joined = dict(manifest)
    for key in ("points", "samplers", "metrics", "notes"):
        joined[key] = list(dict.fromkeys(earlier.get(key, []) + manifest[key]))
    weights = {w["file"]: w for w in earlier.get("weights", [])}
    weights.update({w["file"]: w for w in manifest["weights"]})
    joined["weights"] = list(weights.values())
    return joined


def earlier_rows(plan: Plan) -> tuple[dict[tuple, dict], list[str]]:
    """The rows already in the folder's images.csv, by key, that belong to this run's images
    and rate points; and notes on what was left out."""
    path = plan.folder.images_csv
    if not path.is_file():
        return {}, []
    try:
        rows = read_images(path).to_dict("records")
    except RdpbenchError as error:
        raise RdpbenchError(f"{error}; cannot resume from it. Move {path} away to recompute every "
                            "image, or write to another --name or --out") from None
    names = set(plan.image_names)
    kept = {row_key(row): row for row in rows if row["image"] in names and _is_point(plan, row["quality"])}
    notes = []
    if len(kept) < len(rows):
        notes.append(f"{path}: left out {len(rows) - len(kept)} row(s) of images or rate points "
                     "that are not this run's (edited by hand?)")
    return kept, notes


def row_key(row: dict) -> tuple:
    return tuple(row[column] for column in KEY_COLUMNS)


def _is_point(plan: Plan, point: str) -> bool:
    if target_of(point) is not None:
        return True
    try:
        return plan.codec.check_point(point) == point
    except RdpbenchError:
        return False


def _shown(value) -> str:
    return "not set" if value is None else repr(value) if isinstance(value, str) else str(value)


def _dataset_id(manifest: dict) -> str | None:
    return manifest.get("dataset", {}).get("content_sha256")


def _describe_dataset(manifest: dict) -> str:
    dataset = manifest.get("dataset", {})
    content = dataset.get("content_sha256") or "unknown"
    return f"{dataset.get('name')}, {dataset.get('n_images')} images, content {content[:12]}"
