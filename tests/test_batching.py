"""Decode batch sizes: the memory rule, and a run's answer to running out of GPU memory."""

import pandas as pd
import pytest

from rdpbench.batching import HEADROOM, MAX_AUTO_BATCH, DecodeBatching, batch_size_for_memory
from rdpbench.errors import RdpbenchError, RunFailedError
from rdpbench.run import RunSettings, evaluate, execute, make_plan

from conftest import make_photo


def test_batch_size_for_memory_fills_the_headroom_and_keeps_bounds():
    gib = 2**30
    assert batch_size_for_memory(1 * gib, 10 * gib) == int(HEADROOM * 10)
    assert batch_size_for_memory(3 * gib, 2 * gib) == 1  # never below one
    assert batch_size_for_memory(1, 100 * gib, cap=16) == 16
    assert batch_size_for_memory(0, 1) == 16


def test_cpu_decodes_one_at_a_time_unless_asked():
    assert DecodeBatching(None, "cpu").size() == 1
    assert DecodeBatching(6, "cpu").size() == 6
    assert DecodeBatching(None, "cpu").describe() == "auto (1)"


def test_on_cuda_a_codec_that_decodes_one_image_at_a_time_is_given_one_at_a_time():
    """A batch holds its originals and reconstructions in memory: no point holding 16 large
    images for a codec that decodes them one by one anyway."""
    assert DecodeBatching(None, "cuda", batched=False).size() == 1
    assert DecodeBatching(None, "cuda", batched=False).most() == 1
    assert DecodeBatching(None, "cuda").most() == MAX_AUTO_BATCH
    assert DecodeBatching(3, "cuda").most() == 3
    assert DecodeBatching(None, "cpu").most() == 1


def test_a_batch_size_below_one_is_refused_before_any_work(image_folder, tmp_path):
    with pytest.raises(RdpbenchError, match="--batch-size: batch size must be at least 1"):
        make_plan(RunSettings(codec="jpeg", dataset=str(image_folder), out=tmp_path / "out", batch_size=0))


@pytest.fixture
def same_size_set(tmp_path):
    from PIL import Image

    folder = tmp_path / "set"
    folder.mkdir()
    for index in range(5):
        Image.fromarray(make_photo(40, 56, seed=index)).save(folder / f"im{index}.png")
    return folder


def _settings(folder, out, **options):
    return RunSettings(codec="plugin_codecs:MemoryHungryJpeg", points=["50"], dataset=str(folder), out=out, **options)


def test_an_automatic_batch_that_runs_out_of_memory_is_halved(same_size_set, tmp_path, monkeypatch):
    log = tmp_path / "batches.log"
    monkeypatch.setenv("BATCH_LOG", str(log))
    monkeypatch.setenv("MAX_BATCH", "2")
    plan = make_plan(_settings(same_size_set, tmp_path / "auto"))
    plan.batching.shrink(4)  # as if the memory measured on CUDA had allowed four
    folder = execute(plan, progress=False)
    assert [int(n) for n in log.read_text().split()] == [4, 2, 2, 1]  # 4 fails, its halves pass; then the fifth
    reference = evaluate(_settings(same_size_set, tmp_path / "one", batch_size=1), progress=False)
    timing = ["encode_s", "decode_s"]
    pd.testing.assert_frame_equal(pd.read_csv(folder / "images.csv").drop(columns=timing),
                                  pd.read_csv(reference / "images.csv").drop(columns=timing))


def test_a_requested_batch_that_runs_out_of_memory_says_what_to_do(same_size_set, tmp_path, monkeypatch):
    monkeypatch.setenv("BATCH_LOG", str(tmp_path / "batches.log"))
    monkeypatch.setenv("MAX_BATCH", "2")
    with pytest.raises(RunFailedError, match="lower --batch-size"):
        evaluate(_settings(same_size_set, tmp_path / "asked", batch_size=4), progress=False)
