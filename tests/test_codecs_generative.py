"""HiFiC (PyTorch port), MS-ILLM and No-GAN from seeded random checkpoints in their upstream
formats: loading, real bytes, the upstream rounding rules and the likelihood estimate."""

import os
import subprocess
import sys
import textwrap

import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from rdpbench.bitstream import Bitstream, split_chunks
from rdpbench.codecs import get_codec
from rdpbench.errors import MissingWeightsError, RdpbenchError
from rdpbench.images import to_float

from conftest import CallOnLoad, assert_latent_sum, box_likelihood, golden_script, make_photo
from generative_checkpoints import (
    neuralcompression_state,
    save_hific_port_checkpoint,
    save_neuralcompression_checkpoint,
)


@pytest.fixture
def photo():
    return torch.from_numpy(make_photo(100, 140, seed=7)).permute(2, 0, 1).contiguous()


@pytest.fixture
def port_weights(torch_home):
    return {point: save_hific_port_checkpoint(torch_home, point, seed=i) for i, point in enumerate(["lo", "mi", "hi"])}


# -- key lists of the full-size networks (facts read from the upstream code) --------------
def test_port_network_has_the_ports_keys_and_shapes():
    from rdpbench.networks.hific_port import HificPort

    with torch.device("meta"):
        state = HificPort().state_dict()
    groups = {prefix: [k for k in state if k.startswith(prefix)] for prefix in ("Encoder.", "Generator.", "Hyperprior.")}
    assert {prefix: len(keys) for prefix, keys in groups.items()} == {"Encoder.": 22, "Generator.": 96, "Hyperprior.": 30}
    assert len(state) == 148  # the port's 168 training-mode keys less the discriminator's 20
    assert state["Encoder.conv_block1.1.weight"].shape == (60, 3, 7, 7)
    assert state["Encoder.conv_block2.2.gamma"].shape == (1, 120, 1, 1)
    assert state["Encoder.conv_block_out.1.weight"].shape == (220, 960, 3, 3)
    assert state["Generator.conv_block_init.2.weight"].shape == (960, 220, 3, 3)
    assert state["Generator.resblock_8.norm2.beta"].shape == (1, 960, 1, 1)
    assert state["Generator.upconv_block1.0.weight"].shape == (960, 480, 3, 3)  # ConvTranspose2d
    assert state["Generator.conv_block_out.1.weight"].shape == (3, 60, 7, 7)
    assert state["Hyperprior.synthesis_std.conv3.weight"].shape == (320, 220, 3, 3)  # ConvTranspose2d
    assert state["Hyperprior.hyperlatent_likelihood.H_0"].shape == (320, 3, 1)
    assert state["Hyperprior.hyperlatent_likelihood.a_3"].shape == (320, 1, 1)


def test_neuralcompression_network_has_its_keys_and_shapes():
    from rdpbench.entropy import renamed_compressai_124
    from rdpbench.networks.hific_autoencoder import REBUILT_BUFFERS, HificAutoencoder

    with torch.device("meta"):
        state = HificAutoencoder().state_dict()
    assert len(state) == 163  # NeuralCompression's count, coder tables included
    assert sum(p.numel() for k, p in state.items() if not k.endswith(REBUILT_BUFFERS)) > 181e6
    assert state["encoder.blocks.5.weight"].shape == (220, 960, 3, 3)
    assert state["decoder.resid_blocks.8.sequence.3.weight"].shape == (960, 960, 3, 3)
    assert state["decoder.blocks.4.weight"].shape == (3, 60, 7, 7)
    assert state["hyper_synthesis_mean.4.weight"].shape == (220, 320, 3, 3)  # a Conv2d
    assert state["hyper_bottleneck.matrices.4"].shape == (320, 1, 3)
    assert renamed_compressai_124({"hyper_bottleneck._factor3": 1, "hyper_bottleneck.quantiles": 2}) == \
        {"hyper_bottleneck.factors.3": 1, "hyper_bottleneck.quantiles": 2}


