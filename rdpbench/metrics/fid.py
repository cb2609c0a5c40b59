"""Patch FID and KID: distances between the Inception features (``rdpbench.metrics.features``)
of the 256x256 patches of the reconstructions and of the same patches of the originals, read
image by image from a :class:`~rdpbench.metrics.feature_set.FeatureSet`, so that memory does not
grow with the number of images.

FID = |mu_1 - mu_2|^2 + Tr(S_1) + Tr(S_2) - 2 Tr((S_1 S_2)^(1/2)). The packages compute the last
trace from a general matrix square root (pyiqa, scipy's sqrtm) or the eigenvalues of the
non-symmetric product (torch-fidelity): seconds to a quarter of a minute per rate point on a
CPU, and inexact when the covariances are singular (fewer patches than 2048 dimensions, as on
Kodak). rdpbench computes it exactly with symmetric algebra. Each set of at most ``dimensions``
patches is read whole (at most dimensions x dimensions values), its mean and covariance taken
from its rows as the packages take them; a larger set is read a few images at a time into
running sums (count, sum, sum of outer products), so that memory holds about ``dimensions``
patches' features and a few dimensions x dimensions matrices, whatever the number of patches
(``benchmarks/feature_set_memory.py`` measures it). Writing each covariance as
S = F F^T, with F = X^T / sqrt(n - 1) of the centred rows X of a small set and F = S^(1/2) of a
large one, the trace is the sum of the singular values of F_1^T F_2 when either set is small
(for two small sets, the nuclear norm of X_1 X_2^T / sqrt((n_1 - 1)(n_2 - 1))), and the sum of
the square roots of the eigenvalues of S_1^(1/2) S_2 S_1^(1/2) when both are large. A singular
covariance (a small set) never goes through a square root of its eigenvalues, which would
turn their rounding errors near zero into errors of about 1e-8.

Both agree with the packages' values to about six significant digits. An extractor's
``statistics_dtype`` rounds the features before the statistics (float32 for the ``paper``
protocol, as pyiqa keeps them), and the means are summed in that dtype row after row, as
numpy's mean of the whole matrix sums them: the same means as pyiqa's, in both ways. Beyond
``dimensions`` patches the covariances come from float64 sums of outer products instead of
numpy's two-pass ``cov`` of the whole matrix, which changes them by rounding only (1.5e-15 of
the largest entry on 30,000 patches x 2048 random features, whose FID came out the same to
the last digit).

KID takes its random subsets of rows exactly as torch-fidelity's ``kid_features_to_metric``
draws them (same seed, same order of draws), gathering only the chosen rows from the files.
"""

from __future__ import annotations

from importlib import metadata

import numpy as np

from .base import DISTRIBUTION, DistributionMetric, register_metric
from .feature_set import FeatureSet
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

    def score_sets(self, reference: FeatureSet | np.ndarray, reconstruction: FeatureSet | np.ndarray,
                   extractor: PatchFeatures | type[PatchFeatures] = TorchFidelityInception) -> float:
        value = frechet_distance(reference, reconstruction, extractor.statistics_dtype)
        # identical sets can come out as a tiny negative number
        return max(value, 0.0)


@register_metric("fd_dinov2")
class PatchFDDinoV2(PatchFID):
    """Frechet distance of DINOv2 ViT-L/14 features of the same 256x256 patches (Stein et al.
    2023, "Exposing flaws of generative model evaluation metrics"), clamped at 0."""

    name = "fd_dinov2"
    features = "dinov2"
    description = "Frechet distance on DINOv2 ViT-L/14 features of 256x256 patches"


def frechet_distance(first: FeatureSet | np.ndarray, second: FeatureSet | np.ndarray,
                     dtype: type = np.float64) -> float:
    """FID of two feature sets (FeatureSets, or arrays of patches x dimensions), the features
    rounded to ``dtype`` for the statistics (see the module for how each set is read)."""
    first, second = FeatureSet.of(first), FeatureSet.of(second)
    if first.dimensions != second.dimensions:
        raise ValueError(f"feature sets of {first.dimensions} and {second.dimensions} dimensions")
    (mean_first, cov_first, rows_first), (mean_second, cov_second, rows_second) = (
        set_moments(features, dtype) for features in (first, second))
    difference = mean_first - mean_second
    return float(difference @ difference + np.trace(cov_first) + np.trace(cov_second)
                 - 2 * trace_sqrt_product(cov_first, cov_second, rows_first, rows_second))


