"""FID and KID read image by image from per-image feature files (FeatureSet) give the values
of the whole-set computations."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from rdpbench.cache import save_array
from rdpbench.errors import DamagedResultsError, RdpbenchError
from rdpbench.metrics import fid, get_metric
from rdpbench.metrics.feature_set import FeatureSet
from rdpbench.metrics.features import TORCH_FIDELITY_FILE, PatchFeatures
from rdpbench.metrics.fid import KID_SEED, frechet_distance, paired_mmd2

from conftest import run_once

DIMENSIONS = 16
#: KID's subsets of 1000 patches cost 0.1 s each here: the tests take the first few of the 100
#: (the draws of a subset do not depend on how many follow).
FEW_SUBSETS = 8


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    """Running sums over blocks of 64 rows: these tests' sets span several blocks, as large
    sets span several of 2048 rows."""
    from rdpbench.metrics import feature_set

    monkeypatch.setattr(feature_set, "BLOCK_ROWS", 64)


def features_pair(n_patches: int, dimensions: int = DIMENSIONS, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Non-negative reference features (as pooled activations are) and a distorted copy."""
    rng = np.random.default_rng(seed)
    reference = rng.gamma(1.0, 0.5, (n_patches, dimensions))
    return reference, reference * 0.8 + rng.normal(0.1, 0.3, reference.shape)


def as_files(features: np.ndarray, folder, seed: int = 0) -> FeatureSet:
    """``features`` split into per-image .npy files of unequal sizes (one of them empty)."""
    rng = np.random.default_rng(seed)
    cuts = np.sort(rng.choice(np.arange(1, len(features)), size=min(6, len(features) - 1), replace=False))
    pieces = [features[:0], *np.split(features, cuts)]
    paths = []
    for index, piece in enumerate(pieces):
        paths.append(folder / f"image{index}.npy")
        save_array(piece, paths[-1])
    assert len({len(piece) for piece in pieces}) > 2
    return FeatureSet(paths)


def independent_fid(first: np.ndarray, second: np.ndarray) -> float:
    """FID of whole matrices by the textbook formula. Full-rank covariances (more patches than
    dimensions in both sets): numpy's means and covariances, Tr((S1 S2)^1/2) from scipy's sqrtm
    of S1 S2 (pytorch-fid's formula). A singular covariance: everything in 50-digit arithmetic
    from the rows, since rounding it to float64 moves its zero eigenvalues to about 1e-17, and
    the square roots of those (about 3e-9 each) would enter the trace."""
    if min(len(first), len(second)) > first.shape[1]:
        import scipy.linalg

        means = [f.mean(0) for f in (first, second)]
        covariances = [np.cov(f, rowvar=False) for f in (first, second)]
        trace_root = np.trace(scipy.linalg.sqrtm(covariances[0] @ covariances[1])).real
        difference = means[0] - means[1]
        return float(difference @ difference + np.trace(covariances[0]) + np.trace(covariances[1]) - 2 * trace_root)
    import mpmath

    with mpmath.workdps(50):
        (mean_first, cov_first), (mean_second, cov_second) = (high_precision_moments(f) for f in (first, second))
        values = mpmath.eig(cov_first * cov_second, left=False, right=False)
        trace_root = sum(mpmath.sqrt(max(mpmath.re(value), 0)) for value in values)
        dimensions = range(first.shape[1])
        return float(sum((mean_first[j] - mean_second[j]) ** 2 + cov_first[j, j] + cov_second[j, j] for j in dimensions)
                     - 2 * trace_root)


def high_precision_moments(rows: np.ndarray):
    """Mean (a list) and covariance (an mpmath matrix) of ``rows`` at mpmath's working precision."""
    import mpmath

    n, dimensions = rows.shape
    mean = [mpmath.fsum(mpmath.mpf(x) for x in rows[:, j]) / n for j in range(dimensions)]
    centred = mpmath.matrix([[mpmath.mpf(x) - mean[j] for j, x in enumerate(row)] for row in rows])
    return mean, centred.T * centred / (n - 1)


