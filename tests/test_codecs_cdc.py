"""Yang & Mandt's CDC from seeded random checkpoints in the authors' formats: which weights
load, the authors' quantization and estimate, their DDIM, and real bytes."""

import os
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn.functional as F

from rdpbench.bitstream import Bitstream, split_chunks
from rdpbench.codecs import get_codec
from rdpbench.errors import RdpbenchError, UnknownNameError

from conftest import assert_latent_sum, box_likelihood, golden_script, make_photo
from generative_checkpoints import save_cdc_checkpoint


@pytest.fixture
def photo():
    return torch.from_numpy(make_photo(70, 90, seed=4)).permute(2, 0, 1).contiguous()


@pytest.fixture
def eps_weights(torch_home):
    return save_cdc_checkpoint(torch_home, "eps", "0", "1", seed=1)


@pytest.mark.parametrize("parameterisation, keys, unet, compressor", [
    ("eps", 472, 39_912_707, 13_714_947), ("x", 473, 40_107_907, 13_777_472)])
def test_full_size_networks_have_the_authors_keys_and_sizes(parameterisation, keys, unet, compressor):
    from rdpbench.networks.cdc import CdcConfig, CdcModel

    with torch.device("meta"):
        state = CdcModel(CdcConfig(parameterisation), 20000).state_dict()
    count = lambda prefix: sum(v.numel() for k, v in state.items() if k.startswith(prefix))  # noqa: E731
    assert (len(state), count("denoise_fn."), count("context_fn.")) == (keys, unet, compressor)
    assert state["denoise_fn.downs.0.0.block1.block.0.weight"].shape == (64, 6 if parameterisation == "eps" else 67, 7, 7)
    assert state["denoise_fn.ups.0.3.conv.weight"].shape == (320, 320, 4, 4)  # ConvTranspose2d (in, out, 4, 4)
    conv = "2" if parameterisation == "eps" else "1"  # the eps compressor's empty VBR slot
    assert state[f"context_fn.enc.3.{conv}.conv.weight"].shape == (256, 256, 3, 3)
    assert state[f"context_fn.dec.3.{conv}.conv.weight"].shape == (64, 3 if parameterisation == "eps" else 64, 4, 4)
    assert state["context_fn.hyper_dec.2.0.weight"].shape == (512, 256, 3, 3)
    assert state["context_fn.prior.affine.3.weight"].shape == (256, 1, 1, 3, 1)
    assert state["context_fn.prior.a.2"].shape == (256, 1, 1, 1, 3)


def test_eps_files_load_with_and_without_the_lpips_network(torch_home, photo):
    save_cdc_checkpoint(torch_home, "eps", "0", "2", seed=2)
    save_cdc_checkpoint(torch_home, "eps", "0.9", "2", seed=2)
    without, with_lpips = get_codec("cdc-eps-rho0"), get_codec("cdc-eps-rho0.9")
    payloads = [Bitstream.from_bytes(codec.encode(photo, "2")).payload for codec in (without, with_lpips)]
    assert payloads[0] == payloads[1]  # the same networks: the LPIPS keys are left out


def test_x_files_load_the_ema_weights(torch_home):
    path = save_cdc_checkpoint(torch_home, "x", "0", "1", seed=3)
    checkpoint = torch.load(path, weights_only=True)
    key = "denoise_fn.final_conv.1.weight"
    loaded = get_codec("cdc-x-rho0").network("1").denoise_fn.state_dict()["final_conv.1.weight"]
    assert torch.equal(loaded, checkpoint["ema"][f"ema_model.{key}"])
    assert not torch.equal(loaded, checkpoint["ema"][f"online_model.{key}"])
    assert not torch.equal(loaded, checkpoint["model"][key])


def test_an_x_file_without_ema_weights_is_refused(torch_home):
    path = save_cdc_checkpoint(torch_home, "x", "0.9", "3")
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["ema"] = {k: v for k, v in checkpoint["ema"].items() if not k.startswith("ema_model.")}
    torch.save(checkpoint, path)
    with pytest.raises(RdpbenchError, match="no ema_model.. weights"):
        get_codec("cdc-x-rho0.9").network("3")


