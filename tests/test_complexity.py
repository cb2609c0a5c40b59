"""Complexity: MACs per pixel and parameters counted on a real image, per diffusion step, and
not applicable to codecs that are not torch networks."""

import pytest
import torch

from rdpbench.bitstream import Bitstream
from rdpbench.codecs import get_codec
from rdpbench.complexity import NOT_NETWORK_NOTE, flop_counter, measure
from rdpbench.results import read_points
from rdpbench.schema import COMPLEXITY_COLUMNS

from conftest import invoke, photo_tensor
from test_codec_ours import checkpoint  # noqa: F401, F811  (the fixture)


def test_macs_and_parameters_equal_a_hand_count():
    codec = get_codec("plugin_codecs:TinyConvCodec")
    height, width = 21, 30
    cost = measure(codec, "photo", photo_tensor(height, width, seed=1), "1", "default", 0)
    latent_h, latent_w = 11, 15  # ceil(21 / 2), ceil(30 / 2): stride 2, padding 2, kernel 5
    # A convolution: one MAC per output position, output channel, input channel and kernel tap.
    assert cost.encode.macs == latent_h * latent_w * 8 * 3 * 5 * 5
    # A transposed convolution: every input position scatters its kernel into every output channel.
    assert cost.decode.macs == latent_h * latent_w * 8 * 3 * 4 * 4
    assert cost.encode.params == 8 * 3 * 5 * 5 + 8
    assert cost.decode.params == 8 * 3 * 4 * 4 + 3
    columns = cost.columns()
    assert columns["enc_kmac_per_px"] == pytest.approx(latent_h * latent_w * 8 * 3 * 25 / (height * width) / 1000)
    assert columns["dec_steps"] is None and columns["dec_step_kmac_per_px"] is None
    assert columns["dec_peak_mb"] is None and "CUDA only" in columns["complexity_note"]


def test_pillow_codecs_report_not_applicable():
    cost = measure(get_codec("jpeg"), "photo", photo_tensor(16, 16, seed=0), "50", "default", 0)
    columns = cost.columns()
    assert all(columns[column] is None for column in COMPLEXITY_COLUMNS)
    assert columns["complexity_note"] == NOT_NETWORK_NOTE


@pytest.fixture
def ours(checkpoint):
    """`ours` with a briefly trained tiny decoder for MSH quality 1."""
    return get_codec("ours", checkpoint=[str(checkpoint)])


def _macs(call) -> int:
    """MACs of ``call`` alone, by torch's counter."""
    with torch.inference_mode(), flop_counter() as counter:
        call()
    return counter.get_total_flops() // 2


def test_diffusion_decoder_macs_are_the_conditioning_once_plus_steps_times_one_step(ours):
    image = photo_tensor(64, 64, seed=3)
    stream = Bitstream.from_bytes(ours.encode(image, "1"))
    y_hat = ours.decode_latent(stream)
    model = ours.model("1")
    network = ours.decoder("1")[0]
    z_hat = torch.zeros(1, model.entropy_bottleneck.channels, 1, 1)
    with torch.inference_mode():
        condition = network.encode_condition(y_hat)
    x = torch.zeros(1, 3, 64, 64)
    # Counted apart, each on its own: the hyper synthesis that entropy-decodes y, the
    # conditioning, and one UNet call.
    hyper, conditioning = _macs(lambda: model.h_s(z_hat)), _macs(lambda: network.encode_condition(y_hat))
    step = _macs(lambda: network(x, torch.zeros(1), condition))
    assert step > 0 and conditioning > 0
    for steps in (2, 5):
        cost = measure(ours, "photo", image, "1", f"ddim{steps}", 0)
        assert cost.decode.steps == steps
        assert cost.decode.step_macs == steps * step
        assert cost.decode.macs == hyper + conditioning + steps * step
        assert cost.columns()["dec_step_kmac_per_px"] == pytest.approx(step / (64 * 64) / 1000)
    msh_cost = measure(ours, "photo", image, "1", "msh", 0)
    assert msh_cost.decode.steps == 0
    assert msh_cost.decode.macs == hyper + _macs(lambda: model.g_s(y_hat))
    assert msh_cost.encode.macs == cost.encode.macs  # the same MSH encoder whatever the sampler
    # Parameters of the modules that ran, each once: the UNet however many steps.
    unet_and_conditioning = sum(p.numel() for p in network.parameters())
    assert cost.decode.params == unet_and_conditioning + sum(p.numel() for p in model.h_s.parameters())