def forbid_reading_whole_sets(monkeypatch) -> list[int]:
    """Make FeatureSet.all_rows fail; the list that comes back fills with the number of rows of
    each FeatureSet.rows call."""
    asked, real_rows = [], FeatureSet.rows
    monkeypatch.setattr(FeatureSet, "all_rows", lambda self: pytest.fail("a whole set was read"))
    monkeypatch.setattr(FeatureSet, "rows",
                        lambda self, indices: asked.append(len(indices)) or real_rows(self, indices))
    return asked


@pytest.mark.parametrize("n_patches", [13, 400], ids=["fewer-patches-than-dimensions", "more"])
def test_streamed_fid_equals_the_whole_matrix_formulas(tmp_path, monkeypatch, n_patches):
    reference, reconstruction = features_pair(n_patches)
    in_memory, independent = frechet_distance(reference, reconstruction), independent_fid(reference, reconstruction)
    if n_patches > DIMENSIONS:
        forbid_reading_whole_sets(monkeypatch)
    streamed = frechet_distance(as_files(reference, tmp_path / "ref"), as_files(reconstruction, tmp_path / "rec", 1))
    assert streamed == pytest.approx(in_memory, rel=1e-9)
    assert streamed == pytest.approx(independent, rel=1e-9)
    assert streamed > 0.01  # well away from zero, so that relative agreement means something


def test_fid_of_a_large_and_a_small_set_stays_exact(tmp_path):
    """The small set's singular covariance enters through its rows: from its float64 covariance
    (square roots of eigenvalues rounded near zero) the FID would be off by about 3e-9."""
    reference, _ = features_pair(500)
    _, reconstruction = features_pair(12, seed=1)
    large, small = as_files(reference, tmp_path / "ref"), as_files(reconstruction, tmp_path / "rec")
    expected = independent_fid(reference, reconstruction)
    assert frechet_distance(large, small) == pytest.approx(expected, rel=1e-12)
    assert frechet_distance(small, large) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("n_patches", [13, 400])
def test_float32_statistics_keep_the_means_numpy_takes_of_the_whole_float32_matrix(tmp_path, n_patches):
    """The paper protocol's FID (pyiqa) takes float32 means of the whole matrix; streamed, the
    means are bit for bit the same, and the FID equals the whole-matrix one."""
    reference, reconstruction = features_pair(n_patches)
    files = as_files(reference, tmp_path / "ref")
    assert np.array_equal(files.statistics(np.float32).mean, reference.astype(np.float32).mean(0).astype(np.float64))
    assert np.array_equal(files.statistics(np.float64).mean, reference.mean(0))
    streamed = frechet_distance(files, as_files(reconstruction, tmp_path / "rec"), np.float32)
    assert streamed == pytest.approx(frechet_distance(reference, reconstruction, np.float32), rel=1e-9)
    assert streamed != frechet_distance(reference, reconstruction)  # the rounding to float32 is there


def test_streamed_covariance_keeps_its_digits_when_the_mean_dwarfs_the_spread(tmp_path):
    """Features at 1000 +- 0.01: sum(x x^T) - n m m^T of the raw features would leave about
    four digits; sums of deviations keep them."""
    rng = np.random.default_rng(2)
    features = 1000 + rng.normal(0, 0.01, (300, 4))
    statistics = as_files(features, tmp_path).statistics()
    np.testing.assert_allclose(statistics.covariance, np.cov(features, rowvar=False), rtol=1e-9, atol=0)
    assert statistics.count == 300