# -- the HiFiC port -------------------------------------------------------------------------
def test_port_args_configure_each_file(port_weights):
    codec = get_codec("hific")
    low, medium = codec.network("lo"), codec.network("mi")
    assert low.config.normalize_input and low.config.likelihood == "gaussian"
    assert not medium.config.normalize_input and medium.config.likelihood == "logistic"
    assert low.config.filters == (4, 6, 6, 8, 8) and low.config.residual_blocks == 2
    assert type(medium.entropy_models()[1]).__name__ == "LogisticConditional"


def _port_density(state: dict, values: torch.Tensor) -> torch.Tensor:
    """The port's hyper-latent likelihood (HyperpriorDensity), from its formula: four layers
    of softplus(H_k) x + b_k, each followed by + tanh(a_k) tanh(.), the last included."""
    def logits(x):
        h = x
        for k in range(4):
            prefix = "Hyperprior.hyperlatent_likelihood."
            h = torch.bmm(F.softplus(state[f"{prefix}H_{k}"]), h) + state[f"{prefix}b_{k}"]
            h = h + torch.tanh(state[f"{prefix}a_{k}"]) * torch.tanh(h)
        return h

    upper, lower = logits(values + 0.5), logits(values - 0.5)
    sign = -torch.sign(upper + lower)
    return torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower)).clamp(min=1e-9)


def _decoded_latents(codec, data: bytes):
    from rdpbench.entropy import decode_hyperprior

    stream = Bitstream.from_bytes(data)
    network = codec.network(stream.point)
    bottleneck, conditional = network.entropy_models()
    z_string, y_string = split_chunks(stream.payload, 2)
    _, z_size = network.latent_sizes(stream.height, stream.width)
    z_hat = bottleneck.decompress([z_string], z_size)
    y_hat = decode_hyperprior(z_string, y_string, z_size, bottleneck, conditional, network.hyper_synthesis)
    return z_hat, y_hat


@pytest.mark.parametrize("point", ["lo", "mi"])
def test_port_rounding_and_estimate_follow_the_ports_formulas(port_weights, photo, point):
    codec = get_codec("hific")
    data, bits = codec.encode_estimated(photo, point)
    network = codec.network(point)
    state = torch.load(port_weights[point], weights_only=True)["model_state_dict"]
    with torch.inference_mode():
        y, z = network.hyper_latents(network.analysis(to_float(photo)))
        z_hat, y_hat = _decoded_latents(codec, data)
        assert y.shape[-2:] == (8, 12)  # 100x140 -> 112x144 -> 7x9 -> padded to 8x12
        assert torch.equal(z_hat, torch.floor(z + 0.5))  # no median offset
        scales, means = network.hyper_synthesis(z_hat)
        assert torch.equal(y_hat, torch.floor(y - means + 0.5) + means)
        p_y = box_likelihood(y_hat, means, scales, 0.11, torch.sigmoid) if point == "mi" else \
            box_likelihood(y_hat, means, scales, 0.11)
        p_z = _port_density(state, z_hat.permute(1, 0, 2, 3).reshape(z_hat.shape[1], 1, -1))
    # the port's estimate: log(p + 1e-9) of likelihoods already floored at 1e-9
    expected = -(torch.log2(p_y.double() + 1e-9).sum() + torch.log2(p_z.double() + 1e-9).sum()).item()
    assert bits == pytest.approx(expected, rel=1e-5)
    payload_bits = 8 * len(Bitstream.from_bytes(data).payload)
    assert 0.97 * bits < payload_bits < 1.08 * bits + 64


def test_logistic_model_codes_at_its_own_rate(port_weights, photo):
    """The medium model's latent is coded with its logistic density: its bytes sit at the
    logistic estimate, far from what the Gaussian density gives the same latent."""
    codec = get_codec("hific")
    data, bits = codec.encode_estimated(photo, "mi")
    network = codec.network("mi")
    with torch.inference_mode():
        z_hat, y_hat = _decoded_latents(codec, data)
        scales, means = network.hyper_synthesis(z_hat)
        gaussian_y_bits = -torch.log2(box_likelihood(y_hat, means, scales, 0.11).double()).sum().item()
        logistic_y_bits = -torch.log2(box_likelihood(y_hat, means, scales, 0.11, torch.sigmoid).double()).sum().item()
    assert abs(gaussian_y_bits - logistic_y_bits) > 0.05 * logistic_y_bits
    payload_bits = 8 * len(Bitstream.from_bytes(data).payload)
    assert abs(payload_bits - bits) < abs(payload_bits - (bits - logistic_y_bits + gaussian_y_bits))