def _prior_likelihood(state: dict, z_hat: torch.Tensor) -> torch.Tensor:
    """The authors' FlexiblePrior likelihood: x @ softplus(W_k) + b_k, + tanh(a_k) tanh(.)
    for all but the last layer, at z -+ 1/2, with the sign trick, floored at 1e-9."""
    def logits(x):
        h = x.transpose(0, 1).unsqueeze(-1)
        for k in range(4):
            h = torch.matmul(h, F.softplus(state[f"context_fn.prior.affine.{k}.weight"])) + \
                state[f"context_fn.prior.affine.{k}.bias"]
            if k < 3:
                h = h + torch.tanh(state[f"context_fn.prior.a.{k}"]) * torch.tanh(h)
        return h.squeeze(-1).transpose(0, 1)

    lower, upper = logits(z_hat - 0.5), logits(z_hat + 0.5)
    sign = -torch.sign(lower + upper)
    return torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower)).clamp(min=1e-9)


@pytest.mark.parametrize("parameterisation", ["eps", "x"])
def test_bytes_decode_to_the_authors_quantized_latents_and_the_estimate_is_theirs(torch_home, parameterisation):
    from rdpbench.entropy import decode_hyperprior

    rho = "0"
    path = save_cdc_checkpoint(torch_home, parameterisation, rho, "2", seed=5)
    checkpoint = torch.load(path, weights_only=True)
    state = checkpoint["model"] if parameterisation == "eps" else \
        {k[len("ema_model."):]: v for k, v in checkpoint["ema"].items() if k.startswith("ema_model.")}
    image = torch.from_numpy(make_photo(128, 192, seed=6)).permute(2, 0, 1).contiguous()
    codec = get_codec(f"cdc-{parameterisation}-rho{rho}")
    data, bits = codec.encode_estimated(image, "2")
    network = codec.network("2")
    stream = Bitstream.from_bytes(data)
    with torch.inference_mode():
        y, z = network.hyper_latents(network.analysis(image[None].float() / 255))
        bottleneck, conditional = network.entropy_models()
        z_string, y_string = split_chunks(stream.payload, 2)
        z_hat = bottleneck.decompress([z_string], (2, 3))
        medians = state["context_fn.prior._medians"]
        assert torch.equal(z_hat, torch.round(z - medians) + medians)
        y_hat = decode_hyperprior(z_string, y_string, (2, 3), bottleneck, conditional, network.hyper_synthesis)
        means, scales = network.context_fn.hyper_dec[2][0](
            F.leaky_relu(network.context_fn.hyper_dec[1][0](F.leaky_relu(network.context_fn.hyper_dec[0][0](z_hat), 0.2)), 0.2)
        ).chunk(2, 1)
        assert torch.equal(y_hat, torch.round(y - means) + means)
        p_y = box_likelihood(y_hat, means, scales, 0.1)
        p_z = _prior_likelihood(state, z_hat)
    expected = -(torch.log2(p_y.double()).sum() + torch.log2(p_z.double()).sum()).item()
    assert bits == pytest.approx(expected, rel=1e-5)
    # on a well-behaved latent the coder lands near the estimate (on either side: scales are
    # rounded up to the next of the coder's 64 table entries)
    assert abs(8 * len(stream.payload) - bits) < 0.05 * bits + 64