@pytest.mark.parametrize("n_patches", [300, 1100], ids=["one-subset", "subsets-of-1000"])
def test_streamed_kid_equals_torch_fidelity_on_the_whole_matrices(tmp_path, monkeypatch, n_patches):
    from torch_fidelity.metric_kid import kid_features_to_metric

    monkeypatch.setattr(fid, "KID_SUBSETS", FEW_SUBSETS)
    reference, reconstruction = features_pair(n_patches, dimensions=8)
    subsets, size = (1, n_patches) if n_patches <= 1000 else (FEW_SUBSETS, 1000)
    expected = kid_features_to_metric(torch.from_numpy(reference), torch.from_numpy(reconstruction),
                                      kid_subsets=subsets, kid_subset_size=size, rng_seed=KID_SEED,
                                      verbose=False)["kernel_inception_distance_mean"]
    asked = forbid_reading_whole_sets(monkeypatch)
    streamed = get_metric("kid").score_sets(as_files(reference, tmp_path / "ref"),
                                            as_files(reconstruction, tmp_path / "rec", 1))
    assert streamed == expected
    assert asked == [size] * 2 * subsets


@pytest.mark.parametrize("n_patches", [300, 1100], ids=["one-subset", "subsets-of-1000"])
def test_streamed_paired_kid_equals_the_whole_matrix_computation(tmp_path, monkeypatch, n_patches):
    monkeypatch.setattr(fid, "KID_SUBSETS", FEW_SUBSETS)
    reference, reconstruction = features_pair(n_patches, dimensions=8)
    if n_patches <= 1000:
        expected, subsets, size = paired_mmd2(reference, reconstruction), 1, n_patches
    else:
        rng = np.random.RandomState(KID_SEED)
        chosen = [rng.choice(n_patches, 1000, replace=False) for _ in range(FEW_SUBSETS)]
        expected = np.mean([paired_mmd2(reference[c], reconstruction[c]) for c in chosen])
        subsets, size = FEW_SUBSETS, 1000
    asked = forbid_reading_whole_sets(monkeypatch)
    streamed = get_metric("kid_paired").score_sets(as_files(reference, tmp_path / "ref"),
                                                   as_files(reconstruction, tmp_path / "rec", 1))
    assert streamed == expected
    assert asked == [size] * 2 * subsets


def test_rows_are_gathered_across_files_in_the_order_asked(tmp_path):
    features = np.arange(40.0).reshape(20, 2)
    files = as_files(features, tmp_path)
    indices = [19, 0, 7, 7, 12, 3]
    assert np.array_equal(files.rows(indices), features[indices])
    assert np.array_equal(files.all_rows(), features)
    assert (len(files), files.dimensions) == (20, 2)
    with pytest.raises(IndexError):
        files.rows([20])
    np.save(tmp_path / "fortran.npy", np.asfortranarray(features[:5]))  # stored column after column
    with_fortran = FeatureSet([tmp_path / "fortran.npy", *files.sources])
    whole = np.concatenate([features[:5], features])
    assert np.array_equal(with_fortran.rows([2, 24, 4, 9]), whole[[2, 24, 4, 9]])
    assert np.array_equal(with_fortran.statistics().mean, whole.mean(0))


