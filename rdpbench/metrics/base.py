"""The metric interface and its registry.

Every metric declares its kind, which direction is better and the weight files it needs;
plots, reports and BD-rate read the direction from here (:func:`higher_is_better`) and
nowhere else.

Names are looked up in this order:
  ``NAME``            a metric registered here (``rdpbench list metrics``);
  ``NAME:ARGUMENT``   a registered family of metrics that takes an argument, e.g.
                      ``pyiqa:topiq_nr`` or ``pyiqa:ms_ssim(test_y_channel=false)``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np
import pandas as pd
import torch

from ..errors import ImageError, RdpbenchError, UnknownNameError
from ..registry import Registry
from ..weights import WeightFile, get_weight_file, require
from .feature_set import FeatureSet

FULL_REFERENCE = "full-reference"
NO_REFERENCE = "no-reference"
DISTRIBUTION = "distribution"

METRICS: Registry = Registry("metric")
register_metric = METRICS.register


class Metric(ABC):
    """A quality measure. Build it once per run (``prepare``), then call it per image."""

    name: ClassVar[str]
    kind: ClassVar[str]
    higher_is_better: ClassVar[bool]
    description: ClassVar[str] = ""
    #: Weight files, by name in ``rdpbench.weights.weight_files()``.
    weight_names: ClassVar[list[str]] = []
    #: Smallest (height, width) the metric can score.
    min_size: ClassVar[tuple[int, int]] = (1, 1)
    #: What a family of metrics takes after ``NAME:`` (``"NAME(OPTIONS)"``); None for a
    #: single metric. A family's constructor takes it as its first argument.
    argument: ClassVar[str | None] = None
    #: Peak working memory per pixel of the image scored (bytes, on the metric's device),
    #: beyond the uint8 images themselves: measured on the CPU, rounded up (see ``memory_need``).
    bytes_per_pixel: ClassVar[float] = 0.0

    def __init__(self, device: str = "cpu"):
        self.device = torch.device(device)

    def weight_files(self) -> list[WeightFile]:
        """Files this metric loads (none for closed-form metrics)."""
        return [get_weight_file(name) for name in self.weight_names]

    def prepare(self) -> None:
        """Build models and load weights; called once before the first image. Raises
        MissingWeightsError naming every absent file."""
        require(self.weight_files())

    def variant(self) -> dict:
        """Exactly which version of the metric this is (implementation, network, options),
        for the run manifest and the report: numbers of two variants are not comparable."""
        return {"description": self.description}

    def memory_need(self, height: int, width: int) -> int:
        """Peak working memory (bytes, on the metric's device) of scoring one image of this
        size, beyond the uint8 images themselves; the run's preflight adds it up."""
        return math.ceil(self.bytes_per_pixel * height * width)

    def check_size(self, image_name: str, height: int, width: int) -> None:
        """Raise ImageError naming the image when it is too small for this metric."""
        if height < self.min_size[0] or width < self.min_size[1]:
            raise ImageError(
                f"{image_name}: {height}x{width} pixels is smaller than {self.name} takes "
                f"({self.min_size[0]}x{self.min_size[1]})"
            )


class ImageMetric(Metric):
    """A per-image metric: full-reference (compares with the original) or no-reference."""

    @abstractmethod
    def score(self, reference: torch.Tensor, reconstruction: torch.Tensor) -> float:
        """Score a uint8 (3, H, W) reconstruction (against its uint8 (3, H, W) reference)."""


class DistributionMetric(Metric):
    """A metric of a set of reconstructions against the set of originals (FID, KID).

    Both sets are described by per-image features (features of 256x256 patches from the
    network the metric names in ``features``, shared by every distribution metric of a run
    that names the same network, whose extractor declares the weight file);
    the metric turns the two feature sets into one number per rate point, reading them image
    by image so that memory does not grow with the set.
    """

    #: The network of the features (a key of ``rdpbench.metrics.features.NETWORKS``).
    features: ClassVar[str] = "inception"

    @abstractmethod
    def score_sets(self, reference: FeatureSet | np.ndarray, reconstruction: FeatureSet | np.ndarray,
                   extractor=None) -> float:
        """Compare N reference features with M reconstruction features of D dimensions (each a
        :class:`~rdpbench.metrics.feature_set.FeatureSet`, or an (N, D) / (M, D) array), made
        by ``extractor`` (a :class:`~rdpbench.metrics.features.PatchFeatures`)."""


class DerivedMetric(Metric):
    """A rate point's value computed from the mean of a per-image metric (``source``) over
    the point's images, the way published figures derive it (MS-SSIM in dB from the mean
    MS-SSIM). It needs no weights and no pixels: points.csv gets it wherever its source is."""

    source: ClassVar[str]

    @abstractmethod
    def from_mean(self, mean: float) -> float:
        """The value of a rate point whose images' ``source`` values average ``mean``."""


def list_metrics() -> list[str]:
    """Names of the registered metrics (what ``all`` stands for); families are not among them."""
    return [name for name in METRICS.names() if METRICS.get(name).argument is None]


def split_metric_list(spec: str) -> list[str]:
    """``"psnr, pyiqa:ssim(a=1,b=2)"`` -> ["psnr", "pyiqa:ssim(a=1,b=2)"]: split at the
    commas outside parentheses, so that a metric's options stay together."""
    parts, depth, current = [], 0, ""
    for character in spec:
        depth += {"(": 1, ")": -1}.get(character, 0)
        if depth < 0:
            break
        if character == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += character
    if depth != 0:
        raise RdpbenchError(f"--metrics {spec!r}: unbalanced parentheses")
    return [part.strip() for part in parts + [current] if part.strip()]


def parse_metric_names(spec: str) -> list[str]:
    """``"psnr,lpips"`` -> ["psnr", "lpips"]; ``all`` anywhere in the list stands for every
    registered metric; repeated names count once, in the order first given. A family's
    member is named as the family writes it (``pyiqa:ssim(downsample=true)``).

    Unknown names raise an error that lists the valid ones.
    """
    names = []
    for name in split_metric_list(spec):
        names += list_metrics() if name == "all" else [get_metric(name).name]
    if not names:
        raise UnknownNameError("metric", spec, valid_names())
    return list(dict.fromkeys(names))


def valid_names() -> list[str]:
    """What ``--metrics`` takes, for error messages: every metric, each family's form, ``all``."""
    families = [f"{name}:{METRICS.get(name).argument}" for name in METRICS.names() if METRICS.get(name).argument]
    return list_metrics() + families + ["all"]


def get_metric(name: str, device: str = "cpu") -> Metric:
    """The metric called ``name`` (a registered name or ``FAMILY:ARGUMENT``), not yet prepared."""
    if name in METRICS:
        metric_class = METRICS.get(name)
        if metric_class.argument:
            raise RdpbenchError(f"metric {name} needs an argument: {name}:{metric_class.argument}")
        return metric_class(device=device)
    family, separator, argument = name.partition(":")
    if separator and family in METRICS and METRICS.get(family).argument:
        return METRICS.get(family)(argument, device=device)
    raise UnknownNameError("metric", name, valid_names())


def higher_is_better(name: str) -> bool | None:
    """Whether a larger value of the metric called ``name`` is better; None for a name that
    is no metric (a column of some other kind)."""
    try:
        return get_metric(name).higher_is_better
    except RdpbenchError:
        return None


def with_derived_columns(points: pd.DataFrame) -> pd.DataFrame:
    """``points`` (rows of points.csv) with the value of every registered derived metric
    whose source column is there, placed right after its source."""
    points = points.copy()
    for name in list_metrics():
        metric = get_metric(name)
        if isinstance(metric, DerivedMetric) and metric.source in points:
            values = [metric.from_mean(float(mean)) for mean in points[metric.source]]
            points = points.drop(columns=name, errors="ignore")
            points.insert(points.columns.get_loc(metric.source) + 1, name, values)
    return points