def set_moments(features: FeatureSet, dtype: type = np.float64) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(mean, covariance, rows) of a feature set rounded to ``dtype``: from its rows, which come
    back too, for a set of at most its dimensions of patches; else streamed, and no rows."""
    if len(features) <= features.dimensions:
        rows = features.all_rows().astype(dtype)
        return rows.mean(0).astype(np.float64), np.cov(rows, rowvar=False), rows
    statistics = features.statistics(dtype)
    return statistics.mean, statistics.covariance, None


def trace_sqrt_product(cov_first: np.ndarray, cov_second: np.ndarray, rows_first: np.ndarray | None = None,
                       rows_second: np.ndarray | None = None) -> float:
    """Tr((S_1 S_2)^(1/2)) of two covariances, exactly: from a set's rows where they are given
    (a set of at most its dimensions of patches), else from its covariance (see the module)."""
    if rows_first is None and rows_second is None:
        root = covariance_root(cov_first)
        return float(np.sqrt(np.linalg.eigvalsh(root @ cov_second @ root).clip(min=0)).sum())
    factors = [covariance_root(cov) if rows is None else centred_factor(rows)
               for cov, rows in ((cov_first, rows_first), (cov_second, rows_second))]
    return float(np.linalg.svd(factors[0].T @ factors[1], compute_uv=False).sum())


def covariance_root(covariance: np.ndarray) -> np.ndarray:
    """The symmetric square root of a covariance matrix."""
    values, vectors = np.linalg.eigh(covariance)
    return (vectors * np.sqrt(values.clip(min=0))) @ vectors.T


def centred_factor(rows: np.ndarray) -> np.ndarray:
    """F = X^T / sqrt(n - 1) of the n centred rows X, so that F F^T is their covariance."""
    rows = rows.astype(np.float64)
    return (rows - rows.mean(0)).T / np.sqrt(len(rows) - 1)


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

    def score_sets(self, reference: FeatureSet | np.ndarray, reconstruction: FeatureSet | np.ndarray,
                   extractor=None) -> float:
        from torch_fidelity.metric_kid import kernel_mmd

        reference, reconstruction = FeatureSet.of(reference), FeatureSet.of(reconstruction)
        subsets, size = kid_subsets(min(len(reference), len(reconstruction)))
        # kid_features_to_metric's loop, with rows gathered from the files instead of indexed
        # in whole-set arrays: the same draws in the same order give the same subsets
        rng = np.random.RandomState(KID_SEED)
        values = np.zeros(subsets)
        for index in range(subsets):
            first = reference.rows(rng.choice(len(reference), size, replace=False))
            second = reconstruction.rows(rng.choice(len(reconstruction), size, replace=False))
            values[index] = kernel_mmd(first, second)
        return float(np.mean(values))


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

    def score_sets(self, reference: FeatureSet | np.ndarray, reconstruction: FeatureSet | np.ndarray,
                   extractor=None) -> float:
        reference, reconstruction = FeatureSet.of(reference), FeatureSet.of(reconstruction)
        if len(reference) != len(reconstruction):
            raise ValueError(f"kid_paired needs paired sets; got {len(reference)} and {len(reconstruction)} patches")
        subsets, size = kid_subsets(len(reference))
        rng = np.random.RandomState(KID_SEED)
        values = []
        for _ in range(subsets):
            chosen = rng.choice(len(reference), size, replace=False) if subsets > 1 else np.arange(len(reference))
            values.append(paired_mmd2(reference.rows(chosen), reconstruction.rows(chosen)))
        return float(np.mean(values))


def paired_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 of paired samples (x_i, y_i), kernel (x.y / d + 1)^3: every kernel
    mean is taken over i != j."""
    m, d = x.shape

    def off_diagonal_mean(a: np.ndarray, b: np.ndarray) -> float:
        kernel = (a @ b.T / d + 1) ** 3
        return (kernel.sum() - np.trace(kernel)) / (m * (m - 1))

    return off_diagonal_mean(x, x) + off_diagonal_mean(y, y) - 2 * off_diagonal_mean(x, y)
