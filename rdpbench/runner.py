"""The evaluation loop: codec x rate point x image x sampler -> rows of results.

For each rate point, images of one size go in batches (:mod:`rdpbench.batching`): each image
is encoded once, each batch decoded once per sampler, every metric scored on each pair, and the
rows saved before the next batch. Everything that can be checked (names, weight
files, every image of the dataset, image sizes, the output folder) is checked before the
first encode, so a bad input stops the run before it writes anything. Rerunning the same
command resumes: rows already written are not recomputed, and an interrupted run loses at most
the batch in flight.

One process writes a run folder at a time (:mod:`rdpbench.lock`). ``run.json`` tells how the
last run into the folder ended: ``running``, ``complete``, ``interrupted`` (Ctrl-C or SIGTERM)
or ``failed`` (with the error, where it happened and the traceback).
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import signal
import sys
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from . import __version__
from .atomic import atomic_write
from .batching import DecodeBatching
from .bitstream import bits_per_pixel
from .codecs import DEFAULT_SAMPLER, CodecBase, FolderOfReconstructions, get_codec
from .datasets import DATASETS, Dataset, DatasetSummary, get_dataset, inspect
from .errors import ImageError, RdpbenchError, RunFailedError, RunInterrupted
from .images import encode_png
from .lock import RunFolderLock
from .cache import load_array, save_array
from .metrics import parse_metric_names
from .metrics.suite import MetricSuite
from .results import (
    IMAGES_CSV,
    KEY_COLUMNS,
    MANIFEST,
    POINT_KEY,
    POINTS_CSV,
    SCHEMA_VERSION,
    aggregate_points,
    image_columns,
    in_run_order,
    read_images,
    read_manifest,
    to_compressai_json,
    write_csv,
    write_json,
)
from .weights import fingerprint, loading, require

PACKAGES = ["torch", "torchvision", "compressai", "pyiqa", "lpips", "torch-fidelity", "pillow", "numpy"]


@dataclass
class RunSettings:
    """Everything ``rdpbench run`` is asked to do."""

    codec: str
    points: list[str] = field(default_factory=list)
    samplers: list[str] = field(default_factory=list)
    dataset: str = "sample"
    metrics: str = "psnr"
    out: Path = Path("results")
    name: str | None = None
    device: str = "auto"
    seed: int = 0
    limit: int | None = None
    #: FID/KID patch protocol; None means the default, ``hific``.
    patch_protocol: str | None = None
    #: Keep every reconstruction as a lossless PNG, and every bitstream as it was written.
    save_images: bool = False
    save_bitstreams: bool = False
    #: (i, n): run only the i-th of n disjoint image shards (1-based), for job arrays.
    shard: tuple[int, int] | None = None
    #: Same-size images decoded at once; None sizes batches to the device (see rdpbench.batching).
    batch_size: int | None = None
    codec_options: dict = field(default_factory=dict)
    command: list[str] = field(default_factory=list)


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``; explicit names are checked."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RdpbenchError(f"--device {device}: no CUDA device is visible to torch")
    if not re.fullmatch(r"cpu|cuda(:\d+)?", device):
        raise RdpbenchError(f"unknown device {device!r}; use cpu, cuda, cuda:N or auto")
    return device


def image_seed(seed: int, image_name: str) -> int:
    """The sampling seed of one image: fixed by the run seed and the image name alone, so a
    resumed or a ``--limit`` run decodes each image exactly as a full run does."""
    digest = hashlib.sha256(f"{seed}:{image_name}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def default_run_name(codec: CodecBase, samplers: list[str], dataset: Dataset) -> str:
    parts = [codec.name] + [s for s in samplers if s != DEFAULT_SAMPLER] + [dataset.slug]
    return re.sub(r"[^A-Za-z0-9._+-]", "_", "-".join(parts))


def run_folder(settings: RunSettings, codec: CodecBase, samplers: list[str], dataset: Dataset) -> Path:
    """Where a run writes: OUT/NAME, NAME by default codec-samplers-dataset."""
    return Path(settings.out) / (settings.name or default_run_name(codec, samplers, dataset))


def check_writable(folder: Path) -> None:
    """Raise RdpbenchError unless ``folder`` exists as a writable folder or can be created:
    every existing part of the path must be a folder, the nearest existing one writable."""
    for path in [folder, *folder.parents]:
        if not path.exists():
            continue
        if not path.is_dir():
            raise RdpbenchError(f"cannot write results to {folder}: {path} is a file, not a folder")
        if not os.access(path, os.W_OK | os.X_OK):
            raise RdpbenchError(f"cannot write results to {folder}: no permission to write in {path}")
        return


@contextmanager
def terminate_as_interrupt():
    """Within the block, SIGTERM (a scheduler's stop) raises RunInterrupted as Ctrl-C raises
    KeyboardInterrupt, so the run records why it stopped and stays resumable. A second
    SIGTERM while the first is being handled is ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signal_number, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise RunInterrupted(signal_number)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class Run:
    """One prepared evaluation; ``execute`` does the work and returns the run folder."""

    def __init__(self, settings: RunSettings):
        self.settings = settings
        self.notes: list[str] = []
        self.device = resolve_device(settings.device)
        self.codec = get_codec(settings.codec, device=self.device, **settings.codec_options)
        self.points = list(dict.fromkeys(self.codec.check_point(p) for p in settings.points or self.codec.default_points))
        self.samplers = list(dict.fromkeys(
            self.codec.check_sampler(s) for s in settings.samplers or self.codec.samplers[:1]))
        self.suite = MetricSuite(
            parse_metric_names(settings.metrics), self.device, settings.patch_protocol or "hific"
        )
        if settings.save_bitstreams and isinstance(self.codec, FolderOfReconstructions):
            self._note("--save-bitstreams: the folder codec has no bitstreams to save")
        if settings.patch_protocol and not self.suite.extractor:
            self._note(f"--patches {settings.patch_protocol} applies to fid and kid only, and neither "
                       "is among the metrics: it has no effect")
        self.metric_names = self.suite.image_metric_names
        self.full_dataset = get_dataset(settings.dataset).limited(settings.limit)
        self.dataset = self.full_dataset.sharded(*settings.shard) if settings.shard else self.full_dataset
        for note in self.dataset.notes:
            self._note(note)
        if settings.name is not None and (
            settings.name in ("", ".", "..") or Path(settings.name).name != settings.name
        ):
            raise RdpbenchError(f"--name {settings.name!r}: give a folder name, not a path (--out says where)")
        self.folder = run_folder(settings, self.codec, self.samplers, self.dataset)
        try:
            self.batching = DecodeBatching(settings.batch_size, self.device)
        except ValueError as error:
            raise RdpbenchError(f"--batch-size: {error}") from None
        self.position: dict = {}  # where the run is, for the manifest when it fails

    def _note(self, note: str) -> None:
        print(f"note: {note}", file=sys.stderr)
        self.notes.append(note)

    def preflight(self) -> DatasetSummary:
        """Every check that needs no codec work; raises before anything is written."""
        self.weight_files = self.codec.weight_files(self.points) + self.suite.weight_files()
        require(self.weight_files)
        # a shard reads the whole set too: its manifest must name the set it is a part of
        self.full_summary = inspect(self.full_dataset)
        summary = self.full_summary.restricted([item.name for item in self.dataset.images])
        problems = []
        for name, (height, width) in summary.sizes.items():
            try:
                self.codec.check_size(name, height, width)
            except ImageError as error:
                problems.append(str(error))
        if problems:
            raise ImageError(f"{len(problems)} image(s) cannot be coded:\n  " + "\n  ".join(problems))
        # sizes are checked on the whole set (a shard may hold a single patch, the set not)
        self.n_patches = self.suite.check_sizes(self.full_summary.sizes)
        if self.dataset.shard and self.suite.extractor:
            self.n_patches = self.suite.patch_count(summary.sizes)
        if isinstance(self.codec, FolderOfReconstructions):
            self.codec.check_images(summary.sizes)
            for note in self.codec.rate_notes(summary.sizes):
                self._note(note)
        check_writable(self.folder)
        return summary

    def execute(self, progress: bool = True, wait: bool = True) -> Path:
        """Run (or resume) the evaluation. When another process is writing the same folder,
        wait for it (``wait``) or raise RunFolderBusyError."""
        with terminate_as_interrupt():
            summary = self.preflight()
            manifest = self._manifest(summary)
            self._earlier_manifest(manifest)  # refuse an incompatible folder before loading models
            with loading(self.weight_files):
                self.codec.prepare(self.points)
                self.suite.prepare()
            self.pixel_hashes, self.sizes = summary.pixel_hashes, summary.sizes
            try:
                with RunFolderLock(self.folder, self.settings.command, wait, on_wait=self._note):
                    return self._execute_locked(manifest, progress)
            except OSError as error:
                raise RdpbenchError(f"cannot write results to {self.folder}: {error.strerror or error}") from None

    def _execute_locked(self, manifest: dict, progress: bool) -> Path:
        existing = self._existing_rows(manifest)
        manifest["status"] = "running"
        write_json(manifest, self.folder / MANIFEST)
        rows = {tuple(row[c] for c in KEY_COLUMNS): row for row in existing}
        total = len(self.points) * len(self.dataset.images) * len(self.samplers)
        bar = tqdm(total=total, disable=not progress, unit="decode", desc=self.codec.name)
        try:
            for point, batch in self._schedule(rows, bar):
                names = ", ".join(item.name for item, _ in batch)
                bar.set_postfix_str(f"q={point} {names}")
                self.position = {"quality": point, "image": names,
                                 "samplers": [s for s in self.samplers if any(s in todo for _, todo in batch)]}
                for row in self._evaluate(batch, point):
                    rows[tuple(row[c] for c in KEY_COLUMNS)] = row
                    bar.update(1)
                self._write_images(rows, manifest)
            bar.close()
            self.position = {"stage": "rate-point scores and summary files"}
            images = self._write_images(rows, manifest)
            self._write_points(images, manifest)
        except KeyboardInterrupt as interrupt:
            bar.close()
            manifest.update(status="interrupted", stopped=_now(),
                            interrupted_by=getattr(interrupt, "signal_name", "SIGINT"))
            write_json(manifest, self.folder / MANIFEST)
            raise
        except Exception as error:
            bar.close()
            where = ", ".join(f"{key} {value}" for key, value in self.position.items() if key != "samplers")
            manifest.update(status="failed", stopped=_now(), error={
                "type": type(error).__name__,
                "message": str(error),
                **self.position,
                "traceback": traceback.format_exc(),
            })
            write_json(manifest, self.folder / MANIFEST)
            raise RunFailedError(
                f"run failed at {where}: {type(error).__name__}: {error}\n"
                f"{self.folder / MANIFEST} records the error and its traceback; finished images "
                "are kept, and rerunning the same command resumes after them"
            ) from error
        if self.suite.extractor:
            manifest["metric_protocol"]["reference_cache"] = {
                "folder": str(self.suite.reference_cache_dir()),
                "computed_now": self.suite.reference_computed,
            }
        manifest.update(status="complete", finished=_now(), decode_batch=self.batching.describe())
        for key in ("error", "stopped", "interrupted_by"):
            manifest.pop(key, None)
        write_json(manifest, self.folder / MANIFEST)
        return self.folder

    # -- schedule, decode, score ----------------------------------------------------------
    def _schedule(self, rows: dict, bar):
        """(rate point, batch) pairs still to do; a batch is [(image, samplers to do)] of
        images of one size, in the set's order, at most the batch size long."""
        for point in self.points:
            by_size: dict[tuple[int, int], list] = {}
            for item in self.dataset.images:
                todo = [s for s in self.samplers
                        if not self._done(rows.get((self.codec.name, point, s, item.name)), point, s, item.name)]
                bar.update(len(self.samplers) - len(todo))
                if todo:
                    by_size.setdefault(self.sizes[item.name], []).append((item, todo))
            for pending in by_size.values():
                while pending:
                    size = self.batching.size()
                    yield point, pending[:size]
                    pending = pending[size:]

    def _evaluate(self, batch: list, point: str) -> list[dict]:
        """The rows of one batch: its images encoded once, decoded per sampler, scored."""
        references = {item.name: item.load()[0] for item, _ in batch}
        decoded = self._decode(batch, references, point)
        rows = []
        for item, todo in batch:
            for sampler in todo:
                rows.append(self._score(item, references[item.name], point, sampler, decoded[item.name, sampler]))
        return rows

    def _decode(self, batch: list, references: dict, point: str) -> dict:
        """(image name, sampler) -> (image, bytes, bpp, estimated bpp, encode seconds, decode
        seconds); a batched decode's time is shared equally among its images."""
        if isinstance(self.codec, FolderOfReconstructions):
            decoded = {}
            for item, todo in batch:
                found = self.codec.reconstruction(item.name)
                height, width = references[item.name].shape[1:]
                bpp = bits_per_pixel(found.n_bytes, height, width) if found.n_bytes is not None else found.bpp
                decoded[item.name, todo[0]] = (found.image, found.n_bytes, bpp, None, None, None)
            return decoded
        encoded = {}
        for item, _ in batch:
            start = time.perf_counter()
            data, bits = self.codec.encode_estimated(references[item.name], point)
            encoded[item.name] = data, bits, time.perf_counter() - start
            if self.settings.save_bitstreams:
                atomic_write(self.bitstream_path(point, item.name), lambda handle: handle.write(data), binary=True)
        decoded = {}
        for sampler in self.samplers:
            names = [item.name for item, todo in batch if sampler in todo]
            if not names:
                continue
            start = time.perf_counter()
            images = self._decode_batch([encoded[name][0] for name in names], sampler,
                                        [image_seed(self.settings.seed, name) for name in names])
            decode_s = (time.perf_counter() - start) / len(names)
            for name, image in zip(names, images):
                data, bits, encode_s = encoded[name]
                height, width = references[name].shape[1:]
                bpp_est = None if bits is None else bits / (height * width)
                decoded[name, sampler] = (image, len(data), bits_per_pixel(len(data), height, width), bpp_est,
                                          encode_s, decode_s)
        return decoded

    def _decode_batch(self, data: list[bytes], sampler: str, seeds: list[int]) -> list[torch.Tensor]:
        """``codec.decode_batch``; when an automatic batch runs out of GPU memory, its halves
        are decoded apart and later batches are kept to that size."""
        try:
            with self.batching.measuring(len(data)):
                return self.codec.decode_batch(data, sampler, seeds)
        except torch.cuda.OutOfMemoryError:
            if len(data) == 1:
                raise
            if self.batching.requested:
                raise RdpbenchError(f"out of GPU memory decoding {len(data)} images at once: "
                                    "lower --batch-size, or leave it out to size batches to the memory") from None
            torch.cuda.empty_cache()
            half = len(data) // 2
            self.batching.shrink(half)
            return self._decode_batch(data[:half], sampler, seeds[:half]) + \
                self._decode_batch(data[half:], sampler, seeds[half:])

    def _score(self, item, reference: torch.Tensor, point: str, sampler: str, decoded: tuple) -> dict:
        """The images.csv row of one reconstruction; its features and PNG are saved first, so
        that a row on disk implies its files are there too."""
        image, n_bytes, bpp, bpp_est, encode_s, decode_s = decoded
        if self.suite.extractor:
            save_array(self.suite.features(image), self._features_path(point, sampler, item.name))
        if self.settings.save_images:
            png = encode_png(image)
            atomic_write(self.image_path(point, sampler, item.name), lambda handle: handle.write(png), binary=True)
        height, width = reference.shape[1:]
        return {
            "codec": self.codec.name,
            "quality": point,
            "sampler": sampler,
            "image": item.name,
            "height": height,
            "width": width,
            "bytes": n_bytes,
            "bpp": bpp,
            "bpp_est": bpp_est,
            **self.suite.score_image(reference, image),
            "encode_s": encode_s,
            "decode_s": decode_s,
        }

    # -- files ------------------------------------------------------------------------
    def _done(self, row: dict | None, point: str, sampler: str, image: str) -> bool:
        """Whether the row exists with every metric, and every file this run keeps for it."""
        if row is None or any(pd.isna(row.get(name)) for name in self.metric_names):
            return False
        wanted = [self._features_path(point, sampler, image)] if self.suite.extractor else []
        if self.settings.save_images:
            wanted.append(self.image_path(point, sampler, image))
        if self.settings.save_bitstreams and not isinstance(self.codec, FolderOfReconstructions):
            wanted.append(self.bitstream_path(point, image))
        return all(path.is_file() for path in wanted)

    def image_path(self, point: str, sampler: str, image: str) -> Path:
        """Where ``--save-images`` keeps a reconstruction: images/<quality>/<sampler>/<image>.png."""
        return self.folder / "images" / point / sampler / f"{image}.png"

    def bitstream_path(self, point: str, image: str) -> Path:
        """Where ``--save-bitstreams`` keeps a bitstream (one per rate point, whatever the
        sampler): bitstreams/<quality>/<image>.rdpb."""
        return self.folder / "bitstreams" / point / f"{image}.rdpb"

    def _features_path(self, point: str, sampler: str, image: str) -> Path:
        """features/<extractor key>/<quality>/<sampler>/<image>.npy; the originals' under
        features/<key>/reference/<image>.npy."""
        return features_path(self.folder, self.suite.extractor.cache_key, point, sampler, image)

    def _columns(self, rows: dict) -> list[str]:
        """Requested metrics first, then metrics that earlier runs into this folder added."""
        known = set(image_columns(self.metric_names))
        extra = sorted({c for row in rows.values() for c in row} - known)
        return image_columns(self.metric_names + extra)

    def _write_images(self, rows: dict, manifest: dict) -> pd.DataFrame:
        frame = pd.DataFrame(list(rows.values()), columns=self._columns(rows))
        names = [item.name for item in self.dataset.images]
        frame = in_run_order(frame, manifest["points"], names, manifest["samplers"])
        write_csv(frame, self.folder / IMAGES_CSV)
        return frame

    def _point_scores(self, images: pd.DataFrame) -> dict:
        """Distribution metrics of every rate point whose images all have features here. The
        reference features are kept in the run folder too, so that shards can be merged on
        any machine."""
        if not self.suite.extractor:
            return {}
        scores, reference = {}, None
        names = [item.name for item in self.dataset.images]
        for (codec, point, sampler), group in images.groupby(POINT_KEY, sort=False):
            paths = [self._features_path(point, sampler, image) for image in names]
            if set(group.image) != set(names) or not all(path.is_file() for path in paths):
                continue
            if reference is None:
                reference = [self._reference_features(item) for item in self.dataset.images]
            if self.dataset.shard:
                continue  # a part of a set: its FID/KID come when the parts are merged
            reconstruction = [load_array(path) for path in paths]  # in dataset order: paired with reference
            scores[(codec, point, sampler)] = self.suite.score_point(reference, reconstruction)
        return scores

    def _reference_features(self, item) -> np.ndarray:
        kept = self._features_path("reference", "", item.name)
        features = load_array(kept)
        if features is None:
            features = self.suite.reference_features(item.load_rgb, self.pixel_hashes[item.name])
            save_array(features, kept)
        return features

    def _write_points(self, images: pd.DataFrame, manifest: dict) -> None:
        write_points(self.folder, images, self._point_scores(images), manifest, self.codec.name)

    def _earlier_manifest(self, manifest: dict) -> dict | None:
        """The manifest of an earlier run into this folder, after checking that this run may
        resume it (same dataset, codec, seed and weights); None when there is none."""
        path = self.folder / MANIFEST
        if not path.is_file():
            return None
        try:
            earlier = read_manifest(path)
        except RdpbenchError as error:
            raise RdpbenchError(
                f"{error}; cannot resume from it. Move {self.folder} away to start afresh, or "
                "write to another --name or --out"
            ) from None
        changed = []
        if _dataset_id(earlier) != _dataset_id(manifest):
            changed.append(f"dataset ({_describe_dataset(earlier)}; this run: {_describe_dataset(manifest)})")
        for key in ("codec", "seed"):
            if earlier.get(key) != manifest.get(key):
                changed.append(key)
        earlier_weights = {w["file"]: w for w in earlier.get("weights", [])}
        for weight in manifest["weights"]:
            if weight["file"] in earlier_weights and earlier_weights[weight["file"]] != weight:
                changed.append(f"weight file {weight['file']}")
        if changed:
            raise RdpbenchError(
                f"{self.folder} holds a run with a different {', '.join(changed)}; "
                "resume only with the same settings, or choose another --name or --out"
            )
        return earlier

    def _existing_rows(self, manifest: dict) -> list[dict]:
        """Rows of an earlier run into the same folder, after checking it is compatible;
        the manifest takes over the earlier run's points, samplers, metrics and weights."""
        earlier = self._earlier_manifest(manifest)
        if earlier is None:
            return []
        if earlier.get("status") == "running":
            self._note(f"the last run into {self.folder} stopped without recording why "
                       "(killed, or the machine went down); resuming after its last finished image")
        for key in ("points", "samplers", "metrics", "notes"):
            manifest[key] = list(dict.fromkeys(earlier.get(key, []) + manifest[key]))
        weights = {w["file"]: w for w in earlier.get("weights", [])}
        weights.update({w["file"]: w for w in manifest["weights"]})
        manifest["weights"] = list(weights.values())
        images_path = self.folder / IMAGES_CSV
        if not images_path.is_file():
            return []
        try:
            rows = read_images(images_path).to_dict("records")
        except RdpbenchError as error:
            raise RdpbenchError(
                f"{error}; cannot resume from it. Move {images_path} away to recompute every "
                "image, or write to another --name or --out"
            ) from None
        names, kept = {item.name for item in self.dataset.images}, []
        for row in rows:
            try:
                valid = row["image"] in names and self.codec.check_point(row["quality"]) == row["quality"]
            except RdpbenchError:
                valid = False
            if valid:
                kept.append(row)
        if len(kept) < len(rows):
            self._note(f"{images_path}: left out {len(rows) - len(kept)} row(s) of images or rate points "
                       "that are not this run's (edited by hand?)")
        return kept

    def _manifest(self, summary: DatasetSummary) -> dict:
        weights = [fingerprint(f) for f in self.weight_files]
        for entry in weights:
            if entry["matches_upstream"] is False:
                print(
                    f"note: {entry['file']} is not the upstream file (sha256 differs); "
                    "results will not be comparable with published ones",
                    file=sys.stderr,
                )
        spec = self.settings.dataset
        dataset = {
            "name": self.dataset.display_name,
            "source": spec if spec in DATASETS else str(Path(spec).expanduser().resolve()),
            "n_images": len(self.dataset.images),
            "content_sha256": summary.content_sha256,
            "pixel_sha256": summary.pixel_hashes,
            "conversions": summary.conversions,
        }
        if self.dataset.shard:
            dataset["shard"] = {
                "index": self.dataset.shard[0],
                "count": self.dataset.shard[1],
                "of": {"name": self.full_dataset.display_name, "n_images": len(self.full_dataset.images),
                       "content_sha256": self.full_summary.content_sha256,
                       "images": [item.name for item in self.full_dataset.images]},
            }
        return {
            "schema_version": SCHEMA_VERSION,
            "rdpbench": __version__,
            "command": self.settings.command,
            "started": _now(),
            "codec": self.codec.describe(),
            "points": self.points,
            "samplers": self.samplers,
            "metrics": self.suite.image_metric_names + self.suite.distribution_metric_names,
            "metric_protocol": self.suite.describe(self.n_patches),
            "dataset": dataset,
            "seed": self.settings.seed,
            "seeding": "per image: first 4 bytes of sha256('<seed>:<image name>'), little-endian",
            "device": _describe_device(self.device),
            "versions": _versions(),
            "weights": weights,
            "saved": {
                "images": "images/<quality>/<sampler>/<image>.png" if self.settings.save_images else None,
                "bitstreams": "bitstreams/<quality>/<image>.rdpb" if self.settings.save_bitstreams else None,
            },
            "notes": list(self.notes),
        }


def features_path(folder: Path, key: str, point: str, sampler: str, image: str) -> Path:
    """Where a run folder keeps the patch features of one reconstruction (``point`` =
    "reference" and ``sampler`` = "" for the original's)."""
    return folder / "features" / key / point / sampler / f"{image}.npy"


def write_points(folder: Path, images: pd.DataFrame, scores: dict, manifest: dict, codec_name: str) -> None:
    """points.csv (means of ``images`` plus the per-point ``scores``) and one CompressAI JSON
    file per sampler."""
    not_metrics = set(image_columns([]))
    per_image = [c for c in images.columns if c not in not_metrics]
    points = aggregate_points(images, per_image, scores)
    write_csv(points, folder / POINTS_CSV)
    for sampler, curve in points.groupby("sampler", sort=False):
        label = codec_name if sampler == DEFAULT_SAMPLER else f"{codec_name} ({sampler})"
        exported = to_compressai_json(
            curve,
            label,
            f"rdpbench {__version__} on {manifest['dataset']['name']}",
            {key: manifest[key] for key in ("dataset", "device", "versions", "seed")},
        )
        write_json(exported, folder / f"compressai-{sampler}.json")


def _dataset_id(manifest: dict) -> str | None:
    return manifest.get("dataset", {}).get("content_sha256")


def _describe_dataset(manifest: dict) -> str:
    dataset = manifest.get("dataset", {})
    content = dataset.get("content_sha256") or "unknown"
    return f"{dataset.get('name')}, {dataset.get('n_images')} images, content {content[:12]}"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _versions() -> dict:
    versions = {"python": platform.python_version(), "rdpbench": __version__}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def _describe_device(device: str) -> dict:
    described = {"device": device, "platform": platform.platform(), "threads": torch.get_num_threads()}
    if device.startswith("cuda"):
        described["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return described
