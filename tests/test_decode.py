"""Saved reconstructions and bitstreams; `rdpbench decode` of a saved bitstream in a fresh
process gives the run's reconstruction, for every codec family."""

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from rdpbench.run import RunSettings, evaluate

from conftest import rdpbench_process, subprocess_env



def decode_in_a_fresh_process(*args) -> subprocess.CompletedProcess:
    return subprocess.run(rdpbench_process("decode", *args), env=subprocess_env(), capture_output=True, text=True,
                          timeout=300)


def saved_run(image_folder, out, **settings) -> Path:
    settings.setdefault("seed", 7)
    chosen = RunSettings(dataset=str(image_folder), out=out, save_images=True, save_bitstreams=True,
                         device="cpu", **settings)
    return evaluate(chosen, progress=False)


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.mark.subprocess
def test_jpeg_run_keeps_images_and_bitstreams_that_decode_to_them(image_folder, tmp_path):
    folder = saved_run(image_folder, tmp_path, codec="jpeg", points=["30"])
    bitstream = folder / "bitstreams" / "30" / "img1.rdpb"
    saved = folder / "images" / "30" / "default" / "img1.png"
    images = pd.read_csv(folder / "images.csv").set_index("image")
    assert bitstream.stat().st_size == images.loc["img1", "bytes"]
    result = decode_in_a_fresh_process(bitstream, "--out", tmp_path / "decoded.png")
    assert result.returncode == 0, result.stderr
    assert np.array_equal(pixels(tmp_path / "decoded.png"), pixels(saved))


@pytest.mark.subprocess
def test_msh_bytes_decode_alike_in_a_fresh_process(image_folder, tmp_path, msh_weights):
    folder = saved_run(image_folder, tmp_path, codec="msh", points=["1"])
    for image in ("img0", "img1", "img2"):
        result = decode_in_a_fresh_process(folder / "bitstreams" / "1" / f"{image}.rdpb",
                                           "--out", tmp_path / f"{image}.png", "--device", "cpu")
        assert result.returncode == 0, result.stderr
        assert np.array_equal(pixels(tmp_path / f"{image}.png"), pixels(folder / "images" / "1" / "default" / f"{image}.png"))


@pytest.mark.subprocess
def test_ours_decodes_saved_msh_bytes_with_its_seeded_sampler(image_folder, tmp_path, msh_weights):
    from test_codec_ours import TINY  # a tiny decoder, trained for 3 steps

    from rdpbench.codecs import get_codec
    from rdpbench.diffusion import TrainingConfig, train

    msh = get_codec("msh")
    crops = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    checkpoint = tmp_path / "ours_q1.pt"
    train(lambda step: crops, lambda x: msh.latent(x, "1"), checkpoint, TINY,
          TrainingConfig(steps=3, lr=1e-2, rho=0.0, save_every=3, log_every=3),
          {"codec": "msh", "quality": "1"}, progress=False)
    folder = saved_run(image_folder, tmp_path / "out", codec="ours", points=["1"], samplers=["ddpm10"],
                       codec_options={"checkpoint": [str(checkpoint)]})
    bitstream = folder / "bitstreams" / "1" / "img2.rdpb"
    result = decode_in_a_fresh_process(bitstream, "--codec", "ours", "--sampler", "ddpm10", "--seed", 7,
                                       "--checkpoint", checkpoint, "--out", tmp_path / "ours.png", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert np.array_equal(pixels(tmp_path / "ours.png"), pixels(folder / "images" / "1" / "ddpm10" / "img2.png"))
    other_seed = decode_in_a_fresh_process(bitstream, "--codec", "ours", "--sampler", "ddpm10", "--seed", 8,
                                           "--checkpoint", checkpoint, "--out", tmp_path / "other.png", "--device", "cpu")
    assert other_seed.returncode == 0
    assert not np.array_equal(pixels(tmp_path / "other.png"), pixels(tmp_path / "ours.png"))

    fast = saved_run(image_folder, tmp_path / "bf16", codec="ours", points=["1"], samplers=["ddpm10"],
                     codec_options={"checkpoint": [str(checkpoint)], "precision": "bf16"})
    result = decode_in_a_fresh_process(fast / "bitstreams" / "1" / "img2.rdpb", "--codec", "ours", "--sampler", "ddpm10",
                                       "--seed", 7, "--checkpoint", checkpoint, "--precision", "bf16",
                                       "--out", tmp_path / "bf16.png", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert "--precision bf16 on the CPU" in result.stderr
    assert np.array_equal(pixels(tmp_path / "bf16.png"), pixels(fast / "images" / "1" / "ddpm10" / "img2.png"))


def test_saving_later_fills_in_the_missing_files_without_changing_rows(image_folder, tmp_path):
    plain = evaluate(RunSettings(codec="jpeg", points=["30"], dataset=str(image_folder), out=tmp_path), progress=False)
    rows_before = pd.read_csv(plain / "images.csv").drop(columns=["encode_s", "decode_s"])
    folder = saved_run(image_folder, tmp_path, codec="jpeg", points=["30"], seed=0)
    assert folder == plain
    assert len(list((folder / "images" / "30" / "default").glob("*.png"))) == 3
    rows_after = pd.read_csv(folder / "images.csv").drop(columns=["encode_s", "decode_s"])
    assert rows_after.equals(rows_before)


@pytest.mark.subprocess
def test_decoding_with_the_wrong_codec_is_a_clear_error(image_folder, tmp_path):
    folder = saved_run(image_folder, tmp_path, codec="jpeg", points=["30"])
    result = decode_in_a_fresh_process(folder / "bitstreams" / "30" / "img0.rdpb", "--codec", "webp",
                                       "--out", tmp_path / "x.png")
    assert result.returncode == 1 and "made by 'jpeg', not 'webp'" in result.stderr
    (tmp_path / "junk.rdpb").write_bytes(b"not a bitstream")
    result = decode_in_a_fresh_process(tmp_path / "junk.rdpb", "--out", tmp_path / "y.png")
    assert result.returncode == 1 and "Traceback" not in result.stderr


def test_decode_writes_only_a_png_into_an_existing_folder(image_folder, tmp_path):
    from rdpbench.errors import RdpbenchError
    from rdpbench.run.decode import decode_saved

    folder = saved_run(image_folder, tmp_path, codec="jpeg", points=["30"])
    bitstream = folder / "bitstreams" / "30" / "img0.rdpb"
    (tmp_path / "a-folder.png").mkdir()
    for out, reason in ((tmp_path / "x.jpg", "give a file name ending in .png"),
                        (tmp_path / "a-folder.png", "is a folder"),
                        (tmp_path / "missing" / "deeper" / "x.png", "does not exist; create it first")):
        with pytest.raises(RdpbenchError, match=reason):
            decode_saved(bitstream, out)
    assert not (tmp_path / "x.jpg").exists() and not (tmp_path / "missing").exists()
    assert decode_saved(bitstream, tmp_path / "x.PNG").codec == "jpeg"
