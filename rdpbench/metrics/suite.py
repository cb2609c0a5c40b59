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


class MetricSuite:
    """Per-image scores, per-image features for the distribution metrics, and the per-point
    scores computed from those features.

    The distribution metrics share one extractor per feature network (Inception for FID and
    KID, DINOv2 for FD-DINOv2), all on the run's patches. Reference-side features (which
    depend only on the original image, the extractor, its weights and the patch protocol) are
    stored under ``<rdpbench cache>/reference/<extractor key>/`` keyed by the image's pixel
    hash, so every codec, rate point and run on the same images reuses them.
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
        #: {feature network: extractor}, in the order the metrics name the networks.
        self.extractors: dict[str, PatchFeatures] = {
            network: patch_features(device, patch_protocol, network)
            for network in dict.fromkeys(m.features for m in self.distribution_metrics)}
        self.patch_protocol = patch_protocol
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
        files.update((e.weight_file.file_name, e.weight_file) for e in self.extractors.values())
        return list(files.values())

    def check_sizes(self, sizes: dict[str, tuple[int, int]]) -> int:
        """Raise ImageError naming every image a metric cannot take; return the patch count
        of the set."""
        check_sizes(sizes, [metric.check_size for metric in self.image_metrics], "image/metric pair(s) cannot be scored")
        if not self.extractors:
            return 0
        n_patches = self.patch_count(sizes)
        if n_patches < 2:
            raise RdpbenchError(
                f"{', '.join(self.distribution_metric_names)} need at least 2 patches of 256x256; "
                f"these images give {n_patches} under the {self.patch_protocol!r} protocol"
            )
        return n_patches

    def patch_count(self, sizes: dict[str, tuple[int, int]]) -> int:
        """How many patches images of these sizes give under the run's protocol."""
        return sum(len(patch_corners(h, w, self.patch_protocol)) for h, w in sizes.values())

    def prepare(self) -> None:
        for metric in self.image_metrics:
            metric.prepare()
        for extractor in self.extractors.values():
            extractor.prepare()

    def score_image(self, reference: torch.Tensor, reconstruction: torch.Tensor) -> dict:
        """{metric name: value} of every per-image metric."""
        return {m.name: m.score(reference, reconstruction) for m in self.image_metrics}

    @property
    def features_keys(self) -> dict[str, str]:
        """{feature network: its extractor's cache key} (known once prepared): where a run
        folder keeps each network's features."""
        return {network: extractor.cache_key for network, extractor in self.extractors.items()}

    def reference_features(self, network: str, load_image, pixel_hash: str) -> np.ndarray:
        """``network``'s features of an original image, from the cache or computed (and
        cached) now. ``load_image`` is called only on a cache miss."""
        path = self.reference_cache_dir(network) / f"{pixel_hash}.npy"
        cached = load_array(path)
        if cached is not None:
            return cached
        features = self.extractors[network](load_image())
        save_array(features, path)
        self.reference_computed += 1
        return features

    def reference_cache_dir(self, network: str) -> Path:
        return cache_root() / "reference" / self.extractors[network].cache_key

    def score_point(self, sets: dict[str, tuple[FeatureSet, FeatureSet]]) -> dict:
        """{metric name: value} of every distribution metric for one rate point, from
        {feature network: (reference, reconstruction) features}, read image by image."""
        return {m.name: m.score_sets(*sets[m.features], self.extractors[m.features])
                for m in self.distribution_metrics}

    def describe(self, n_patches: int) -> dict:
        """What a manifest records of the metrics: protocol, patch count and caveats."""
        described = {"per_image": self.image_metric_names, "per_point": self.distribution_metric_names,
                     "variants": {m.name: m.variant() for m in self.image_metrics + self.derived_metrics}}
        for metric in self.distribution_metrics:
            extractor = self.extractors[metric.features]
            described["variants"][metric.name] = {
                **metric.variant(), "features": f"{extractor.name} ({extractor.package} "
                f"{metadata.version(extractor.package)}), protocol {extractor.protocol}"}
        if not self.extractors:
            return described
        # the first extractor's description stays at the top level, where manifests before
        # DINOv2 recorded the only one; every extractor is under "extractors"
        first = next(iter(self.extractors.values()))
        described["patches"] = {**first.describe(), "n_patches": n_patches,
                                "extractors": {network: e.describe() for network, e in self.extractors.items()}}
        subsets, size = kid_subsets(n_patches)
        described["patches"]["kid_subsets"] = {"subsets": subsets, "patches_per_subset": size}
        dimensions = max(e.dimensions for e in self.extractors.values())
        if n_patches < dimensions:
            described["patches"]["warning"] = (
                f"{n_patches} patches < {dimensions} feature dimensions: the patch Frechet "
                "distances' covariances are rank-deficient and their values noisy; compare KID, "
                "or use a larger set (CLIC 2020) for a trustworthy FID"
            )
        return described