@pytest.mark.subprocess
def test_port_bytes_decode_alike_in_a_fresh_process(port_weights, photo, torch_home, tmp_path):
    codec = get_codec("hific")
    data = codec.encode(photo, "hi")
    (tmp_path / "stream.rdpb").write_bytes(data)
    here = codec.decode(data)
    assert here.shape == photo.shape
    torch.save(here, tmp_path / "here.pt")
    script = textwrap.dedent(f"""
        import torch
        from rdpbench.codecs import get_codec
        data = open({str(tmp_path / 'stream.rdpb')!r}, 'rb').read()
        assert torch.equal(get_codec('hific').decode(data), torch.load({str(tmp_path / 'here.pt')!r}))
        """)
    subprocess.run([sys.executable, "-c", script], check=True, env={**__import__("os").environ, "TORCH_HOME": str(torch_home)})


def test_port_checkpoint_with_options_rdpbench_does_not_reproduce_is_refused(torch_home):
    path = save_hific_port_checkpoint(torch_home, "lo")
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["args"]["sample_noise"] = True
    torch.save(checkpoint, path)
    with pytest.raises(RdpbenchError, match=r"hific_low.pt is not a hific lo checkpoint: .*sample_noise=True"):
        get_codec("hific").network("lo")


# -- MS-ILLM and No-GAN ---------------------------------------------------------------------
@pytest.mark.parametrize("tables", [False, True])
def test_neuralcompression_files_load_with_or_without_tables_and_keep_their_medians(torch_home, photo, tables):
    path = save_neuralcompression_checkpoint(torch_home, "msillm", 3, tables=tables)
    stored = torch.load(path, weights_only=True)["hyper_bottleneck.quantiles"][:, 0, 1]
    codec = get_codec("msillm")
    data, bits = codec.encode_estimated(photo, "3")
    network = codec.network("3")
    assert torch.equal(network.hyper_bottleneck.quantiles[:, 0, 1], stored)
    with torch.inference_mode():
        y, z = network.hyper_latents(network.analysis(to_float(photo)))
        z_hat, y_hat = _decoded_latents(codec, data)
        medians = stored.reshape(1, -1, 1, 1)
        assert torch.equal(z_hat, torch.round(z - medians) + medians)
        _, means = network.hyper_synthesis(z_hat)
        assert torch.equal(y_hat, torch.round(y - means) + means)
    assert codec.decode(data).shape == photo.shape


def test_both_table_states_give_the_same_bytes(torch_home, photo):
    streams = []
    for tables in (False, True):
        save_neuralcompression_checkpoint(torch_home, "noganms", 1, tables=tables)
        streams.append(get_codec("noganms").encode(photo, "1"))
    assert streams[0] == streams[1]


def _compressai_density(state: dict, values: torch.Tensor) -> torch.Tensor:
    """CompressAI's factorized likelihood from the 1.2.4-named tensors: five layers, factors
    on all but the last."""
    def logits(x):
        h = x
        for k in range(5):
            h = F.softplus(state[f"hyper_bottleneck._matrix{k}"]) @ h + state[f"hyper_bottleneck._bias{k}"]
            if k < 4:
                h = h + torch.tanh(state[f"hyper_bottleneck._factor{k}"]) * torch.tanh(h)
        return h

    return (torch.sigmoid(logits(values + 0.5)) - torch.sigmoid(logits(values - 0.5))).clamp(min=1e-9)


