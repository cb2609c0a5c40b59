"""CompressAI's image zoo as codecs: every model's bytes are its own ``compress()`` strings and
its images its own ``decompress()``, on seeded random networks of each architecture at a tiny
width, saved as CompressAI checkpoints under the zoo's file names."""

import pytest
import torch
import torch.nn.functional as F

from rdpbench.bitstream import Bitstream, join_chunks
from rdpbench.codecs import get_codec
from rdpbench.codecs.compressai_zoo import (
    AUTOREGRESSIVE, FACTORIZED, MEAN_SCALE_HYPERPRIOR, SCALE_HYPERPRIOR, ZOO, ZOO_CODECS, padding,
)
from rdpbench.images import to_float
from rdpbench.weights import compressai_weight_file

from conftest import box_likelihood, invoke, make_image_folder, photo_tensor, run_once
from test_codec_msh import factorized_likelihood

#: The zoo's widths are fixed by quality; these are the smallest the layers take (Cheng's
#: attention halves N, its hyper synthesis takes 3N/2; the context model's entropy parameters
#: take 12M/3).
TINY_WIDTHS = {"cheng2020-anchor": (8,), "cheng2020-attn": (8,)}
DEFAULT_TINY_WIDTHS = (8, 12)


def last_convolution(part: torch.nn.Module) -> torch.nn.Module:
    return [m for m in part.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))][-1]


def build_zoo_weights(codec_name: str, quality: int) -> torch.nn.Module:
    """A seeded random network of the codec's architecture, saved with its entropy-coder
    tables where CompressAI's loader looks for the published file. Its latents are spread
    over several integers and its predicted scales over many of the coder's tables (the last
    layers of the analyses, the hyper synthesis and the context model's entropy parameters
    amplified), and its output is centred on mid-grey, so that every step of coding, and the
    clamping, changes the bytes or the image when it is done wrong."""
    from compressai.zoo.image import model_architectures

    codec = ZOO_CODECS[codec_name]
    architecture = codec.zoo_model.architecture
    torch.manual_seed(quality)
    model = model_architectures[architecture](*TINY_WIDTHS.get(architecture, DEFAULT_TINY_WIDTHS)).eval()
    with torch.no_grad():
        for part, gain in [("g_a", 20), ("h_a", 10), ("h_s", 10), ("entropy_parameters", 10)]:
            if hasattr(model, part):
                layer = last_convolution(getattr(model, part))
                layer.weight.mul_(gain)
                layer.bias.mul_(gain)
        last_convolution(model.g_s).bias.add_(0.5)
    model.update(force=True)
    path = compressai_weight_file(architecture, quality, codec.metric).path
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return model


def padded(image: torch.Tensor) -> torch.Tensor:
    pad, _ = padding(*image.shape[1:])
    return F.pad(to_float(image), pad)


@pytest.mark.parametrize("name", sorted(ZOO_CODECS))
def test_payload_is_compress_strings_and_image_is_decompress(name, torch_home):
    model = build_zoo_weights(name, 2)
    image = photo_tensor(50, 70, seed=1)
    data = get_codec(name).encode(image, "2")
    with torch.inference_mode():
        out = model.compress(padded(image))
        reference = model.decompress(out["strings"], out["shape"])["x_hat"]
    strings = [string for [string] in out["strings"]]  # y, then z where there is one
    assert Bitstream.from_bytes(data).payload == join_chunks(strings[::-1])
    _, unpad = padding(50, 70)
    expected = F.pad(reference, unpad).squeeze(0).mul(255).round().to(torch.uint8)
    decoded = get_codec(name).decode(data)  # a fresh codec: everything it needs is in the bytes
    assert torch.equal(decoded, expected)
    assert len(strings) == (1 if ZOO_CODECS[name].zoo_model.coding == FACTORIZED else 2)


def test_every_zoo_image_model_of_the_installed_compressai_is_a_codec_with_its_qualities():
    from compressai.zoo.image import model_urls

    assert {model.architecture for model in ZOO} == set(model_urls)
    for model in ZOO:
        assert set(model.metrics) == set(model_urls[model.architecture])
        for metric in model.metrics:
            codec = ZOO_CODECS[f"{model.architecture}{'' if metric == 'mse' else '-msssim'}"]
            assert codec.points == [str(q) for q in sorted(model_urls[model.architecture][metric])]
    assert ZOO_CODECS["cheng2020-attn"].points == ["1", "2", "3", "4", "5", "6"]
    assert ZOO_CODECS["mbt2018"].points == [str(q) for q in range(1, 9)]


