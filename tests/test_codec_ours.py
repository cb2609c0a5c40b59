"""Codec `ours`: MSH's bitstream decoded by the diffusion decoder, with test-built weights."""

import dataclasses
import math

import pandas as pd
import pytest
import torch

from rdpbench.bitstream import Bitstream
from rdpbench.codecs import get_codec
from rdpbench.diffusion.training import TrainingConfig, train
from rdpbench.diffusion.unet import UNET_SIZES
from rdpbench.errors import RdpbenchError, UnknownNameError
from rdpbench.images import to_float
from rdpbench.results import read_manifest
from rdpbench.run import RunSettings, evaluate

from conftest import make_photo

TINY = dataclasses.replace(UNET_SIZES["tiny"], model_channels=16, norm_groups=4,
                           decoder_channels=(8, 8, 8, 8))


@pytest.fixture
def checkpoint(msh_weights, tmp_path):
    """A briefly trained tiny decoder for MSH quality 1, with its output made non-zero."""
    msh = get_codec("msh")
    images = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))

    path = tmp_path / "ours_q1.pt"
    config = TrainingConfig(steps=3, lr=1e-2, rho=0.0, save_every=3, log_every=3)
    train(lambda step: images, lambda x: msh.latent(x, "1"), path, TINY, config,
          {"codec": "msh", "quality": "1"}, progress=False)
    return path


@pytest.fixture
def photo():
    return torch.from_numpy(make_photo(70, 90, seed=2)).permute(2, 0, 1).contiguous()


def test_ours_writes_byte_identical_msh_bitstreams(checkpoint, photo):
    ours = get_codec("ours", checkpoint=[str(checkpoint)])
    assert ours.encode(photo, "1") == get_codec("msh").encode(photo, "1")


def test_msh_sampler_is_the_standard_msh_decoder(checkpoint, photo):
    data = get_codec("msh").encode(photo, "1")
    ours = get_codec("ours", checkpoint=[str(checkpoint)])
    assert torch.equal(ours.decode(data, sampler="msh"), get_codec("msh").decode(data))


def test_samplers_give_different_images_and_seeds_reproduce(checkpoint, photo):
    ours = get_codec("ours", checkpoint=[str(checkpoint)])
    data = ours.encode(photo, "1")
    ddim = ours.decode(data, "ddim10", seed=3)
    assert ddim.shape == photo.shape and ddim.dtype == torch.uint8
    assert torch.equal(ddim, ours.decode(data, "ddim10", seed=3))
    assert not torch.equal(ddim, ours.decode(data, "ddpm10", seed=3))
    assert not torch.equal(ddim, ours.decode(data, "msh"))
    assert not torch.equal(ours.decode(data, "ddpm10", seed=3), ours.decode(data, "ddpm10", seed=4))


def test_latent_decoder_runs_once_per_image_not_per_step(checkpoint, photo):
    ours = get_codec("ours", checkpoint=[str(checkpoint)])
    data = ours.encode(photo, "1")
    network = ours.decoder("1")[0]
    calls = []
    network.latent_decoder.register_forward_hook(lambda *args: calls.append(1))
    unet_calls = []
    network.register_forward_hook(lambda *args: unet_calls.append(1))
    ours.decode(data, "ddim10")
    assert len(calls) == 1 and len(unet_calls) == 10


def test_training_latent_equals_the_decoded_latent(msh_weights):
    msh = get_codec("msh")
    image = torch.from_numpy(make_photo(64, 128, seed=4)).permute(2, 0, 1).contiguous()
    decoded = msh.decode_latent(Bitstream.from_bytes(msh.encode(image, "1")))
    with torch.no_grad():
        assert torch.equal(msh.latent(to_float(image), "1"), decoded)


def test_one_encode_serves_every_sampler_of_a_run(checkpoint, image_folder, tmp_path, monkeypatch):
    from rdpbench.codecs.ours import DiffusionDecoderCodec

    encodes = []
    original = DiffusionDecoderCodec.encode_payload_estimated
    monkeypatch.setattr(DiffusionDecoderCodec, "encode_payload_estimated",
                        lambda self, *a: encodes.append(1) or original(self, *a))
    settings = RunSettings(codec="ours", points=["1"], samplers=["ddim10", "msh"], dataset=str(image_folder),
                           out=tmp_path / "out", codec_options={"checkpoint": [str(checkpoint)]})
    folder = evaluate(settings, progress=False)
    images = pd.read_csv(folder / "images.csv")
    assert len(images) == 6 and len(encodes) == 3
    assert images.groupby("image").bytes.nunique().eq(1).all()
    assert folder.name == "ours-ddim10-msh-images"


def test_missing_checkpoint_stops_the_run_before_any_output(msh_weights, image_folder, tmp_path):
    settings = RunSettings(codec="ours", points=["1"], dataset=str(image_folder), out=tmp_path / "out")
    with pytest.raises(RdpbenchError, match="--checkpoint"):
        evaluate(settings, progress=False)
    assert not (tmp_path / "out").exists()


def test_unknown_sampler_names_the_pattern(checkpoint):
    with pytest.raises(UnknownNameError, match="ddimN, ddpmN"):
        get_codec("ours", checkpoint=[str(checkpoint)]).check_sampler("heun10")


def test_other_codecs_refuse_a_checkpoint():
    with pytest.raises(RdpbenchError, match="takes no option checkpoint"):
        get_codec("jpeg", checkpoint=["x.pt"])