def test_neuralcompression_estimate_and_rate(torch_home):
    path = save_neuralcompression_checkpoint(torch_home, "msillm", 2)
    state = torch.load(path, weights_only=True)
    image = torch.from_numpy(make_photo(128, 192, seed=2)).permute(2, 0, 1).contiguous()
    codec = get_codec("msillm")
    data, bits = codec.encode_estimated(image, "2")
    network = codec.network("2")
    with torch.inference_mode():
        z_hat, y_hat = _decoded_latents(codec, data)
        scales, means = network.hyper_synthesis(z_hat)
        p_y = box_likelihood(y_hat, means, scales, 0.11)
        p_z = _compressai_density(state, z_hat.permute(1, 0, 2, 3).reshape(z_hat.shape[1], 1, -1))
    expected = -(torch.log2(p_y.double()).sum() + torch.log2(p_z.double()).sum()).item()
    assert bits == pytest.approx(expected, rel=1e-5)
    payload_bits = 8 * len(Bitstream.from_bytes(data).payload)
    assert 0.97 * bits < payload_bits < 1.08 * bits + 64


def test_a_file_whose_tensors_do_not_fit_names_the_file_and_the_first_differences(torch_home):
    path = save_neuralcompression_checkpoint(torch_home, "msillm", 1)
    state = torch.load(path, weights_only=True)
    del state["decoder.block_0.1.bias"]
    state["hyper_analysis.2.weight"] = state["hyper_analysis.2.weight"][:, :, :3, :3]
    state["extra.weight"] = torch.zeros(1)
    torch.save(state, path)
    with pytest.raises(RdpbenchError) as raised:
        get_codec("msillm").network("1")
    message = str(raised.value)
    assert str(path) in message and "3 differences" in message
    assert "missing decoder.block_0.1.bias" in message and "unexpected extra.weight" in message
    assert "hyper_analysis.2.weight has shape (5, 5, 3, 3), not (5, 5, 5, 5)" in message


def test_msillm_very_low_rates_load_their_own_files(torch_home):
    """vlo1 and vlo2 are NeuralCompression's msillm_quality_vlo1/vlo2: the same network, files
    named after their targets 0.00218 and 0.00438 bpp; No-GAN has no such point."""
    codec = get_codec("msillm")
    assert codec.points[:2] == ["vlo1", "vlo2"] and "vlo1" not in codec.default_points
    assert "vlo1" not in get_codec("noganms").points
    base = "https://dl.fbaipublicfiles.com/NeuralCompression/2023-muckley-msillm/"
    for point, name in (("vlo1", "msillm_target_0.00218bpp.ckpt"), ("vlo2", "msillm_target_0.00438bpp.ckpt")):
        assert (codec.weight_file(point).file_name, codec.weight_file(point).url) == (name, base + name)
    state = neuralcompression_state(seed=11)
    path = torch_home / "hub" / "checkpoints" / "msillm_target_0.00218bpp.ckpt"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    network = codec.network("vlo1")
    loaded = network.state_dict()
    assert torch.equal(loaded["decoder.block_0.1.bias"], state["decoder.block_0.1.bias"])
    image = torch.from_numpy(make_photo(64, 80, seed=3)).permute(2, 0, 1).contiguous()
    decoded = codec.decode(codec.encode(image, "vlo1"))
    assert decoded.shape == image.shape and Bitstream.from_bytes(codec.encode(image, "vlo1")).point == "vlo1"


def test_missing_files_say_where_they_go_and_where_else_to_look(torch_home):
    with pytest.raises(MissingWeightsError) as raised:
        get_codec("msillm").prepare(["1", "6"])
    message = str(raised.value)
    assert "msillm_target_0.035bpp.ckpt" in message and "msillm_target_0.9bpp.ckpt" in message
    assert str(torch_home / "hub" / "checkpoints") in message and "#245" in message
    with pytest.raises(MissingWeightsError, match=r"(?s)hific_med.pt .*rdpbench weights download hific_med.pt"):
        get_codec("hific").prepare(["mi"])


