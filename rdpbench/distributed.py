"""``torchrun --nproc_per_node=N -m rdpbench run ...``: the images of a run split over ranks.

Rank k runs shard k+1 of N as an ordinary run (resumable, locked) into a hidden folder beside
the run folder, ``.<run name>.ranks/rank<k+1>of<N>``; then the ranks compare outcomes, and
rank 0 merges the parts into the run folder (:mod:`rdpbench.merge`), so the results are those
of one process. A rank that fails fails the run on every rank, with its error; its finished
images are kept, and rerunning the same command resumes every rank and merges again.
torch.distributed carries only the outcomes (gloo on CPU, nccl on GPU); the work and the
results travel through the file system, which the ranks of one run must share.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from .errors import RdpbenchError, RunFailedError
from .results import MANIFEST, write_json


def launched_by_torchrun() -> bool:
    """Whether this process is one rank of several started by torchrun."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def run_distributed(settings, progress: bool = True, wait: bool = True) -> Path:
    """Run ``settings`` as this rank's part; return the merged run folder (on every rank)."""
    import torch
    import torch.distributed as dist

    from .merge import merge_shards
    from .runner import Run, run_folder

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
        part = Run(dataclasses.replace(settings, shard=(rank + 1, world)))
        folder = run_folder(settings, part.codec, part.samplers, part.full_dataset)  # where one process writes
        parts = folder.parent / f".{folder.name}.ranks"
        part.folder = parts / f"rank{rank + 1}of{world}"
        failure = None
        try:
            part.execute(progress=progress and rank == 0, wait=wait)
        except Exception as error:  # noqa: BLE001  (every rank must reach the exchange below)
            failure = f"rank {rank}: {error}"
        outcomes = [None] * world
        dist.all_gather_object(outcomes, failure)
        failures = [outcome for outcome in outcomes if outcome]
        if failures:
            if rank == 0:
                write_json({"status": "failed", "dataset": {}, "error": {"ranks": failures},
                            "parts": str(parts)}, folder / MANIFEST)
            raise RunFailedError("\n".join(failures) + "\nfinished images are kept; rerun the same command "
                                 "to resume")
        if rank == 0:
            merge_shards(sorted(parts.glob(f"rank*of{world}")), folder, replace=True)
        dist.barrier()
        return folder
    finally:
        dist.destroy_process_group()