def test_the_table_says_what_compressai_builds():
    from compressai.models import (
        FactorizedPrior, JointAutoregressiveHierarchicalPriors, MeanScaleHyperprior, ScaleHyperprior,
    )
    from compressai.zoo.image import model_architectures

    for model in ZOO:
        network_class = model_architectures[model.architecture]
        expected = {FactorizedPrior: FACTORIZED, ScaleHyperprior: SCALE_HYPERPRIOR,
                    MeanScaleHyperprior: MEAN_SCALE_HYPERPRIOR}.get(network_class, AUTOREGRESSIVE)
        assert model.coding == expected, model.architecture
        assert issubclass(network_class, JointAutoregressiveHierarchicalPriors) == (expected == AUTOREGRESSIVE)
        network = network_class(*TINY_WIDTHS.get(model.architecture, DEFAULT_TINY_WIDTHS))
        assert model.size_stride == network.downsampling_factor


def test_msh_and_mbt2018_mean_are_one_model_with_the_same_payload(msh_weights):
    image = photo_tensor(70, 90, seed=5)
    msh, zoo = get_codec("msh"), get_codec("mbt2018-mean")
    from_msh, from_zoo = Bitstream.from_bytes(msh.encode(image, "1")), Bitstream.from_bytes(zoo.encode(image, "1"))
    assert (from_msh.codec, from_zoo.codec) == ("msh", "mbt2018-mean")
    assert from_msh.payload == from_zoo.payload
    assert torch.equal(msh.decode(msh.encode(image, "1")), zoo.decode(zoo.encode(image, "1")))


def hyper_likelihoods(model, y: torch.Tensor, hyper_input: torch.Tensor):
    """(z_hat, p(z_hat)) with z rounded around the bottleneck's medians."""
    z = model.h_a(hyper_input)
    medians = model.entropy_bottleneck.quantiles[:, 0, 1].reshape(1, -1, 1, 1)
    z_hat = torch.round(z - medians) + medians
    return z_hat, factorized_likelihood(model.entropy_bottleneck, z_hat)


@pytest.mark.parametrize("name", ["bmshj2018-factorized-msssim", "bmshj2018-hyperprior", "cheng2020-anchor"])
def test_estimate_is_minus_log2_of_the_documented_likelihoods(name, torch_home):
    """Factorized prior: y rounded around the medians. Scale hyperprior: y rounded to integers
    (zero means), scales from z_hat. Context model (CompressAI's forward estimate): the context
    sees y rounded to integers, and y is rounded around the means that follow."""
    model = build_zoo_weights(name, 1)
    image = photo_tensor(64, 64, seed=2)
    _, bits = get_codec(name).encode_estimated(image, "1")
    coding = ZOO_CODECS[name].zoo_model.coding
    with torch.inference_mode():
        y = model.g_a(to_float(image))
        if coding == FACTORIZED:
            medians = model.entropy_bottleneck.quantiles[:, 0, 1].reshape(1, -1, 1, 1)
            likelihoods = [factorized_likelihood(model.entropy_bottleneck, torch.round(y - medians) + medians)]
        elif coding == SCALE_HYPERPRIOR:
            z_hat, p_z = hyper_likelihoods(model, y, y.abs())
            likelihoods = [p_z, box_likelihood(torch.round(y), 0.0, model.h_s(z_hat), 0.11)]
        else:
            z_hat, p_z = hyper_likelihoods(model, y, y)
            context = model.context_prediction(torch.round(y))
            scales, means = model.entropy_parameters(torch.cat([model.h_s(z_hat), context], 1)).chunk(2, 1)
            likelihoods = [p_z, box_likelihood(torch.round(y - means) + means, means, scales, 0.11)]
    expected = -sum(torch.log2(p.double().clamp(min=1e-9)).sum() for p in likelihoods)
    assert bits == pytest.approx(expected.item(), rel=1e-5)


def test_a_run_codes_real_bytes_and_records_the_estimate(torch_home, tmp_path):
    import pandas as pd

    build_zoo_weights("mbt2018-msssim", 3)
    folder = make_image_folder(tmp_path / "images", [(40, 72), (33, 20)])
    images = pd.read_csv(run_once(folder, tmp_path / "out", codec="mbt2018-msssim", points=["3"]) / "images.csv")
    codec = get_codec("mbt2018-msssim")
    for row in images.itertuples():
        reference = photo_tensor(row.height, row.width, seed=int(row.image[-1]))
        data, bits = codec.encode_estimated(reference, "3")
        assert row.bytes == len(data)
        assert row.bpp_est == pytest.approx(bits / (row.height * row.width))


