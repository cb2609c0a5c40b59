"""A run from start to end: plan -> preflight -> schedule -> decode -> score -> write.

Everything that can be checked is checked before the first encode, so a bad input stops the
run before it writes anything. Rerunning the same command resumes: rows already written are
not recomputed, and an interrupted run loses at most the batch in flight. One process writes
a run folder at a time (:mod:`rdpbench.lock`); run.json tells how the last run ended.
"""

from __future__ import annotations

import signal
import sys
import threading
import traceback
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from ..atomic import atomic_write
from ..errors import RdpbenchError, RunFailedError, RunInterrupted
from ..lock import FolderLock
from ..weights import loading
from . import manifest as manifests
from .costs import point_costs
from .decode import decode_batch
from .plan import Plan, make_plan
from .preflight import Checked, preflight
from .resume import earlier_manifest, earlier_rows, resumed_manifest, row_key
from .schedule import batches, pending
from .score import run_point_scores, score_row
from .settings import RunSettings
from .targets import TargetSearch, target_notes
from .write import write_points, write_rows


def evaluate(settings: RunSettings, progress: bool = True, wait: bool = True) -> Path:
    """Run (or resume) the evaluation ``settings`` describe; return the run folder. When
    another process writes the same folder, wait for it (``wait``) or raise FolderBusyError."""
    return execute(make_plan(settings), progress, wait)


def execute(plan: Plan, progress: bool = True, wait: bool = True) -> Path:
    """Carry out ``plan``; return the run folder."""
    with terminate_as_interrupt():
        say(plan.notes)
        checked = preflight(plan)
        say(checked.notes)
        manifest = manifests.new_manifest(plan, checked, plan.notes + checked.notes)
        earlier_manifest(plan.folder, manifest)  # refuse an incompatible folder before loading models
        with loading(checked.weight_files):
            plan.codec.prepare(plan.points)
            plan.suite.prepare()
        manifest = manifests.with_features_keys(manifest, plan.suite)
        try:
            with FolderLock(plan.folder.root, plan.settings.command, wait, on_wait=lambda note: say([note])):
                return _execute_locked(plan, checked, manifest, progress)
        except OSError as error:
            raise RdpbenchError(f"cannot write results to {plan.folder}: {error.strerror or error}") from None


def say(notes: list[str]) -> None:
    for note in notes:
        print(f"note: {note}", file=sys.stderr)


def _execute_locked(plan: Plan, checked: Checked, manifest: dict, progress: bool) -> Path:
    earlier = earlier_manifest(plan.folder, manifest)  # again: another process may have written meanwhile
    if earlier is not None and earlier.get("status") == "running":
        say([f"the last run into {plan.folder} stopped without recording why (killed, or the machine "
             "went down); resuming after its last finished image"])
    rows, notes = earlier_rows(plan)
    say(notes)
    manifest = manifests.record(resumed_manifest(manifest, earlier), plan.folder.manifest, "running")
    where: dict = {}
    try:
        _evaluate_all(plan, checked, manifest, rows, where, progress)
        where = {"stage": "rate-point scores and summary files"}
        images = write_rows(plan.folder, list(rows.values()), plan.suite.image_metric_names, manifest, plan.image_names)
        scores = run_point_scores(plan, checked.summary.pixel_hashes, images)
        if plan.settings.complexity:
            where = {"stage": "complexity of each rate point"}
            for key, costs in point_costs(plan, rows).items():
                scores[key] = {**scores.get(key, {}), **costs}
        write_points(plan.folder, images, scores, manifest, plan.codec.name)
    except KeyboardInterrupt as interrupt:
        manifests.record(manifest, plan.folder.manifest, "interrupted", stopped=manifests.now(),
                         interrupted_by=getattr(interrupt, "signal_name", "SIGINT"))
        raise
    except Exception as error:
        raise _failure(plan, manifest, where, error) from error
    finished = {"finished": manifests.now(), "decode_batch": plan.batching.describe()}
    missed = target_notes(list(rows.values()))
    say(missed)
    finished["notes"] = list(dict.fromkeys(manifest["notes"] + missed))
    if plan.suite.extractors:
        finished["metric_protocol"] = {**manifest["metric_protocol"], "reference_cache": {
            "folders": {network: str(plan.suite.reference_cache_dir(network)) for network in plan.suite.extractors},
            "computed_now": plan.suite.reference_computed}}
    manifests.record(manifest, plan.folder.manifest, "complete", **finished)
    return plan.folder.root


def _evaluate_all(plan: Plan, checked: Checked, manifest: dict, rows: dict, where: dict, progress: bool) -> None:
    """Decode and score every batch still to do, writing images.csv after each; ``where``
    says which batch is in flight."""
    done = {(point, sampler, image) for (_, point, sampler, image), row in rows.items()
            if _is_complete(plan, row, point, sampler, image)}
    groups = pending(plan.points, plan.image_names, plan.samplers, checked.summary.sizes, done)
    total = len(plan.points) * len(plan.image_names) * len(plan.samplers)
    keep = _keep_bitstream(plan) if plan.settings.save_bitstreams else None
    search = None
    if plan.at_targets:
        search = TargetSearch(plan.codec)
        search.load(plan.folder.target_search)
    with tqdm(total=total, initial=total - sum(len(t.samplers) for g in groups for t in g.tasks),
              disable=not progress, unit="decode", desc=plan.codec.name) as bar:
        for batch in batches(groups, plan.batching.size):
            names = ", ".join(batch.images)
            bar.set_postfix_str(f"q={batch.point} {names}")
            where.clear()
            where.update(quality=batch.point, image=names, samplers=batch.samplers())
            originals = {item.name: item.load()[0] for item in plan.dataset.images if item.name in batch.images}
            for decoded in decode_batch(plan.codec, plan.batching, batch, originals, plan.settings.seed, keep,
                                        search):
                row = score_row(plan, batch.point, originals[decoded.image], decoded)
                rows[row_key(row)] = row
                bar.update(1)
            if search:
                search.save(plan.folder.target_search, checked.summary.sizes)
            write_rows(plan.folder, list(rows.values()), plan.suite.image_metric_names, manifest, plan.image_names)


def _is_complete(plan: Plan, row: dict, point: str, sampler: str, image: str) -> bool:
    """Whether a row has every metric, and every file this run keeps for it is there."""
    if any(pd.isna(row.get(name)) for name in plan.suite.image_metric_names):
        return False
    folder, wanted = plan.folder, []
    wanted += [folder.features(key, point, sampler, image) for key in plan.suite.features_keys.values()]
    if plan.settings.save_images:
        wanted.append(folder.image(point, sampler, image))
    if plan.settings.save_bitstreams and plan.codec.has_bitstreams:
        wanted.append(folder.bitstream(point, image))
    return all(path.is_file() for path in wanted)


def _keep_bitstream(plan: Plan):
    def keep(point: str, image: str, data: bytes) -> None:
        atomic_write(plan.folder.bitstream(point, image), lambda handle: handle.write(data), binary=True)

    return keep


def _failure(plan: Plan, manifest: dict, where: dict, error: Exception) -> RunFailedError:
    """Record a failed run in run.json, and the error that says so."""
    manifests.record(manifest, plan.folder.manifest, "failed", stopped=manifests.now(), error={
        "type": type(error).__name__, "message": str(error), **where, "traceback": traceback.format_exc()})
    place = ", ".join(f"{key} {value}" for key, value in where.items() if key != "samplers")
    return RunFailedError(
        f"run failed at {place}: {type(error).__name__}: {error}\n{plan.folder.manifest} records the error "
        "and its traceback; finished images are kept, and rerunning the same command resumes after them")


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
