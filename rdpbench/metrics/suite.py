"""The metrics of one run, built once and used for every image and rate point."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from ..cache import cache_root, load_array, save_array
from ..errors import RdpbenchError
from ..images import check_sizes
from .base import DerivedMetric, DistributionMetric, ImageMetric, get_metric, list_metrics
from .feature_set import FeatureSet
from .features import PatchFeatures, patch_features
from .fid import kid_subsets
from .patches import patch_corners

#: Below this many patches per set, patch FID's 2048 x 2048 covariance is rank-deficient.
FID_FEATURE_DIMENSIONS = PatchFeatures.dimensions


class MetricSuite:
    """Per-image scores, per-image features for the distribution metrics, and the per-point
    scores computed from those features.

    Reference-side features (which depend only on the original image, the weights and the
    patch protocol) are stored under ``<rdpbench cache>/reference/`` keyed by the image's
    pixel hash, so every codec, rate point and run on the same images reuses them.
    """

    def __init__(self, names: list[str], device: str = "cpu", patch_protocol: str = "hific"):
        metrics = [get_metric(name, device=device) for name in names]
        sources = [m.source for m in metrics if isinstance(m, DerivedMetric) and m.source not in names]
        metrics += [get_metric(name, device=device) for name in dict.fromkeys(sources)]
        self.image_metrics = [m for m in metrics if isinstance(m, ImageMetric)]
        #: Every derived metric whose source is scored: points.csv carries them all.
        self.derived_metrics = [m for m in map(get_metric, list_metrics())
                                if isinstance(m, DerivedMetric) and m.source in self.image_metric_names]
        self.distribution_metrics = [m for m in metrics if isinstance(m, DistributionMetric)]
        self.extractor = (
            patch_features(device, patch_protocol) if self.distribution_metrics else None
        )
        self.reference_computed = 0  # how many reference feature sets were not in the cache

    @property
    def image_metric_names(self) -> list[str]:
        return [m.name for m in self.image_metrics]

    @property
    def distribution_metric_names(self) -> list[str]:
        return [m.name for m in self.distribution_metrics]

    @property
    def metric_names(self) -> list[str]:
        """Every metric of the run: per image, per rate point from features, derived."""
        return self.image_metric_names + self.distribution_metric_names + [m.name for m in self.derived_metrics]

    def weight_files(self) -> list:
        files = {}
        for metric in self.image_metrics:
            files.update((f.file_name, f) for f in metric.weight_files())
        if self.extractor:
            files[self.extractor.weight_file.file_name] = self.extractor.weight_file
        return list(files.values())

    def check_sizes(self, sizes: dict[str, tuple[int, int]]) -> int:
        """Raise ImageError naming every image a metric cannot take; return the patch count
        of the set."""
        check_sizes(sizes, [metric.check_size for metric in self.image_metrics], "image/metric pair(s) cannot be scored")
        if not self.extractor:
            return 0
        n_patches = self.patch_count(sizes)
        if n_patches < 2:
            raise RdpbenchError(
                f"{', '.join(self.distribution_metric_names)} need at least 2 patches of 256x256; "
                f"these images give {n_patches} under the {self.extractor.protocol!r} protocol"
            )
        return n_patches

    def patch_count(self, sizes: dict[str, tuple[int, int]]) -> int:
        """How many patches images of these sizes give under the run's protocol."""
        return sum(len(patch_corners(h, w, self.extractor.protocol)) for h, w in sizes.values())

    def prepare(self) -> None:
        for metric in self.image_metrics:
            metric.prepare()
        if self.extractor:
            self.extractor.prepare()

    def score_image(self, reference: torch.Tensor, reconstruction: torch.Tensor) -> dict:
        """{metric name: value} of every per-image metric."""
        return {m.name: m.score(reference, reconstruction) for m in self.image_metrics}

    def features(self, image: torch.Tensor) -> np.ndarray:
        """Distribution-metric features of one image (its patches' Inception features)."""
        return self.extractor(image)

    def reference_features(self, load_image, pixel_hash: str) -> np.ndarray:
        """Features of an original image, from the cache or computed (and cached) now.
        ``load_image`` is called only on a cache miss."""
        path = self.reference_cache_dir() / f"{pixel_hash}.npy"
        cached = load_array(path)
        if cached is not None:
            return cached
        features = self.extractor(load_image())
        save_array(features, path)
        self.reference_computed += 1
        return features

    def reference_cache_dir(self) -> Path:
        return cache_root() / "reference" / self.extractor.cache_key

    def score_point(self, reference: FeatureSet, reconstruction: FeatureSet) -> dict:
        """{metric name: value} of every distribution metric for one rate point, whose patch
        features are read image by image."""
        return {m.name: m.score_sets(reference, reconstruction, self.extractor) for m in self.distribution_metrics}

    def describe(self, n_patches: int) -> dict:
        """What a manifest records of the metrics: protocol, patch count and caveats."""
        described = {"per_image": self.image_metric_names, "per_point": self.distribution_metric_names,
                     "variants": {m.name: m.variant() for m in self.image_metrics + self.derived_metrics}}
        for metric in self.distribution_metrics:
            described["variants"][metric.name] = {
                **metric.variant(), "features": f"{self.extractor.name} ({self.extractor.package} "
                f"{metadata.version(self.extractor.package)}), protocol {self.extractor.protocol}"}
        if self.extractor:
            described["patches"] = {**self.extractor.describe(), "n_patches": n_patches}
            subsets, size = kid_subsets(n_patches)
            described["patches"]["kid_subsets"] = {"subsets": subsets, "patches_per_subset": size}
            if n_patches < FID_FEATURE_DIMENSIONS:
                described["patches"]["warning"] = (
                    f"{n_patches} patches < {FID_FEATURE_DIMENSIONS} feature dimensions: the "
                    "patch FID covariance is rank-deficient and the value noisy; compare KID, "
                    "or use a larger set (CLIC 2020) for a trustworthy FID"
                )
        return described