def test_runs_of_the_generative_codecs_record_rate_and_estimate(port_weights, torch_home, tmp_path):
    from PIL import Image

    from rdpbench.run import RunSettings, evaluate

    image_folder = tmp_path / "images"
    image_folder.mkdir()
    for index, (height, width) in enumerate([(70, 90), (96, 66), (70, 90)]):
        Image.fromarray(make_photo(height, width, seed=index)).save(image_folder / f"im{index}.png")
    for quality in range(1, 7):
        save_neuralcompression_checkpoint(torch_home, "msillm", quality)
    for codec, points in (("hific", ["lo", "mi", "hi"]), ("msillm", [str(q) for q in range(1, 7)])):
        folder = evaluate(RunSettings(codec=codec, points=points, dataset=str(image_folder), out=tmp_path / "out",
                                      batch_size=2), progress=False)
        images = pd.read_csv(folder / "images.csv")
        assert len(images) == 3 * len(points) and images.bpp_est.notna().all()
        assert list(images.bpp) == pytest.approx(list(8 * images.bytes / (images.height * images.width)))


def test_small_images_below_the_ports_reach_are_named_before_any_work(port_weights, tmp_path):
    from PIL import Image

    from rdpbench.errors import ImageError
    from rdpbench.run import RunSettings, evaluate

    folder = tmp_path / "small"
    folder.mkdir()
    Image.fromarray(make_photo(64, 80, seed=1)).save(folder / "small.png")
    with pytest.raises(ImageError, match="small: 64x80 pixels is outside what hific takes"):
        evaluate(RunSettings(codec="hific", points=["lo"], dataset=str(folder), out=tmp_path / "out"), progress=False)


@pytest.mark.parametrize("height, width", [(65, 65), (65, 300), (129, 77)])
def test_port_takes_every_size_from_its_minimum(port_weights, height, width):
    image = torch.from_numpy(make_photo(height, width, seed=3)).permute(2, 0, 1).contiguous()
    codec = get_codec("hific")
    assert codec.decode(codec.encode(image, "lo")).shape == image.shape



def _compare_decoded(decoded: torch.Tensor, packed: str) -> None:
    """Within one level of the upstream image everywhere, and equal in 99% of its values."""
    import base64
    import zlib

    import numpy as np

    theirs = np.frombuffer(zlib.decompress(base64.b64decode(packed)), dtype=np.uint8).astype(int)
    difference = np.abs(decoded.numpy().astype(int).ravel() - theirs)
    assert difference.max() <= 1 and (difference == 0).mean() > 0.99


def _golden(section: str):
    import json
    from pathlib import Path

    return json.loads((Path(__file__).parent / "data" / "hific_golden.json").read_text())[section]


def _through_network(network, image: torch.Tensor):
    """(coded latents, z, y_hat, decoded uint8 image) of ``image`` through a loaded network,
    step by step as the generative codecs run it."""
    from rdpbench.entropy import code_hyperprior, decode_hyperprior
    from rdpbench.images import from_float

    with torch.inference_mode():
        y, z = network.hyper_latents(network.analysis(to_float(image)))
        coded = code_hyperprior(y, z, *network.entropy_models(), network.hyper_synthesis, network.estimate_offset)
        y_hat = decode_hyperprior(coded.z_string, coded.y_string, z.shape[-2:], *network.entropy_models(),
                                  network.hyper_synthesis)
        return coded, z, y_hat, from_float(network.synthesis(y_hat, *image.shape[1:]))


@pytest.mark.parametrize("point", ["lo", "mi"])
def test_port_matches_the_ports_own_code_on_golden_values(point):
    """Full-size networks filled by the golden script's rule give the port's own estimate,
    quantized latents and image (scripts/golden_hific.py ran the port's code)."""
    from rdpbench.networks.hific_port import HificPort, HificPortConfig

    script = golden_script("golden_hific")
    expected = _golden("hific_port")[point]
    network = HificPort(HificPortConfig(normalize_input=expected["normalize_input_image"],
                                        likelihood=expected["likelihood_type"]))
    network.load_checkpoint({name: script.key_seeded(name, t.shape) for name, t in network.state_dict().items()})
    coded, z, y_hat, decoded = _through_network(network, script.golden_image())
    assert coded.estimated_bits == pytest.approx(expected["estimated_bits"], rel=1e-5)
    assert_latent_sum(y_hat.double().sum().item(), expected["y_hat_sum"])
    assert_latent_sum(y_hat.double().abs().sum().item(), expected["y_hat_abs_sum"])
    assert torch.floor(z + 0.5).double().sum().item() == expected["z_hat_sum"]
    _compare_decoded(decoded, expected["decoded_uint8_zlib_base64"])