def test_unreadable_feature_files_are_named(tmp_path):
    save_array(np.zeros((3, 4)), tmp_path / "good.npy")
    (tmp_path / "garbage.npy").write_bytes(b"not an array")
    save_array(np.zeros((3, 5)), tmp_path / "wider.npy")
    save_array(np.array(["text"]), tmp_path / "text.npy")
    np.save(tmp_path / "pickled.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (tmp_path / "empty.npy").write_bytes(b"")
    (tmp_path / "cut.npy").write_bytes((tmp_path / "good.npy").read_bytes()[:-8])
    for name, error in [("garbage.npy", DamagedResultsError), ("wider.npy", DamagedResultsError),
                        ("text.npy", DamagedResultsError), ("pickled.npy", DamagedResultsError),
                        ("empty.npy", DamagedResultsError),
                        ("cut.npy", DamagedResultsError), ("missing.npy", RdpbenchError)]:
        with pytest.raises(error, match=name):
            FeatureSet([tmp_path / "good.npy", tmp_path / name])
    with pytest.raises(ValueError, match="5 dimensions where the set's first image has 4"):
        FeatureSet([np.zeros((3, 4)), np.zeros((2, 5))])


class BlockVariance(PatchFeatures):
    """A 16-dimensional stand-in for Inception, whose float64 forward pass takes about 0.1 s a
    patch on a CPU (minutes for thousands): the grey-level variance of each 64x64 block, from
    every fourth pixel of every fourth row."""

    name, package, network_dtype = "block-variance", "torch", "float64"
    dimensions = DIMENSIONS
    weight_file_name = TORCH_FIDELITY_FILE  # the preflight wants the declared file in place

    def _build(self) -> torch.nn.Module:
        return torch.nn.AvgPool2d(16)

    def _features(self, patches: torch.Tensor) -> torch.Tensor:
        grey = patches[:, :, ::4, ::4].double().mean(1, keepdim=True)
        return (self.model(grey**2) - self.model(grey) ** 2).flatten(1)


def blocky_image_folder(folder, count: int, height: int, width: int):
    """BMP images of random 16x16 colour blocks with pixel noise, quick to make at any size."""
    from PIL import Image

    folder.mkdir()
    rng = np.random.default_rng(0)
    for index in range(count):
        blocks = rng.integers(0, 256, (height // 16, width // 16, 3), dtype=np.int16).repeat(16, 0).repeat(16, 1)
        blocks += rng.integers(-30, 31, blocks.shape, dtype=np.int16)
        Image.fromarray(blocks.clip(0, 255).astype(np.uint8)).save(folder / f"im{index}.bmp")
    return folder


@pytest.mark.slow
def test_a_run_of_2000_patches_scores_the_fid_of_its_saved_features(tmp_path, torch_home, monkeypatch):
    """The whole pipeline (jpeg at quality 5, 9 images of 233 patches each) with a cheap
    stand-in extractor: points.csv holds the FID and KID of the features the run saved."""
    from torch_fidelity.metric_kid import kid_features_to_metric

    from rdpbench.metrics import features
    from rdpbench.paths import RunFolder
    from rdpbench.schema import DEFAULT_SAMPLER
    from rdpbench.weights import weight_files

    monkeypatch.setenv("RDPBENCH_CACHE", str(tmp_path / "cache"))
    placeholder = weight_files()[TORCH_FIDELITY_FILE].path
    placeholder.parent.mkdir(parents=True)
    placeholder.write_bytes(b"unused")
    monkeypatch.setitem(features.EXTRACTORS, "hific", BlockVariance)
    monkeypatch.setattr(fid, "KID_SUBSETS", FEW_SUBSETS)
    images = blocky_image_folder(tmp_path / "images", 9, 2048, 4096)  # 8 x 16 + 7 x 15 patches each

    folder = RunFolder(run_once(images, tmp_path / "out", codec="jpeg", points=["5"], metrics="fid,kid"))
    patches = json.loads(folder.manifest.read_text())["metric_protocol"]["patches"]
    assert patches["n_patches"] == 9 * 233 and patches["extractor"] == "block-variance"
    key, names = patches["features_keys"]["inception"], list(pd.read_csv(folder.images_csv).image)  # in set order
    reference = np.concatenate([np.load(folder.reference_features(key, name)) for name in names])
    reconstruction = np.concatenate([np.load(folder.features(key, "5", DEFAULT_SAMPLER, name)) for name in names])
    assert len(reference) == len(reconstruction) == 9 * 233
    point = pd.read_csv(folder.points_csv, float_precision="round_trip").iloc[0]
    assert point.fid == pytest.approx(independent_fid(reference, reconstruction), rel=1e-9)
    assert point.fid > 1
    expected_kid = kid_features_to_metric(torch.from_numpy(reference), torch.from_numpy(reconstruction),
                                          kid_subsets=FEW_SUBSETS, kid_subset_size=1000, rng_seed=KID_SEED,
                                          verbose=False)["kernel_inception_distance_mean"]
    assert point.kid == expected_kid
