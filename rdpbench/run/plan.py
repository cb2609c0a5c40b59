"""The plan of a run: its settings turned into a codec, rate points, samplers, metrics, image
set and folder. Building it loads no weights and reads no image; every name and option is
checked here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import torch

from ..batching import DecodeBatching
from ..codecs import DEFAULT_SAMPLER, CodecBase, get_codec
from ..codecs.options import option_notes
from ..codecs.registry import check_options, codec_class_of
from ..datasets import Dataset, get_dataset
from ..errors import RdpbenchError
from ..metrics import parse_metric_names
from ..metrics.suite import MetricSuite
from ..paths import RunFolder
from .settings import RunSettings, check_run_name, resolve_device
from .targets import target_points


@dataclass(frozen=True)
class Plan:
    """What a run does, settled before any work."""

    settings: RunSettings
    device: str
    codec: CodecBase
    points: list[str]
    samplers: list[str]
    suite: MetricSuite
    #: The whole image set; ``dataset`` is the part this run evaluates (all of it, or a shard).
    full_dataset: Dataset
    dataset: Dataset
    folder: RunFolder
    batching: DecodeBatching
    #: What the plan noticed and the user should know (printed, and kept in run.json).
    notes: list[str]

    @property
    def image_names(self) -> list[str]:
        return [item.name for item in self.dataset.images]

    @property
    def at_targets(self) -> bool:
        """Whether the rate points are target rates (``--target-bpp``)."""
        return bool(self.settings.target_bpp)


def make_plan(settings: RunSettings) -> Plan:
    """Check ``settings`` and settle what the run will do; raise RdpbenchError on a bad input."""
    check_run_name(settings.name)
    device = resolve_device(settings.device)
    codec_class = codec_class_of(settings.codec)[0]
    try:
        batching = DecodeBatching(settings.batch_size, device, codec_class.decodes_in_batches())
    except ValueError as error:
        raise RdpbenchError(f"--batch-size: {error}") from None
    given = dict(settings.codec_options)
    if settings.batch_size is not None:
        given["batch_size"] = settings.batch_size
    check_options(codec_class, given)
    codec = get_codec(settings.codec, device=device, **settings.codec_options)
    if settings.target_bpp and settings.points:
        raise RdpbenchError("--target-bpp and --quality both choose rate points: give one of them")
    if settings.target_bpp:
        points = target_points(codec, settings.target_bpp)
    else:
        points = list(dict.fromkeys(codec.check_point(p) for p in settings.points or codec.default_points))
    samplers = list(dict.fromkeys(codec.check_sampler(s) for s in settings.samplers or codec.samplers[:1]))
    notes = option_notes(type(codec), given, samplers, torch.device(device).type)
    suite = MetricSuite(parse_metric_names(settings.metrics), device, settings.patch_protocol or "hific")
    if settings.save_bitstreams and not codec.has_bitstreams:
        notes.append(f"--save-bitstreams: {codec.name} has no bitstreams to save")
    if settings.patch_protocol and not suite.extractors:
        notes.append(f"--patches {settings.patch_protocol} applies to the distribution metrics only (fid, "
                     "kid, fd_dinov2, ...), and none is among the metrics: it has no effect")
    full_dataset = get_dataset(settings.dataset).limited(settings.limit)
    dataset = full_dataset.sharded(*settings.shard) if settings.shard else full_dataset
    notes += dataset.notes
    folder = run_folder(settings, codec, samplers, dataset)
    return Plan(settings, device, codec, points, samplers, suite, full_dataset, dataset, folder, batching, notes)


def run_folder(settings: RunSettings, codec: CodecBase, samplers: list[str], dataset: Dataset) -> RunFolder:
    """Where a run writes: OUT/NAME, NAME by default codec-samplers-dataset."""
    default = default_run_name(codec, samplers, dataset, bool(settings.target_bpp))
    return RunFolder(Path(settings.out) / (settings.name or default))


def default_run_name(codec: CodecBase, samplers: list[str], dataset: Dataset, at_targets: bool = False) -> str:
    """codec-samplers-dataset; runs at target rates add ``targets`` after the samplers."""
    parts = [codec.name] + [s for s in samplers if s != DEFAULT_SAMPLER] + ["targets"] * at_targets + [dataset.slug]
    return re.sub(r"[^A-Za-z0-9._+-]", "_", "-".join(parts))
