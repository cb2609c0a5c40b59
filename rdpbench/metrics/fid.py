"""Patch FID and KID: distances between the Inception features (``rdpbench.metrics.features``)
of the 256x256 patches of the reconstructions and of the same patches of the originals.

FID = |mu_1 - mu_2|^2 + Tr(S_1) + Tr(S_2) - 2 Tr((S_1 S_2)^(1/2)). The packages compute the last
trace from a general matrix square root (pyiqa, scipy's sqrtm) or the eigenvalues of the
non-symmetric product (torch-fidelity): seconds to a quarter of a minute per rate point on a
CPU, and inexact when the covariances are singular (fewer patches than 2048 dimensions, as on
Kodak). rdpbench computes it exactly with symmetric algebra: with centred features X_1, X_2,
the trace is the nuclear norm of X_1 X_2^T / sqrt((n_1 - 1)(n_2 - 1)); with more patches than
dimensions, the sum of the square roots of the eigenvalues of S_1^(1/2) S_2 S_1^(1/2). Both
agree with the packages' values to about six significant digits.
"""

from __future__ import annotations

from importlib import metadata

import numpy as np
import torch

from .base import DISTRIBUTION, DistributionMetric, register_metric
from .features import PatchFeatures, TorchFidelityInception


@register_metric("fid")
class PatchFID(DistributionMetric):
    """Frechet Inception distance over 256x256 patches (clamped at 0), with the feature
    statistics in the dtype of the extractor's package (see the module for the trace)."""

    name = "fid"
    kind = DISTRIBUTION
    higher_is_better = False
    description = "Frechet Inception distance on 256x256 patches"

    def variant(self) -> dict:
        return {"formula": "Frechet distance, Tr((S1 S2)^1/2) exact through symmetric algebra",
                "clamped_at": 0.0}

    def score_sets(self, reference: np.ndarray, reconstruction: np.ndarray,
                   extractor: PatchFeatures | type[PatchFeatures] = TorchFidelityInception) -> float:
        value = frechet_distance(reference, reconstruction, extractor.statistics_dtype)
        # identical sets can come out as a tiny negative number
        return max(value, 0.0)


def frechet_distance(first: np.ndarray, second: np.ndarray, dtype: type = np.float64) -> float:
    """FID of two feature sets (patches x dimensions), means taken in ``dtype``."""
    first, second = first.astype(dtype), second.astype(dtype)
    difference = first.mean(0).astype(np.float64) - second.mean(0).astype(np.float64)
    covariances = [np.cov(features, rowvar=False) for features in (first, second)]
    return float(difference @ difference + np.trace(covariances[0]) + np.trace(covariances[1])
                 - 2 * trace_sqrt_product(first, second, *covariances))


def trace_sqrt_product(first: np.ndarray, second: np.ndarray, cov_first: np.ndarray, cov_second: np.ndarray) -> float:
    """Tr((S_1 S_2)^(1/2)) of the covariances of two feature sets, exactly (see the module)."""
    (n_first, dimensions), n_second = first.shape, len(second)
    if max(n_first, n_second) <= dimensions:
        centred = [f.astype(np.float64) - f.astype(np.float64).mean(0) for f in (first, second)]
        cross = centred[0] @ centred[1].T / np.sqrt((n_first - 1) * (n_second - 1))
        return float(np.linalg.svd(cross, compute_uv=False).sum())
    values, vectors = np.linalg.eigh(cov_first)
    root = (vectors * np.sqrt(values.clip(min=0))) @ vectors.T
    return float(np.sqrt(np.linalg.eigvalsh(root @ cov_second @ root).clip(min=0)).sum())

#: Above this many patches, KID is the mean over random subsets of this size (as
#: torch-fidelity computes it): the kernel matrices of all N patches need memory in N^2.
KID_SUBSET_SIZE = 1000
KID_SUBSETS = 100
KID_SEED = 2020  # torch-fidelity's default


