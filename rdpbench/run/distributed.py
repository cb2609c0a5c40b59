"""``torchrun --nproc_per_node=N -m rdpbench run ...``: the images of a run split over ranks.

Rank k runs shard k+1 of N as an ordinary run (resumable, locked) into a hidden folder beside
the run folder (:attr:`rdpbench.paths.RunFolder.ranks_root`); then the ranks compare outcomes,
and rank 0 merges the parts into the run folder (:mod:`rdpbench.run.merge`), so the results
are those of one process. Every step that can fail on a rank (building its plan, running,
merging) ends in an exchange of outcomes, so a rank that fails fails the run on every rank
with its own message, and none is left waiting; finished images are kept, and rerunning the
same command resumes every rank and merges again. torch.distributed carries only the
outcomes (gloo on CPU, nccl on GPU); the work and the results travel through the file
system, which the ranks of one run must share.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Callable

from ..errors import RdpbenchError, RunFailedError
from ..results import write_json
from .execute import execute
from .merge import merge_shards
from .plan import make_plan, run_folder
from .settings import RunSettings


def launched_by_torchrun() -> bool:
    """Whether this process is one rank of several started by torchrun."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def run_distributed(settings: RunSettings, progress: bool = True, wait: bool = True) -> Path:
    """Run ``settings`` as this rank's part; return the merged run folder (on every rank)."""
    import torch
    import torch.distributed as dist

    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    if settings.shard:
        raise RdpbenchError("--shard and torchrun each split the images: use one of them")
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    on_gpu = settings.device.startswith("cuda") or (settings.device == "auto" and torch.cuda.is_available())
    if on_gpu:
        torch.cuda.set_device(local_rank)
        settings = dataclasses.replace(settings, device=f"cuda:{local_rank}")
    dist.init_process_group("nccl" if on_gpu else "gloo")
    try:
        plan = _agreed(rank, world, lambda: make_plan(dataclasses.replace(settings, shard=(rank + 1, world))))
        folder = run_folder(settings, plan.codec, plan.samplers, plan.full_dataset)  # where one process writes
        part = dataclasses.replace(plan, folder=folder.rank_part(rank + 1, world))

        def record_failure(failures: list[str]) -> None:
            if rank == 0:
                write_json({"status": "failed", "dataset": {}, "error": {"ranks": failures},
                            "parts": str(folder.ranks_root)}, folder.manifest)

        _agreed(rank, world, lambda: execute(part, progress=progress and rank == 0, wait=wait), record_failure)
        parts = [p.root for p in folder.rank_parts(world)]
        _agreed(rank, world, lambda: merge_shards(parts, folder.root, replace=True) if rank == 0 else None)
        return folder.root
    finally:
        dist.destroy_process_group()


def _agreed(rank: int, world: int, step: Callable, on_failure: Callable[[list[str]], None] | None = None):
    """``step()`` on this rank, then an exchange of outcomes: when any rank failed, every rank
    calls ``on_failure`` with the failures and raises RunFailedError naming each failed rank
    and its error."""
    import torch.distributed as dist

    failure, result = None, None
    try:
        result = step()
    except Exception as error:  # noqa: BLE001  (every rank must reach the exchange below)
        failure = f"rank {rank}: {error}"
    outcomes = [None] * world
    dist.all_gather_object(outcomes, failure)
    failures = [outcome for outcome in outcomes if outcome]
    if failures:
        if on_failure:
            on_failure(failures)
        raise RunFailedError("\n".join(failures) + "\nfinished images are kept; rerun the same command to resume")
    return result
