import math

import pytest
import torch

from rdpbench.errors import UnknownNameError
from rdpbench.metrics import get_metric, parse_metric_names


def test_psnr_of_unit_error_everywhere_is_20_log10_255():
    reference = torch.full((3, 8, 8), 100, dtype=torch.uint8)
    shifted = reference + 1
    assert get_metric("psnr").score(reference, shifted) == pytest.approx(20 * math.log10(255))


def test_psnr_averages_squared_error_over_all_channels():
    reference = torch.zeros((3, 4, 4), dtype=torch.uint8)
    reconstruction = reference.clone()
    reconstruction[0] = 10  # one channel of three off by 10: MSE = 100 / 3
    expected = 10 * math.log10(255**2 / (100 / 3))
    assert get_metric("psnr").score(reference, reconstruction) == pytest.approx(expected)


def test_psnr_of_identical_images_is_pyiqas_80_db_and_near_lossless_is_capped():
    image = torch.randint(0, 256, (3, 5, 7), dtype=torch.uint8)
    assert get_metric("psnr").score(image, image.clone()) == 80.0
    large = torch.zeros((3, 1000, 1000), dtype=torch.uint8)
    one_off = large.clone()
    one_off[0, 0, 0] = 1  # MSE 1/3e6: 10 log10(255^2 * 3e6) = 112.9 dB, above the cap
    assert get_metric("psnr").score(large, one_off) == 80.0


def test_metric_list_accepts_all_and_rejects_unknown_names_listing_valid_ones():
    assert "psnr" in parse_metric_names("all")
    assert parse_metric_names(" psnr , psnr") == ["psnr"]
    with pytest.raises(UnknownNameError, match="valid metrics: .*psnr"):
        parse_metric_names("psnr,fidd")


@pytest.mark.parametrize("block_pixels", [1 << 18, 50])  # one block; blocks of 2 rows, the last one short
def test_psnr_in_blocks_of_rows_equals_the_direct_float64_formula(monkeypatch, block_pixels):
    from conftest import photo_tensor

    from rdpbench import images

    monkeypatch.setattr(images, "BLOCK_PIXELS", block_pixels)
    for seed in range(3):
        reference = photo_tensor(37, 25, seed)
        noise = torch.randint(-40, 41, reference.shape, generator=torch.Generator().manual_seed(seed))
        reconstruction = (reference.int() + noise).clamp(0, 255).to(torch.uint8)
        mse = (reference.double() - reconstruction.double()).square().mean().item()
        direct = 10 * math.log10(255**2 / mse)
        assert get_metric("psnr").score(reference, reconstruction) == pytest.approx(direct, rel=1e-12, abs=0)
