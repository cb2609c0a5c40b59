"""Codec `ours`: MSH's bitstream decoded by the diffusion decoder, with test-built weights."""

import dataclasses

import pandas as pd
import pytest
import torch

from rdpbench.bitstream import Bitstream
from rdpbench.codecs import get_codec
from rdpbench.diffusion.training import TrainingConfig, train
from rdpbench.diffusion.unet import UNET_SIZES
from rdpbench.errors import RdpbenchError, UnknownNameError
from rdpbench.images import to_float
from rdpbench.runner import Run, RunSettings

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
    original = DiffusionDecoderCodec.encode_payload
    monkeypatch.setattr(DiffusionDecoderCodec, "encode_payload",
                        lambda self, *a: encodes.append(1) or original(self, *a))
    settings = RunSettings(codec="ours", points=["1"], samplers=["ddim10", "msh"], dataset=str(image_folder),
                           out=tmp_path / "out", codec_options={"checkpoint": [str(checkpoint)]})
    folder = Run(settings).execute(progress=False)
    images = pd.read_csv(folder / "images.csv")
    assert len(images) == 6 and len(encodes) == 3
    assert images.groupby("image").bytes.nunique().eq(1).all()
    assert folder.name == "ours-ddim10-msh-images"


def test_missing_checkpoint_stops_the_run_before_any_output(msh_weights, image_folder, tmp_path):
    settings = RunSettings(codec="ours", points=["1"], dataset=str(image_folder), out=tmp_path / "out")
    with pytest.raises(RdpbenchError, match="--checkpoint"):
        Run(settings).execute(progress=False)
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
