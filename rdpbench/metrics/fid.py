"""Patch FID and KID: Inception-v3 features (torch-fidelity's port of the TF-slim 2015
network, 2048-d pool features) of 256x256 patches of the reconstructions against the same
patches of the originals.

The network runs in float64 (torch-fidelity's own ``feature_extractor_internal_dtype="float64"``
silently means float32 in 0.4, so rdpbench converts the network itself), so features do not
depend on how patches are batched; torch-fidelity rounds its outputs to float32. Reference-side
features depend on the original image, the weights, the patch protocol and the numerics (device
type, dtype, torch-fidelity version); the runner caches them on disk keyed by all of these, so
features computed on a CPU and on a GPU never mix.
"""

from __future__ import annotations

from importlib import metadata

import numpy as np
import torch

from ..weights import get_weight_file, require, sha256_of
from .base import DISTRIBUTION, DistributionMetric, register_metric
from .patches import PATCH_PROTOCOLS, check_protocol, extract_patches

INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"


class InceptionPatchFeatures:
    """Inception-v3 pool features of an image's 256x256 patches, (N, 2048) float64."""

    name = "inception"
    dimensions = 2048
    dtype = torch.float64

    def __init__(self, device: str = "cpu", protocol: str = "hific"):
        self.device = torch.device(device)
        self.protocol = check_protocol(protocol)
        self.model = None

    def prepare(self) -> None:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

        file = get_weight_file(INCEPTION_FILE)
        require([file])
        model = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(file.path))
        model.feature_extractor_internal_dtype = self.dtype  # forward() casts its input to this
        self.model = model.to(device=self.device, dtype=self.dtype)
        self.cache_key = (
            f"inception-{sha256_of(file.path)[:16]}-{self.protocol}-{self.device.type}-float64"
            f"-torch-fidelity{metadata.version('torch-fidelity')}"
        )

    @torch.inference_mode()
    def __call__(self, image: torch.Tensor) -> np.ndarray:
        """Features of the patches of one uint8 (3, H, W) image."""
        patches = extract_patches(image, self.protocol)
        if len(patches) == 0:
            return np.zeros((0, self.dimensions))
        [features] = self.model(patches.to(self.device))
        return features.double().cpu().numpy()

    def describe(self) -> dict:
        return {"extractor": self.name, "network_dtype": "float64", "features_dtype": "float32",
                "patch_protocol": self.protocol, "protocol_description": PATCH_PROTOCOLS[self.protocol]}


@register_metric("fid")
class PatchFID(DistributionMetric):
    """Frechet Inception distance over 256x256 patches (clamped at 0)."""

    name = "fid"
    kind = DISTRIBUTION
    higher_is_better = False
    description = "Frechet Inception distance on 256x256 patches"
    weight_names = [INCEPTION_FILE]

    def score_sets(self, reference: np.ndarray, reconstruction: np.ndarray) -> float:
        from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

        statistics = [
            fid_features_to_statistics(torch.from_numpy(features))
            for features in (reference, reconstruction)
        ]
        value = fid_statistics_to_metric(*statistics, verbose=False)["frechet_inception_distance"]
        # identical sets come out as a tiny negative number through the eigenvalues
        return max(float(value), 0.0)


@register_metric("kid")
class PatchKID(DistributionMetric):
    """Kernel Inception distance over 256x256 patches: the unbiased MMD^2 estimate with the
    cubic polynomial kernel, on all patches at once (no random subsets)."""

    name = "kid"
    kind = DISTRIBUTION
    higher_is_better = False
    description = "kernel Inception distance on 256x256 patches"
    weight_names = [INCEPTION_FILE]

    def score_sets(self, reference: np.ndarray, reconstruction: np.ndarray) -> float:
        from torch_fidelity.metric_kid import kid_features_to_metric

        size = min(len(reference), len(reconstruction))
        result = kid_features_to_metric(
            torch.from_numpy(reference), torch.from_numpy(reconstruction),
            kid_subsets=1, kid_subset_size=size, verbose=False,
        )
        return float(result["kernel_inception_distance_mean"])