def test_a_complexity_run_puts_the_costs_in_points_csv_once_per_point(image_folder, tmp_path):
    result = invoke("run", "--codec", "plugin_codecs:TinyConvCodec", "--dataset", str(image_folder),
                    "--out", str(tmp_path), "--name", "tiny", "--device", "cpu", "--complexity", "--no-progress")
    assert result.exit_code == 0, result.output
    folder = tmp_path / "tiny"
    [row] = read_points(folder / "points.csv").to_dict("records")
    height, width = 48, 80  # img0, the first image, measured
    latent = ((height + 1) // 2) * ((width + 1) // 2)
    assert row["enc_kmac_per_px"] == pytest.approx(latent * 8 * 3 * 25 / (height * width) / 1000)
    assert row["dec_kmac_per_px"] == pytest.approx(latent * 8 * 3 * 16 / (height * width) / 1000)
    assert row["dec_params"] == 8 * 3 * 16 + 3
    assert (folder / "complexity.csv").is_file()
    plain = invoke("run", "--codec", "jpeg", "--quality", "50", "--dataset", str(image_folder),
                   "--out", str(tmp_path), "--name", "plain", "--device", "cpu", "--no-progress")
    assert plain.exit_code == 0, plain.output
    assert "enc_kmac_per_px" not in read_points(tmp_path / "plain" / "points.csv").columns


def test_cost_plot_points_are_the_curves_read_at_the_rate():
    import numpy as np
    import pandas as pd

    from rdpbench.plots import cost_points

    points = pd.DataFrame({"codec": ["a"] * 3 + ["b"] * 2, "sampler": ["default"] * 5,
                           "quality": ["1", "2", "3", "1", "2"], "bpp": [0.1, 0.2, 0.4, 0.5, 0.8],
                           "decode_s": [1.0, 2.0, 3.0, 1.0, 1.0], "fid": [30.0, 20.0, 10.0, 5.0, 4.0]})
    drawn = cost_points(points, "decode_s", "fid", 0.3)
    # Curve b's rates (0.5-0.8) do not reach 0.3 bpp: left out. Curve a by pchip over log(bpp):
    # on a curve linear in log(bpp) both readings are exactly linear interpolation in log(bpp).
    [row] = drawn.to_dict("records")
    share = (np.log(0.3) - np.log(0.2)) / (np.log(0.4) - np.log(0.2))
    assert row["codec"] == "a"
    assert row["decode_s"] == pytest.approx(2.0 + share)
    assert row["fid"] == pytest.approx(20.0 - 10.0 * share)


def test_report_has_a_complexity_table_and_plot_draws_cost(image_folder, tmp_path):
    for quality in ("20", "60"):
        assert invoke("run", "--codec", "jpeg", "--quality", quality, "--dataset", str(image_folder), "--out",
                      str(tmp_path), "--name", f"j{quality}", "--device", "cpu", "--complexity",
                      "--no-progress").exit_code == 0
    assert invoke("report", str(tmp_path)).exit_code == 0
    report = (tmp_path / "report.md").read_text()
    assert "### Complexity" in report and NOT_NETWORK_NOTE in report
    result = invoke("plot", str(tmp_path), "--cost", "decode_s", "--at-bpp", "1.0", "--metric", "psnr")
    assert result.exit_code == 0, result.output
    assert list(tmp_path.glob("cost-decode_s-psnr-at1bpp-*.png"))
