"""Metrics with test-built random weights: identities, determinism, protocol, loading path."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from rdpbench.errors import ImageError, MissingWeightsError
from rdpbench.metrics import get_metric
from rdpbench.metrics.features import TorchFidelityInception, patch_features
from rdpbench.metrics.patches import extract_patches, patch_corners

from conftest import make_photo


def photo(height, width, seed=0) -> torch.Tensor:
    return torch.from_numpy(make_photo(height, width, seed)).permute(2, 0, 1).contiguous()


def noisy(image: torch.Tensor, sigma: float, seed: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(image.shape, generator=generator) * sigma
    return (image.float() + noise).round().clamp(0, 255).to(torch.uint8)


def prepared(name: str):
    metric = get_metric(name)
    metric.prepare()
    return metric


# -- patch protocol ---------------------------------------------------------------------
def test_kodak_sized_images_give_8_patches_landscape_or_portrait():
    assert len(patch_corners(512, 768)) == 8
    assert len(patch_corners(768, 512)) == 8
    assert patch_corners(512, 768)[6:] == [(128, 128), (128, 384)]


def test_grid_protocol_keeps_only_the_unshifted_grid():
    assert patch_corners(512, 768, "grid") == [(0, 0), (0, 256), (0, 512), (256, 0), (256, 256), (256, 512)]


def test_shifted_grid_needs_384_pixels_on_both_sides():
    assert len(patch_corners(383, 1024)) == 4
    assert len(patch_corners(384, 1024)) == 4 + 3


def test_patches_are_the_image_pixels_at_the_corners():
    image = photo(400, 520)
    patches = extract_patches(image)
    assert patches.shape == (2 + 1, 3, 256, 256)
    assert torch.equal(patches[1], image[:, 0:256, 256:512])
    assert torch.equal(patches[2], image[:, 128:384, 128:384])


# -- closed-form metrics ----------------------------------------------------------------
def gmsd_reference(reference: torch.Tensor, distorted: torch.Tensor) -> float:
    """GMSD as in Xue et al.'s MATLAB code, written with numpy/scipy: 8-bit luma (BT.601
    weights, rounded half away from zero as MATLAB does), 2x2 mean downsampling, Prewitt
    gradients with zero padding, T = 170, sample standard deviation."""

    def gradient_magnitude(image):
        rgb = image.double().numpy()
        luma = np.floor(0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] + 0.5)
        height, width = (luma.shape[0] // 2) * 2, (luma.shape[1] // 2) * 2
        small = luma[:height, :width].reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))
        prewitt_x = np.array([[1, 0, -1]] * 3) / 3
        gx = ndimage.correlate(small, prewitt_x, mode="constant")
        gy = ndimage.correlate(small, prewitt_x.T, mode="constant")
        return np.sqrt(gx**2 + gy**2 + 1e-12)

    g1, g2 = gradient_magnitude(distorted), gradient_magnitude(reference)
    quality = (2 * g1 * g2 + 170) / (g1**2 + g2**2 + 170)
    return float(np.std(quality, ddof=1))


def without_luma_ties(image: torch.Tensor) -> torch.Tensor:
    """Nudge blue where 0.299 R + 0.587 G + 0.114 B ends in exactly .5: pyiqa rounds luma in
    float32, so such ties go either way there, while the integer arithmetic here is exact."""
    rgb = image.clone().long()
    while True:
        ties = (299 * rgb[0] + 587 * rgb[1] + 114 * rgb[2]) % 1000 == 500
        if not ties.any():
            return rgb.to(torch.uint8)
        rgb[2][ties] = (rgb[2][ties] + 1) % 256


def test_gmsd_matches_an_independent_implementation():
    reference = without_luma_ties(photo(64, 96))
    distorted = without_luma_ties(noisy(reference, 12))
    assert prepared("gmsd").score(reference, distorted) == pytest.approx(
        gmsd_reference(reference, distorted), rel=1e-5
    )


@pytest.mark.parametrize("name", ["gmsd", "nlpd"])
def test_distortion_metrics_are_zero_on_identical_images_and_grow_with_noise(name):
    metric = prepared(name)
    reference = photo(64, 96)
    assert metric.score(reference, reference.clone()) == pytest.approx(0, abs=1e-6)
    assert 0 < metric.score(reference, noisy(reference, 4)) < metric.score(reference, noisy(reference, 20))


# -- weighted metrics with test-built weights -------------------------------------------
def test_lpips_is_zero_for_identical_images(metric_weights):
    image = photo(64, 64)
    assert prepared("lpips").score(image, image.clone()) == 0.0


def test_lpips_feeds_the_network_minus_one_to_one(metric_weights):
    import lpips

    reference, distorted = photo(64, 64), noisy(photo(64, 64), 15)
    network = lpips.LPIPS(net="alex", version="0.1", verbose=False).eval()
    with torch.no_grad():
        expected = network(reference[None] / 255.0, distorted[None] / 255.0, normalize=True).item()
    assert prepared("lpips").score(reference, distorted) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("name", ["niqe", "musiq", "dbcnn"])
def test_no_reference_metrics_are_finite_and_deterministic(metric_weights, name):
    image = photo(256, 256)
    first = prepared(name).score(image, image)
    again = prepared(name).score(image, image)
    assert np.isfinite(first) and first == again


@pytest.mark.parametrize("name", ["musiq", "dbcnn"])
def test_learned_no_reference_metrics_take_a_kodak_sized_image_on_cpu(metric_weights, name):
    assert np.isfinite(prepared(name).score(photo(512, 768), photo(512, 768)))


def test_no_reference_score_ignores_the_reference(metric_weights):
    image = photo(256, 256)
    metric = prepared("niqe")
    assert metric.score(image, image) == metric.score(photo(256, 256, seed=9), image)


def test_inception_features_do_not_depend_on_batching(metric_weights):
    extractor = TorchFidelityInception()
    extractor.prepare()
    image = photo(512, 512)
    together = extractor(image)
    one_by_one = np.concatenate(
        [extractor(image[:, t : t + 256, l : l + 256]) for t, l in patch_corners(512, 512)]
    )
    assert together.shape == (5, 2048)
    assert np.array_equal(together, one_by_one)
    assert together.std() > 1e-3  # the test weights give features of a usable scale


def test_fid_and_kid_of_identical_sets_are_near_zero_and_order_free(metric_weights):
    extractor = TorchFidelityInception()
    extractor.prepare()
    features = [extractor(photo(256, 512, seed=s)) for s in range(6)]
    reference = np.concatenate(features)
    shuffled = np.concatenate(features[::-1])
    fid, kid = get_metric("fid"), get_metric("kid")
    assert fid.score_sets(reference, shuffled) == pytest.approx(0, abs=1e-6)
    distorted = np.concatenate([extractor(noisy(photo(256, 512, seed=s), 40)) for s in range(6)])
    assert fid.score_sets(reference, distorted) > 1e-3
    assert abs(kid.score_sets(reference, shuffled)) < kid.score_sets(reference, distorted)


def test_fid_of_gaussian_sets_matches_the_closed_form():
    rng = np.random.default_rng(0)
    reference = rng.normal(0.0, 1.0, size=(20000, 4))
    shifted = rng.normal(0.5, 2.0, size=(20000, 4))
    # FID = |mu1 - mu2|^2 + tr(S1 + S2 - 2 sqrt(S1 S2)) = 4 * 0.25 + 4 * (1 + 4 - 4) = 5
    assert get_metric("fid").score_sets(reference, shifted) == pytest.approx(5.0, rel=0.03)


def test_missing_metric_weights_name_every_file(torch_home):
    for name, file_name in [("lpips", "alexnet-owt-7be5be79.pth"), ("musiq", "musiq_koniq_ckpt"),
                            ("dbcnn", "vgg16-397923af.pth"), ("niqe", "niqe_modelparameters.mat")]:
        with pytest.raises(MissingWeightsError, match=file_name):
            prepared(name)
    for protocol, file_name in [("hific", "weights-inception-2015-12-05-6726825d.pth"),
                                ("paper", "pt_inception-2015-12-05-6726825d.pth")]:
        with pytest.raises(MissingWeightsError, match=file_name):
            patch_features("cpu", protocol).prepare()


@pytest.mark.parametrize("name, side", [("gmsd", 4), ("lpips", 31), ("dbcnn", 16), ("niqe", 96), ("ms_ssim", 161)])
def test_declared_minimum_size_is_the_smallest_that_scores(metric_weights, name, side):
    metric = prepared(name)
    at_minimum = photo(side, side)
    assert np.isfinite(metric.score(at_minimum, noisy(at_minimum, 5)))
    below = photo(side - 1, side - 1)
    try:
        value = metric.score(below, noisy(below, 5))
    except Exception:  # the metric's own failure below its minimum
        value = float("nan")
    assert not np.isfinite(value)
    with pytest.raises(ImageError, match=f"tiny.*{side - 1}x{side - 1}"):
        metric.check_size("tiny", side - 1, side - 1)


def test_metric_lists_expand_all_anywhere_and_count_each_name_once():
    from rdpbench.metrics import list_metrics, parse_metric_names

    assert parse_metric_names("psnr,psnr,all") == ["psnr"] + [m for m in list_metrics() if m != "psnr"]
    assert parse_metric_names("all") == list_metrics()
    assert parse_metric_names("lpips, all") == ["lpips"] + [m for m in list_metrics() if m != "lpips"]
    assert parse_metric_names("gmsd,psnr,gmsd") == ["gmsd", "psnr"]


def test_inception_runs_in_float64_and_its_cache_key_names_the_numerics(metric_weights):
    extractor = TorchFidelityInception("cpu", "hific")
    extractor.prepare()
    assert {p.dtype for p in extractor.model.parameters()} == {torch.float64}
    seen = []
    handle = extractor.model.Conv2d_1a_3x3.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    extractor(photo(256, 256))
    handle.remove()
    assert seen == [torch.float64]
    from importlib.metadata import version

    assert extractor.cache_key.endswith(f"-hific-cpu-float64-torch-fidelity{version('torch-fidelity')}")


def brute_force_paired_mmd2(x, y):
    """Double loops over the definition: means of k over i != j, k(a, b) = (a.b / d + 1)^3."""
    m, d = x.shape
    k = lambda a, b: (float(a @ b) / d + 1) ** 3  # noqa: E731
    pairs = [(i, j) for i in range(m) for j in range(m) if i != j]
    mean = lambda f: sum(f(i, j) for i, j in pairs) / len(pairs)  # noqa: E731
    return mean(lambda i, j: k(x[i], x[j])) + mean(lambda i, j: k(y[i], y[j])) - 2 * mean(lambda i, j: k(x[i], y[j]))


def test_paired_kid_is_the_off_diagonal_mmd_and_zero_for_identical_sets():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 6))
    y = x + rng.normal(scale=0.3, size=x.shape)
    paired, standard = get_metric("kid_paired"), get_metric("kid")
    assert paired.score_sets(x, y) == pytest.approx(brute_force_paired_mmd2(x, y), rel=1e-10)
    assert paired.score_sets(x, x) == pytest.approx(0.0, abs=1e-12)
    assert standard.score_sets(x, x) < 0  # matched pairs pull the usual estimate below zero


def test_kid_uses_subsets_of_1000_above_1000_patches(monkeypatch):
    from torch_fidelity import metric_kid

    from rdpbench.metrics.fid import kid_subsets

    assert kid_subsets(192) == (1, 192) and kid_subsets(1000) == (1, 1000) and kid_subsets(4000) == (100, 1000)
    calls = []
    real = metric_kid.kernel_mmd
    monkeypatch.setattr(metric_kid, "kernel_mmd", lambda a, b, **kw: calls.append(len(a)) or real(a, b, **kw))
    rng = np.random.default_rng(1)
    features = rng.normal(size=(1100, 4))
    get_metric("kid").score_sets(features, features + 0.1)
    assert calls == [1000] * 100


def test_paper_protocol_transposes_portrait_images_and_keeps_the_unshifted_grid():
    portrait = photo(768, 512)
    patches = extract_patches(portrait, "paper")
    assert len(patches) == 6 and len(patch_corners(768, 512, "paper")) == 6
    landscape = portrait.transpose(1, 2)  # swapping height and width, not a rotation
    assert torch.equal(patches[1], landscape[:, 0:256, 256:512])
    assert torch.equal(extract_patches(landscape, "paper"), extract_patches(landscape, "grid"))


@pytest.mark.parametrize("n_samples, dimensions", [(40, 6), (12, 30)])
def test_trace_of_the_product_root_equals_the_eigenvalues_in_high_precision(n_samples, dimensions):
    """Tr((S1 S2)^1/2) is the sum of the square roots of the eigenvalues of S1 S2, here taken
    with 50-digit arithmetic, in both regimes: more samples than dimensions, and fewer
    (singular covariances, where scipy's sqrtm is off in the fifth digit)."""
    import mpmath

    from rdpbench.metrics.fid import trace_sqrt_product

    rng = np.random.default_rng(n_samples)
    first = rng.gamma(1.0, 0.5, (n_samples, dimensions))
    second = first + rng.normal(0, 0.2, first.shape)
    cov_first, cov_second = np.cov(first, rowvar=False), np.cov(second, rowvar=False)
    # the rows are what the FID passes for sets of at most their dimensions of patches
    rows = (first, second) if n_samples <= dimensions else (None, None)
    value = trace_sqrt_product(cov_first, cov_second, *rows)
    same = trace_sqrt_product(cov_first, cov_first, rows[0], rows[0])
    with mpmath.workdps(50):
        product = mpmath.matrix(cov_first.tolist()) * mpmath.matrix(cov_second.tolist())
        eigenvalues = mpmath.eig(product, left=False, right=False)
        independent = float(sum(mpmath.sqrt(max(mpmath.re(e), 0)) for e in eigenvalues))
    assert value == pytest.approx(independent, rel=1e-12)
    # sqrt(S S) = S for a covariance S
    assert same == pytest.approx(np.trace(cov_first), rel=1e-9)


def test_fid_equals_the_packages_formulas_on_full_rank_sets():
    from pyiqa.archs.fid_arch import frechet_distance as pyiqa_frechet
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

    from rdpbench.metrics.features import PyiqaCleanInception

    rng = np.random.default_rng(3)
    reference = rng.gamma(1.0, 0.5, (300, 20))
    reconstruction = reference * 0.9 + rng.normal(0, 0.3, reference.shape)
    fid = get_metric("fid")
    fidelity = fid_statistics_to_metric(*[fid_features_to_statistics(torch.from_numpy(f))
                                           for f in (reference, reconstruction)], verbose=False)
    # FID is a small difference of traces near 20: agreement to 1e-7 is the last digits of those
    assert fid.score_sets(reference, reconstruction) == pytest.approx(fidelity["frechet_inception_distance"], rel=1e-7)
    single = [f.astype(np.float32) for f in (reference, reconstruction)]
    pyiqa_value = pyiqa_frechet(single[0].mean(0), np.cov(single[0], rowvar=False),
                                single[1].mean(0), np.cov(single[1], rowvar=False))
    assert fid.score_sets(reference, reconstruction, PyiqaCleanInception) == pytest.approx(pyiqa_value, rel=1e-7)
