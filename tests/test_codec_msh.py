import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn.functional as F

from rdpbench.bitstream import Bitstream, bits_per_pixel, encode_varint
from rdpbench.codecs import get_codec
from rdpbench.codecs.msh import padding
from rdpbench.errors import MissingWeightsError
from rdpbench.images import to_float

from conftest import make_photo


@pytest.fixture
def photo() -> torch.Tensor:
    return torch.from_numpy(make_photo(70, 90, seed=5)).permute(2, 0, 1).contiguous()


@pytest.mark.subprocess
def test_msh_round_trips_through_bytes_in_a_fresh_process(msh_weights, torch_home, photo, tmp_path):
    codec = get_codec("msh")
    data = codec.encode(photo, "1")
    (tmp_path / "stream.rdpb").write_bytes(data)
    torch.save(codec.decode(data), tmp_path / "here.pt")
    script = textwrap.dedent(
        f"""
        import torch
        from rdpbench.codecs import get_codec
        data = open({str(tmp_path / "stream.rdpb")!r}, "rb").read()
        torch.save(get_codec("msh").decode(data), {str(tmp_path / "there.pt")!r})
        """
    )
    env = {"TORCH_HOME": str(torch_home), "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=300)
    decoded_there = torch.load(tmp_path / "there.pt")
    assert decoded_there.shape == photo.shape and decoded_there.dtype == torch.uint8
    assert torch.equal(decoded_there, torch.load(tmp_path / "here.pt"))


def test_msh_bpp_is_the_byte_count_of_header_and_entropy_coded_strings(msh_weights, photo):
    codec = get_codec("msh")
    data = codec.encode(photo, "1")
    model = codec.model("1")
    pad, _ = padding(70, 90)
    with torch.inference_mode():
        strings = model.compress(F.pad(to_float(photo), pad))["strings"]
    string_bytes = sum(len(s[0]) for s in strings)
    header = len(Bitstream("msh", "1", 70, 90, b"").to_bytes())
    z_length_prefix = 1 if len(strings[1][0]) < 128 else 2
    assert len(data) == header + z_length_prefix + string_bytes
    assert bits_per_pixel(len(data), 70, 90) == 8 * len(data) / (70 * 90)


def test_msh_decode_equals_compressais_own_decompress(msh_weights, photo):
    codec = get_codec("msh")
    data = codec.encode(photo, "1")
    model = codec.model("1")
    pad, unpad = padding(70, 90)
    with torch.inference_mode():
        out = model.compress(F.pad(to_float(photo), pad))
        reference = model.decompress(out["strings"], out["shape"])["x_hat"]
    expected = F.pad(reference, unpad).squeeze(0).mul(255).round().to(torch.uint8)
    assert torch.equal(codec.decode(data), expected)


def test_msh_pads_to_64_and_crops_back(msh_weights):
    codec = get_codec("msh")
    for height, width in [(1, 1), (65, 33), (64, 128)]:
        image = torch.full((3, height, width), 128, dtype=torch.uint8)
        assert codec.decode(codec.encode(image, "1")).shape == (3, height, width)


def test_missing_msh_weights_name_the_file_its_place_and_the_command(torch_home, photo):
    with pytest.raises(MissingWeightsError) as error:
        get_codec("msh").encode(photo, "2")
    message = str(error.value)
    assert "mbt2018-mean-2-e54a039d.pth.tar" in message
    assert str(torch_home / "hub" / "checkpoints") in message
    assert "rdpbench weights download mbt2018-mean-2-e54a039d.pth.tar" in message


def test_msh_payload_is_compressais_own_strings(msh_weights, photo):
    codec = get_codec("msh")
    payload = Bitstream.from_bytes(codec.encode(photo, "1")).payload
    pad, _ = padding(70, 90)
    with torch.inference_mode():
        [[y_string], [z_string]] = codec.model("1").compress(F.pad(to_float(photo), pad))["strings"]
    assert payload == encode_varint(len(z_string)) + z_string + y_string


def factorized_likelihood(bottleneck, z_hat):
    """p(z_hat) of a CompressAI factorized density, from its parameters and Balle's formula:
    c(x) = the cumulative logits (softplus(H) x + b, then + tanh(a) tanh(.) on all layers but
    the last), p = sigmoid(c(z + 1/2)) - sigmoid(c(z - 1/2))."""
    def cumulative(x):  # x: (C, N)
        logits = x[:, None, :]
        layers = len(bottleneck.matrices)
        for k in range(layers):
            logits = F.softplus(bottleneck.matrices[k]) @ logits + bottleneck.biases[k]
            if k < layers - 1:
                logits = logits + torch.tanh(bottleneck.factors[k]) * torch.tanh(logits)
        return logits[:, 0, :]

    values = z_hat[0].reshape(z_hat.shape[1], -1)
    return torch.sigmoid(cumulative(values + 0.5)) - torch.sigmoid(cumulative(values - 0.5))


def test_msh_estimate_is_minus_log2_of_the_latents_likelihoods(msh_weights):
    image = torch.from_numpy(make_photo(256, 384, seed=3)).permute(2, 0, 1).contiguous()
    codec = get_codec("msh")
    data, bits = codec.encode_estimated(image, "1")
    model = codec.model("1")
    with torch.inference_mode():
        y = model.g_a(to_float(image))
        z = model.h_a(y)
        medians = model.entropy_bottleneck.quantiles[:, 0, 1].reshape(1, -1, 1, 1)
        z_hat = torch.round(z - medians) + medians
        scales, means = model.h_s(z_hat).chunk(2, 1)
        scales = scales.clamp(min=0.11)
        y_hat = torch.round(y - means) + means
        normal = torch.distributions.Normal(0.0, 1.0)
        p_y = normal.cdf((y_hat - means + 0.5) / scales) - normal.cdf((y_hat - means - 0.5) / scales)
        p_z = factorized_likelihood(model.entropy_bottleneck, z_hat)
    expected = -(torch.log2(p_y.double().clamp(min=1e-9)).sum() + torch.log2(p_z.double().clamp(min=1e-9)).sum())
    assert bits == pytest.approx(expected.item(), rel=1e-5)
    # the range coder lands close to the estimate on a well-behaved latent (256x384: no padding)
    payload_bits = 8 * len(Bitstream.from_bytes(data).payload)
    assert bits < payload_bits < 1.02 * bits


def test_runs_record_the_estimate_beside_the_real_rate(msh_weights, image_folder, tmp_path):
    import pandas as pd

    from rdpbench.datasets import get_dataset
    from rdpbench.report import write_report
    from rdpbench.run import RunSettings, evaluate

    learned = evaluate(RunSettings(codec="msh", points=["1"], dataset=str(image_folder), out=tmp_path / "out"), progress=False)
    classical = evaluate(RunSettings(codec="jpeg", points=["50"], dataset=str(image_folder), out=tmp_path / "out"), progress=False)
    images = pd.read_csv(learned / "images.csv").set_index("image")
    codec = get_codec("msh")
    for item in get_dataset(str(image_folder)).images:
        reference, _ = item.load()
        _, bits = codec.encode_estimated(reference, "1")
        assert images.loc[item.name, "bpp_est"] == pytest.approx(bits / (reference.shape[1] * reference.shape[2]))
    points = pd.read_csv(learned / "points.csv")
    assert points.bpp_est.iloc[0] == pytest.approx(images.bpp_est.mean())
    assert pd.read_csv(classical / "images.csv").bpp_est.isna().all()
    report = write_report(tmp_path / "out")[0].read_text()
    gap = 100 * (points.bpp.iloc[0] / points.bpp_est.iloc[0] - 1)
    section = report.split("### Real bytes against the likelihood estimate")[1].split("###")[0]
    assert f"| msh | 1 | {points.bpp.iloc[0]:.4g} | {points.bpp_est.iloc[0]:.4g} | {gap:.4g} |" in section
    assert "jpeg" not in section


def test_a_weight_file_that_is_not_upstreams_is_noted_in_run_json(msh_weights, image_folder, tmp_path):
    import json

    from rdpbench.run import RunSettings, evaluate

    folder = evaluate(RunSettings(codec="msh", points=["1"], dataset=str(image_folder), out=tmp_path), progress=False)
    notes = json.loads((folder / "run.json").read_text())["notes"]
    assert [note for note in notes if note.startswith(f"{msh_weights.name} is not the upstream file")]
