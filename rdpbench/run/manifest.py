"""run.json: what a run was (command, codec, data, metrics, weights, versions, device) and how
it ended. ``status`` is ``running``, ``complete``, ``interrupted`` (Ctrl-C or SIGTERM, with
``interrupted_by``) or ``failed`` (with ``error``: type, message, where, traceback)."""

from __future__ import annotations

import platform
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import torch

from .. import __version__
from ..complexity import COMPLEXITY_METHOD
from ..datasets import DATASETS
from ..paths import SAVED_BITSTREAMS, SAVED_IMAGES
from ..results import write_json
from ..schema import SCHEMA_VERSION
from .plan import Plan
from .preflight import Checked

PACKAGES = ["torch", "torchvision", "compressai", "pyiqa", "lpips", "torch-fidelity", "pillow", "numpy"]
SEEDING = "per image: first 4 bytes of sha256('<seed>:<image name>'), little-endian"
#: Keys that describe how an earlier attempt ended, dropped when a run completes.
ENDINGS = ("error", "stopped", "interrupted_by")


def new_manifest(plan: Plan, checked: Checked, notes: list[str]) -> dict:
    """The manifest of a run about to start."""
    settings = plan.settings
    return {
        "schema_version": SCHEMA_VERSION,
        "rdpbench": __version__,
        "command": settings.command,
        "started": now(),
        "codec": plan.codec.describe(),
        "points": plan.points,
        "samplers": plan.samplers,
        "metrics": plan.suite.metric_names,
        "metric_protocol": plan.suite.describe(checked.n_patches),
        "dataset": _dataset(plan, checked),
        "seed": settings.seed,
        "seeding": SEEDING,
        "device": _describe_device(plan.device),
        "versions": versions(),
        "weights": checked.weights,
        "saved": {
            "images": SAVED_IMAGES if settings.save_images else None,
            "bitstreams": SAVED_BITSTREAMS if settings.save_bitstreams else None,
        },
        "notes": list(notes),
        "complexity": COMPLEXITY_METHOD if settings.complexity else None,
    } | ({"target_rate": target_rate(plan)} if plan.at_targets else {})


def target_rate(plan: Plan) -> dict:
    """How a run at target rates chose each image's setting."""
    return {"targets_bpp": plan.settings.target_bpp, "points": plan.points,
            "knob": plan.codec.rate_knob().describe(),
            "search": "per image, the setting whose rate is the highest at or below the target: bisection over "
                      "the knob when its rate is monotone, else every setting; tried settings in target_search.csv",
            "encode_s": "the whole search's encodes"}


def _dataset(plan: Plan, checked: Checked) -> dict:
    spec = plan.settings.dataset
    dataset = {
        "name": plan.dataset.display_name,
        "source": spec if spec in DATASETS else str(Path(spec).expanduser().resolve()),
        "n_images": len(plan.dataset.images),
        "content_sha256": checked.summary.content_sha256,
        "verified": plan.dataset.verified,
        "pixel_sha256": checked.summary.pixel_hashes,
        "conversions": checked.summary.conversions,
    }
    if plan.dataset.shard:
        whole = plan.full_dataset
        dataset["shard"] = {
            "index": plan.dataset.shard[0],
            "count": plan.dataset.shard[1],
            "of": {"name": whole.display_name, "n_images": len(whole.images),
                   "content_sha256": checked.full_summary.content_sha256,
                   "images": [item.name for item in whole.images]},
        }
    return dataset


def with_features_keys(manifest: dict, suite) -> dict:
    """``manifest`` naming the key each feature network's features are kept under in the run
    folder ({network: key}, known once the extractors are prepared), so that a merge takes
    exactly these. Manifests before DINOv2 named one key, ``features_key``, of Inception's."""
    if not suite.extractors:
        return manifest
    protocol = manifest["metric_protocol"]
    patches = {**protocol["patches"], "features_keys": suite.features_keys}
    return {**manifest, "metric_protocol": {**protocol, "patches": patches}}


def record(manifest: dict, path: Path, status: str, **details) -> dict:
    """``manifest`` with ``status`` and ``details``, written to ``path``; a complete run drops
    what earlier attempts left about how they ended."""
    updated = {**manifest, "status": status, **details}
    if status == "complete":
        updated = {key: value for key, value in updated.items() if key not in ENDINGS}
    write_json(updated, path)
    return updated


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def versions() -> dict:
    """Python's, rdpbench's and the main packages' versions (None: not installed)."""
    found = {"python": platform.python_version(), "rdpbench": __version__}
    for package in PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found


def _describe_device(device: str) -> dict:
    described = {"device": device, "platform": platform.platform(), "threads": torch.get_num_threads()}
    if device.startswith("cuda"):
        described["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return described
