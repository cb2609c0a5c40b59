"""The metric interface and its registry.

Every metric declares its kind, which direction is better and the weight files it needs;
plots, reports and BD-rate read the direction from here and nowhere else.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np
import torch

from ..errors import ImageError, UnknownNameError
from ..registry import Registry
from ..weights import WeightFile, get_weight_file, require

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

    Both sets are described by per-image features (Inception features of 256x256 patches,
    shared by every distribution metric of a run, whose extractor declares the weight file);
    the metric turns the two feature sets into one number per rate point.
    """

    @abstractmethod
    def score_sets(self, reference: np.ndarray, reconstruction: np.ndarray, extractor=None) -> float:
        """Compare (N, D) reference features with (M, D) reconstruction features, made by
        ``extractor`` (a :class:`~rdpbench.metrics.features.PatchFeatures`)."""


def list_metrics() -> list[str]:
    return METRICS.names()


def parse_metric_names(spec: str) -> list[str]:
    """``"psnr,lpips"`` -> ["psnr", "lpips"]; ``all`` anywhere in the list stands for every
    registered metric; repeated names count once, in the order first given.

    Unknown names raise an error that lists the valid ones.
    """
    names = []
    for name in (part.strip() for part in spec.split(",")):
        if name == "all":
            names += list_metrics()
        elif name:
            if name not in METRICS:
                raise UnknownNameError("metric", name, list_metrics() + ["all"])
            names.append(name)
    if not names:
        raise UnknownNameError("metric", spec, list_metrics() + ["all"])
    return list(dict.fromkeys(names))


def get_metric(name: str, device: str = "cpu") -> Metric:
    return METRICS.get(name)(device=device)
