"""A run: codec x rate point x image x sampler -> rows of results, in stages that each take
and return explicit values:

    settings  -> plan       (:mod:`.settings`, :mod:`.plan`: names, options, folder)
    plan      -> checked    (:mod:`.preflight`: codec programs, weights, images, sizes; writes nothing)
    rows done -> batches    (:mod:`.schedule`: pure)
    batch     -> decoded    (:mod:`.decode`: encode once, decode per sampler; at target
                             rates, :mod:`.targets` searches each image's setting)
    decoded   -> row        (:mod:`.score`; the rate points' FID/KID too)
    rows      -> files      (:mod:`.write`; run.json in :mod:`.manifest`, resuming in :mod:`.resume`)

:mod:`.execute` strings them together; :mod:`.merge` joins job-array shards and
:mod:`.distributed` splits a run over torchrun's ranks.
"""

from .decode import image_seed
from .execute import evaluate, execute
from .plan import Plan, make_plan
from .settings import RunSettings, parse_shard, resolve_device


def run(settings: RunSettings, progress: bool = True, wait: bool = True):
    """Run ``settings`` in this process, or as this rank's part when started by torchrun;
    return the run folder."""
    from .distributed import launched_by_torchrun, run_distributed

    if launched_by_torchrun():
        return run_distributed(settings, progress=progress, wait=wait)
    return evaluate(settings, progress=progress, wait=wait)


__all__ = ["Plan", "RunSettings", "evaluate", "execute", "image_seed", "make_plan", "parse_shard",
           "resolve_device", "run"]
