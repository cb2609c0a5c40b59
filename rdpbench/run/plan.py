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
    points = list(dict.fromkeys(codec.check_point(p) for p in settings.points or codec.default_points))
    samplers = list(dict.fromkeys(codec.check_sampler(s) for s in settings.samplers or codec.samplers[:1]))
    notes = option_notes(type(codec), given, samplers, torch.device(device).type)
    suite = MetricSuite(parse_metric_names(settings.metrics), device, settings.patch_protocol or "hific")
    if settings.save_bitstreams and not codec.has_bitstreams:
        notes.append(f"--save-bitstreams: {codec.name} has no bitstreams to save")
    if settings.patch_protocol and not suite.extractor:
        notes.append(f"--patches {settings.patch_protocol} applies to fid and kid only, and neither "
                     "is among the metrics: it has no effect")
    full_dataset = get_dataset(settings.dataset).limited(settings.limit)
    dataset = full_dataset.sharded(*settings.shard) if settings.shard else full_dataset
    notes += dataset.notes
    folder = run_folder(settings, codec, samplers, dataset)
    return Plan(settings, device, codec, points, samplers, suite, full_dataset, dataset, folder, batching, notes)


def run_folder(settings: RunSettings, codec: CodecBase, samplers: list[str], dataset: Dataset) -> RunFolder:
    """Where a run writes: OUT/NAME, NAME by default codec-samplers-dataset."""
    return RunFolder(Path(settings.out) / (settings.name or default_run_name(codec, samplers, dataset)))


def default_run_name(codec: CodecBase, samplers: list[str], dataset: Dataset) -> str:
    parts = [codec.name] + [s for s in samplers if s != DEFAULT_SAMPLER] + [dataset.slug]
    return re.sub(r"[^A-Za-z0-9._+-]", "_", "-".join(parts))