def test_list_codecs_shows_every_zoo_codec_with_its_rate_points():
    lines = {line.split()[0]: line for line in invoke("list", "codecs").output.splitlines() if line.strip()}
    for name in ["bmshj2018-factorized", "mbt2018", "mbt2018-mean", "cheng2020-anchor-msssim", "cheng2020-attn"]:
        assert name in lines
    assert lines["cheng2020-anchor-msssim"].endswith("Rate points: 1, 2, 3, 4, 5, 6.")
    assert lines["bmshj2018-factorized"].endswith("Rate points: 1, 2, 3, 4, 5, 6, 7, 8.")
    assert "MS-SSIM" in lines["cheng2020-anchor-msssim"] and "serial decode" in lines["mbt2018"]
    assert "msh" in lines["mbt2018-mean"]


def test_a_missing_weight_file_is_named_before_any_work(torch_home, tmp_path):
    folder = make_image_folder(tmp_path / "images", [(40, 40)])
    result = invoke("run", "--codec", "cheng2020-attn-msssim", "--quality", "3", "--dataset", folder,
                    "--out", tmp_path / "out")
    assert result.exit_code == 1
    # the file name of CompressAI's URL table (its cheng2020 MS-SSIM files are spelled with "_")
    assert "rdpbench weights download cheng2020_attn-ms-ssim-3-5c9be841.pth.tar" in result.output
    assert str(torch_home / "hub" / "checkpoints") in result.output
    assert not (tmp_path / "out").exists()


def test_weights_an_older_compressai_does_not_publish_are_named_with_the_upgrade(monkeypatch):
    from compressai.zoo.image import model_urls

    from rdpbench.errors import RdpbenchError

    monkeypatch.delitem(model_urls["cheng2020-attn"]["ms-ssim"], 3)
    with pytest.raises(RdpbenchError, match="publishes no ms-ssim weights of cheng2020-attn quality 3.*pip install -U"):
        get_codec("cheng2020-attn-msssim").weight_files(["3"])


def test_weights_commands_know_every_zoo_file(torch_home, tmp_path):
    from compressai.zoo.image import model_urls

    names = [url.rsplit("/", 1)[1] for by_metric in model_urls.values()
             for by_quality in by_metric.values() for url in by_quality.values()]
    listed = invoke("weights", "list").output
    assert all(name in listed for name in names)
    assert "bmshj2018-factorized-ms-ssim-8-8811bd14.pth.tar" in listed
    verified = invoke("weights", "verify", "mbt2018-ms-ssim-1-2878436b.pth.tar")
    assert verified.exit_code == 1 and "missing" in verified.output
    # a file under a zoo name but with other contents is refused by the hash its name carries
    (tmp_path / "offer").mkdir()
    (tmp_path / "offer" / "mbt2018-ms-ssim-1-2878436b.pth.tar").write_bytes(b"not the published file")
    imported = invoke("weights", "import", tmp_path / "offer")
    assert imported.exit_code == 1 and "not the published file's" in imported.output


def test_cards_carry_compressais_published_curves_at_the_codecs_rate_points():
    from rdpbench.codecs.cards import load_card, published_points

    for name, codec in ZOO_CODECS.items():
        if name == "mbt2018-mean":  # msh's model: its curves are on msh's card, drawn once
            assert not load_card(name).get("published") and "msh" in load_card(name)["legend"]
            continue
        points = published_points(name)
        assert set(points.dataset) == {"kodak", "clic2020-pro-test", "clic2020-mobile-test"}, name
        for _, curve in points.groupby("dataset"):
            assert list(curve.quality) == codec.points, name
            assert curve.bpp.is_monotonic_increasing and curve.psnr.is_monotonic_increasing, name
    # CompressAI's results/image/8bit-decoded/kodak/compressai-mbt2018_mse_ans_cuda.json and
    # results/image/kodak/compressai-cheng2020-attn_ms-ssim_cpu.json
    mbt2018 = published_points("mbt2018").query("dataset == 'kodak'")
    assert mbt2018.bpp.iloc[0] == pytest.approx(0.1105, abs=1e-4)
    assert mbt2018.psnr.iloc[0] == pytest.approx(28.084, abs=1e-3)
    attention = published_points("cheng2020-attn-msssim").query("dataset == 'kodak'")
    assert attention.bpp.iloc[-1] == pytest.approx(0.5958, abs=1e-4)