def test_one_ddim_step_is_the_update_formula():
    """Two steps from a fixed x_T with a stand-in network: the network's time inputs and each
    update, for both parameterisations, computed here from the formulas."""
    from rdpbench.networks.cdc import CdcConfig, CdcModel

    from generative_checkpoints import authors_schedule

    for parameterisation, steps_total in (("eps", 20000), ("x", 8193)):
        model = CdcModel(CdcConfig(parameterisation, dim=8), steps_total)
        model.train_alphas_cumprod.copy_(authors_schedule(parameterisation)["train_alphas_cumprod"])
        x_T = torch.randn(1, 3, 4, 4, generator=torch.Generator().manual_seed(0))
        outputs = [torch.full_like(x_T, 0.3), torch.full_like(x_T, -2.0)]
        seen = []

        def network(x, time, context):
            seen.append((x.clone(), time.clone()))
            return outputs[len(seen) - 1]

        result = model.sample(network, [], x_T, 2)
        alpha = model.train_alphas_cumprod
        indices = [0, steps_total - 1]
        expected_times = [1 / 2, 0.0] if parameterisation == "eps" else [indices[1] / steps_total, 0.0]
        assert [t.item() for _, t in seen] == pytest.approx(expected_times)
        x = x_T
        for i, output in zip((1, 0), outputs):
            a, a_prev = alpha[indices[i]], (alpha[indices[0]] if i == 1 else torch.tensor(1.0))
            if parameterisation == "eps":
                x0, eps = (x - (1 - a).sqrt() * output) / a.sqrt(), output
            else:
                x0 = output.clamp(-1, 1)
                eps = (x - a.sqrt() * x0) / (1 - a).sqrt()
            x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
            if i == 1:
                assert torch.allclose(seen[1][0], x, atol=1e-5)
        assert torch.allclose(result, x.clamp(-1, 1), atol=1e-5)


@pytest.mark.subprocess
def test_gamma0_decodes_alike_in_a_fresh_process_and_whatever_the_seed(eps_weights, photo, torch_home, tmp_path):
    codec = get_codec("cdc-eps-rho0")
    data = codec.encode(photo, "1")
    here = codec.decode(data, "ddim3-gamma0", seed=1)
    assert here.shape == photo.shape
    assert torch.equal(here, codec.decode(data, "ddim3-gamma0", seed=2))
    assert not torch.equal(codec.decode(data, "ddim3", seed=1), codec.decode(data, "ddim3", seed=2))
    (tmp_path / "stream.rdpb").write_bytes(data)
    torch.save(here, tmp_path / "here.pt")
    script = textwrap.dedent(f"""
        import torch
        from rdpbench.codecs import get_codec
        data = open({str(tmp_path / 'stream.rdpb')!r}, 'rb').read()
        assert torch.equal(get_codec('cdc-eps-rho0').decode(data, 'ddim3-gamma0', seed=9), torch.load({str(tmp_path / 'here.pt')!r}))
        """)
    subprocess.run([sys.executable, "-c", script], check=True, env={**os.environ, "TORCH_HOME": str(torch_home)})


def test_an_odd_sized_image_comes_back_at_its_size(torch_home):
    save_cdc_checkpoint(torch_home, "x", "0.9", "1", seed=7)
    image = torch.from_numpy(make_photo(200, 136, seed=8)).permute(2, 0, 1).contiguous()
    codec = get_codec("cdc-x-rho0.9")
    data = codec.encode(image, "1")
    assert codec.decode(data, "ddim2").shape == (3, 200, 136)


def test_samplers_are_ddim_with_an_optional_gamma(eps_weights):
    codec = get_codec("cdc-eps-rho0")
    assert codec.samplers == ["ddim500"] and get_codec("cdc-x-rho0").samplers == ["ddim65"]
    for good in ("ddim500", "ddim65-gamma0", "ddim4-gamma0.5"):
        assert codec.check_sampler(good) == good
    for bad in ("ddpm100", "ddim10,10", "ddim", "euler5"):
        with pytest.raises(UnknownNameError, match="ddimN or ddimN-gammaG"):
            codec.check_sampler(bad)


def test_the_context_is_computed_once_per_image(eps_weights, photo):
    codec = get_codec("cdc-eps-rho0")
    data = codec.encode(photo, "1")
    network = codec.network("1")
    decodes, unet_calls = [], []
    original = network.context_fn.decode
    network.context_fn.decode = lambda y_hat: decodes.append(1) or original(y_hat)
    network.denoise_fn.register_forward_hook(lambda *args: unet_calls.append(1))
    codec.decode(data, "ddim4")
    assert len(decodes) == 1 and len(unet_calls) == 4