def kid_subsets(n_patches: int) -> tuple[int, int]:
    """(number of subsets, patches per subset) of KID for a set of ``n_patches``."""
    return (1, n_patches) if n_patches <= KID_SUBSET_SIZE else (KID_SUBSETS, KID_SUBSET_SIZE)


@register_metric("kid")
class PatchKID(DistributionMetric):
    """Kernel Inception distance over 256x256 patches (Binkowski et al. 2018): torch-fidelity's
    unbiased MMD^2 with the cubic polynomial kernel; on all patches up to 1000, else the mean
    over 100 random subsets of 1000.

    The estimator assumes the two sets independent. Here they are paired (patch i of the
    reconstructions is patch i of the originals, decoded), which adds the kernel of each
    matched pair to the cross term: when reconstructions are close, KID sits below zero.
    ``kid_paired`` leaves matched pairs out and is unbiased for paired sets."""

    name = "kid"
    kind = DISTRIBUTION
    higher_is_better = False
    description = "kernel Inception distance on 256x256 patches (torch-fidelity)"

    def variant(self) -> dict:
        return {"implementation": f"torch-fidelity {metadata.version('torch-fidelity')}",
                "kernel": "(x.y / d + 1)^3", "estimator": "unbiased MMD^2, sets taken as independent",
                "subsets": f"all patches up to {KID_SUBSET_SIZE}, else {KID_SUBSETS} subsets of "
                           f"{KID_SUBSET_SIZE} (seed {KID_SEED})"}

    def score_sets(self, reference: np.ndarray, reconstruction: np.ndarray, extractor=None) -> float:
        from torch_fidelity.metric_kid import kid_features_to_metric

        subsets, size = kid_subsets(min(len(reference), len(reconstruction)))
        result = kid_features_to_metric(
            torch.from_numpy(reference), torch.from_numpy(reconstruction),
            kid_subsets=subsets, kid_subset_size=size, rng_seed=KID_SEED, verbose=False,
        )
        return float(result["kernel_inception_distance_mean"])


@register_metric("kid_paired")
class PairedPatchKID(DistributionMetric):
    """KID for paired sets: the unbiased MMD^2 whose cross term averages k(x_i, y_j) over
    i != j only, since x_i and y_i (a patch and its reconstruction) are not independent. The
    same kernel and subsets as ``kid``; the subsets keep pairs together."""

    name = "kid_paired"
    kind = DISTRIBUTION
    higher_is_better = False
    description = "kernel Inception distance, unbiased for paired patches"

    def variant(self) -> dict:
        return {"implementation": "rdpbench", "kernel": "(x.y / d + 1)^3",
                "estimator": "unbiased MMD^2 of paired sets (matched pairs left out of the cross term)",
                "subsets": f"all patches up to {KID_SUBSET_SIZE}, else {KID_SUBSETS} subsets of "
                           f"{KID_SUBSET_SIZE} (seed {KID_SEED}), pairs kept together"}

    def score_sets(self, reference: np.ndarray, reconstruction: np.ndarray, extractor=None) -> float:
        if len(reference) != len(reconstruction):
            raise ValueError(f"kid_paired needs paired sets; got {len(reference)} and {len(reconstruction)} patches")
        subsets, size = kid_subsets(len(reference))
        rng = np.random.RandomState(KID_SEED)
        values = []
        for _ in range(subsets):
            chosen = rng.choice(len(reference), size, replace=False) if subsets > 1 else slice(None)
            values.append(paired_mmd2(reference[chosen], reconstruction[chosen]))
        return float(np.mean(values))


def paired_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 of paired samples (x_i, y_i), kernel (x.y / d + 1)^3: every kernel
    mean is taken over i != j."""
    m, d = x.shape

    def off_diagonal_mean(a: np.ndarray, b: np.ndarray) -> float:
        kernel = (a @ b.T / d + 1) ** 3
        return (kernel.sum() - np.trace(kernel)) / (m * (m - 1))

    return off_diagonal_mean(x, x) + off_diagonal_mean(y, y) - 2 * off_diagonal_mean(x, y)