def test_hific_autoencoder_writes_neuralcompressions_own_bytes():
    """Full-size HiFiCAutoencoder filled by the golden script's rule: the same z and y strings
    as NeuralCompression's compress, its estimate, and its decompressed image."""
    import base64

    from rdpbench.networks.hific_autoencoder import HificAutoencoder

    script = golden_script("golden_hific")
    expected = _golden("hific_autoencoder")
    network = HificAutoencoder()
    state = network.state_dict()
    state.update({name: script.key_seeded(name, p.shape) for name, p in network.named_parameters()})
    network.load_checkpoint(state)
    coded, z, y_hat, decoded = _through_network(network, script.golden_image())
    assert coded.z_string == base64.b64decode(expected["z_string_base64"])
    assert coded.y_string == base64.b64decode(expected["y_string_base64"])
    assert coded.estimated_bits == pytest.approx(expected["estimated_bits"], rel=1e-6)
    _compare_decoded(decoded, expected["decoded_uint8_zlib_base64"])


# -- what a port file may hold beyond tensors ----------------------------------------------
def _port_file_with_args(torch_home, point: str, **args):
    path = save_hific_port_checkpoint(torch_home, point)
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["args"].update(args)
    torch.save(checkpoint, path)
    return path


@pytest.mark.parametrize("call", ["open", "system"])
def test_a_port_file_that_would_run_code_is_refused_naming_what_it_calls(torch_home, tmp_path, call):
    marker = tmp_path / "MARKER"
    function, arguments = {"open": (open, (str(marker), "w")), "system": (os.system, (f"touch {marker}",))}[call]
    _port_file_with_args(torch_home, "lo", name=CallOnLoad(function, *arguments))
    with pytest.raises(RdpbenchError) as raised:
        get_codec("hific").prepare(["lo"])
    message = str(raised.value)
    assert f"hific_low.pt refers to {function.__module__}.{function.__name__}," in message
    assert "may run code" in message and "trust_checkpoint=True" in message
    assert not marker.exists()


def test_a_port_file_whose_args_are_a_namespace_of_numpy_values_loads_without_trust(torch_home, photo):
    import argparse

    import numpy as np

    from rdpbench.weights import unreadable_reason

    path = save_hific_port_checkpoint(torch_home, "hi")
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["args"] = argparse.Namespace(**{
        **checkpoint["args"], "n_residual_blocks": np.int64(2), "normalize_input_image": np.bool_(True),
        "learning_rate": np.float64(1e-4), "dtype": np.dtype("float32"), "lr_schedule": {"vals": [np.float32(1.0)]}})
    torch.save(checkpoint, path)
    assert unreadable_reason(path) is None
    codec = get_codec("hific")
    assert codec.decode(codec.encode(photo, "hi")).shape == photo.shape
    assert codec.network("hi").config.normalize_input and codec.network("hi").config.residual_blocks == 2
    assert "trust_checkpoint" not in codec.describe()


def test_a_trusted_port_file_is_read_whole_and_the_codec_says_so(torch_home, photo):
    from fractions import Fraction

    _port_file_with_args(torch_home, "mi", learning_rate=Fraction(1, 10_000))
    with pytest.raises(RdpbenchError, match="hific_med.pt refers to fractions.Fraction"):
        get_codec("hific").network("mi")
    codec = get_codec("hific", trust_checkpoint=True)
    assert codec.decode(codec.encode(photo, "mi")).shape == photo.shape
    assert codec.describe()["trust_checkpoint"] is True