@pytest.mark.parametrize("parameterisation", ["eps", "x"])
def test_matches_the_authors_code_on_golden_values(torch_home, parameterisation):
    """Same weights (a function of each parameter's name), same image, same x_T as the
    authors' GaussianDiffusion in scripts/golden_cdc.py: their estimate, their quantized
    latents, their 3-step DDIM image."""
    import base64
    import json
    import zlib
    from pathlib import Path

    import numpy as np

    from rdpbench.networks.cdc import CdcConfig, CdcModel

    from generative_checkpoints import CDC_NAMES, authors_schedule

    script = golden_script("golden_cdc")
    golden = json.loads((Path(__file__).parent / "data" / "cdc_golden.json").read_text())
    expected = golden[parameterisation]
    model = CdcModel(CdcConfig(parameterisation, dim=golden["width"]), 20000 if parameterisation == "eps" else 8193)
    state = {name: script.key_seeded(name, parameter.shape) for name, parameter in model.named_parameters()}
    state.update(authors_schedule(parameterisation))
    for index, value in expected["train_alphas_cumprod"].items():
        assert state["train_alphas_cumprod"][int(index)].item() == value
    checkpoint = {"step": 1, "model": state} if parameterisation == "eps" else \
        {"step": 1, "model": state, "ema": {f"ema_model.{k}": v for k, v in state.items()}}
    beta = {"eps": "0.0512", "x": "0.0128"}[parameterisation]
    path = torch_home / "hub" / "checkpoints" / CDC_NAMES[parameterisation, "0"].format(beta=beta)
    path.parent.mkdir(parents=True)
    torch.save(checkpoint, path)

    codec = get_codec(f"cdc-{parameterisation}-rho0")
    image = script.golden_image()
    data, bits = codec.encode_estimated(image, "1")
    assert bits == pytest.approx(expected["estimated_bits"], rel=1e-5)
    network = codec.network("1")
    with torch.inference_mode():
        from rdpbench.entropy import decode_hyperprior

        z_string, y_string = split_chunks(Bitstream.from_bytes(data).payload, 2)
        y_hat = decode_hyperprior(z_string, y_string, (1, 1), *network.entropy_models(), network.hyper_synthesis)
        _, z = network.hyper_latents(network.analysis(image[None].float() / 255))
        medians = network.context_fn.prior._medians
        z_hat = torch.round(z - medians) + medians
    assert_latent_sum(y_hat.double().sum().item(), expected["q_latent_sum"])
    assert_latent_sum(y_hat.double().abs().sum().item(), expected["q_latent_abs_sum"])
    assert_latent_sum(z_hat.double().sum().item(), expected["q_hyper_latent_sum"])
    decoded = codec.decode(data, f"ddim{golden['steps']}", seed=golden["seed"])
    theirs = np.frombuffer(zlib.decompress(base64.b64decode(expected["decoded_uint8_zlib_base64"])), dtype=np.uint8)
    difference = np.abs(decoded.numpy().astype(int).ravel() - theirs.astype(int))
    assert difference.max() <= 1 and (difference == 0).mean() > 0.99


def test_sampler_names_are_made_canonical(eps_weights):
    codec = get_codec("cdc-eps-rho0")
    assert codec.check_sampler("ddim065-gamma0.80") == "ddim65"  # 0.8 is the default gamma
    assert codec.check_sampler("ddim10-gamma0.50") == "ddim10-gamma0.5"


def test_malformed_checkpoints_are_named_not_tracebacks(torch_home):
    path = save_cdc_checkpoint(torch_home, "x", "0", "2")
    checkpoint = torch.load(path, weights_only=True)
    ema = checkpoint["ema"]
    checkpoint["ema"] = [1, 2]
    torch.save(checkpoint, path)
    with pytest.raises(RdpbenchError, match=r"is not a cdc-x-rho0 2 checkpoint: its 'ema' entry is a list"):
        get_codec("cdc-x-rho0").network("2")
    checkpoint["ema"] = {**ema, "ema_model.denoise_fn.final_conv.1.bias": 0}
    torch.save(checkpoint, path)
    with pytest.raises(RdpbenchError, match="denoise_fn.final_conv.1.bias is a int, not a tensor"):
        get_codec("cdc-x-rho0").network("2")


def test_direct_encodes_check_the_codecs_minimum_size(eps_weights):
    small = torch.from_numpy(make_photo(32, 80, seed=1)).permute(2, 0, 1).contiguous()
    with pytest.raises(RdpbenchError, match="32x80 pixels is outside what cdc-eps-rho0 takes"):
        get_codec("cdc-eps-rho0").encode(small, "1")