def test_a_cut_decoder_checkpoint_is_named_as_damaged(checkpoint):
    data = checkpoint.read_bytes()
    checkpoint.write_bytes(data[: len(data) // 3])
    with pytest.raises(RdpbenchError) as raised:
        get_codec("ours", checkpoint=[str(checkpoint)])
    assert f"{checkpoint} is damaged" in str(raised.value)
    assert "weights_only" not in str(raised.value)


def test_eta_reaches_ddim_and_is_recorded(checkpoint, photo):
    deterministic = get_codec("ours", checkpoint=[str(checkpoint)])
    noisy = get_codec("ours", checkpoint=[str(checkpoint)], eta=1.0)
    data = deterministic.encode(photo, "1")
    assert noisy.sampler("ddim10").eta == 1.0 and deterministic.sampler("ddim10").eta == 0.0
    assert not torch.equal(noisy.decode(data, "ddim10", seed=3), deterministic.decode(data, "ddim10", seed=3))
    assert torch.equal(noisy.decode(data, "ddim10", seed=3), noisy.decode(data, "ddim10", seed=3))
    assert noisy.describe()["ddim_eta"] == 1.0 and "ddim_eta" not in deterministic.describe()


def test_a_ddim_count_without_an_integer_stride_is_refused_before_any_work(checkpoint):
    ours = get_codec("ours", checkpoint=[str(checkpoint)])
    with pytest.raises(RdpbenchError, match="ddim3000: no integer stride .* 2000, 4000"):
        ours.check_sampler("ddim3000")
    assert ours.check_sampler("ddpm10,10,10") == "ddpm10,10,10"


def _photo_folder(folder, sizes):
    from PIL import Image

    folder.mkdir()
    for index, (height, width) in enumerate(sizes):
        Image.fromarray(make_photo(height, width, seed=10 + index)).save(folder / f"im{index}.png")
    return folder


def test_batch_of_four_decodes_what_batches_of_one_decode(checkpoint, tmp_path, monkeypatch):
    """Four same-size images and one of another size, two samplers (one drawing noise at every
    step): the images and rows do not depend on the batch size."""
    from rdpbench.diffusion.unet import ConditionalUNet

    batches = []
    forward = ConditionalUNet.forward
    monkeypatch.setattr(ConditionalUNet, "forward", lambda self, x, *rest: batches.append(len(x)) or forward(self, x, *rest))
    folder = _photo_folder(tmp_path / "set", [(70, 90)] * 2 + [(90, 70)] + [(70, 90)] * 2)
    written, network_batches = {}, {}
    for batch_size in (1, 4):
        batches.clear()
        settings = RunSettings(codec="ours", points=["1"], samplers=["ddim10", "ddpm10"], dataset=str(folder),
                               out=tmp_path / f"batch{batch_size}", batch_size=batch_size, save_images=True,
                               codec_options={"checkpoint": [str(checkpoint)]})
        written[batch_size] = evaluate(settings, progress=False)
        network_batches[batch_size] = sorted(set(batches))
    assert network_batches == {1: [1], 4: [1, 4]}
    timing = ["encode_s", "decode_s"]
    one, four = (pd.read_csv(written[b] / "images.csv").drop(columns=timing) for b in (1, 4))
    pd.testing.assert_frame_equal(one, four)
    assert list(one.image) == [f"im{i}" for i in range(5) for _ in range(2)]  # the set's order
    pngs = sorted(p.relative_to(written[1]) for p in (written[1] / "images").rglob("*.png"))
    assert len(pngs) == 10
    for png in pngs:
        assert (written[1] / png).read_bytes() == (written[4] / png).read_bytes(), png
    assert read_manifest(written[4] / "run.json")["decode_batch"] == "4"


def test_decode_batch_keeps_each_image_its_own_seed(checkpoint):
    ours = get_codec("ours", checkpoint=[str(checkpoint)])
    data = [ours.encode(torch.from_numpy(make_photo(70, 90, seed=s)).permute(2, 0, 1).contiguous(), "1")
            for s in range(3)]
    batch = ours.decode_batch(data, "ddpm10", [7, 8, 7])
    assert all(torch.equal(b, ours.decode(d, "ddpm10", seed=s)) for b, d, s in zip(batch, data, [7, 8, 7]))
    swapped = ours.decode_batch(data[:2], "ddpm10", [8, 7])
    assert not torch.equal(swapped[0], batch[0])


def test_bf16_unet_stays_close_to_fp32_and_is_recorded(checkpoint, photo):
    fp32 = get_codec("ours", checkpoint=[str(checkpoint)])
    bf16 = get_codec("ours", checkpoint=[str(checkpoint)], precision="bf16")
    data = fp32.encode(photo, "1")
    exact, fast = fp32.decode(data, "ddim10", seed=1), bf16.decode(data, "ddim10", seed=1)
    mse = (exact.double() - fast.double()).pow(2).mean().item()
    assert 10 * math.log10(255**2 / max(mse, 1e-12)) > 35
    assert torch.equal(bf16.decode(data, "msh"), fp32.decode(data, "msh"))  # entropy path untouched
    assert bf16.describe()["unet_precision"] == "bf16" and "unet_precision" not in fp32.describe()
    with pytest.raises(UnknownNameError, match="fp32, bf16"):
        get_codec("ours", checkpoint=[str(checkpoint)], precision="fp16")


def test_gamma_sets_the_initial_noise_of_ours(checkpoint, photo):
    ours = get_codec("ours", checkpoint=[str(checkpoint)])
    data = ours.encode(photo, "1")
    assert ours.check_sampler("ddim10-gamma0.5") == "ddim10-gamma0.5"
    deterministic = ours.decode(data, "ddim10-gamma0", seed=1)
    assert torch.equal(deterministic, ours.decode(data, "ddim10-gamma0", seed=2))  # no noise at all
    assert not torch.equal(ours.decode(data, "ddim10", seed=1), ours.decode(data, "ddim10", seed=2))
    assert not torch.equal(ours.decode(data, "ddpm10-gamma0", seed=1), deterministic)
