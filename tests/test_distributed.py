"""torchrun: 2 ranks on CPU (gloo) write what one process writes; a failing rank fails the
run, and a rerun completes."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from rdpbench.run import RunSettings, evaluate

from conftest import make_photo, subprocess_env

pytestmark = [pytest.mark.subprocess, pytest.mark.slow]

TIMES = ["encode_s", "decode_s"]


def torchrun(*args, **env) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "rdpbench", "run", *map(str, args), "--no-progress", "--device", "cpu"]
    return subprocess.run(command, env=subprocess_env(**env), capture_output=True, text=True, timeout=600)


def images_folder(tmp_path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    for index in range(3):
        Image.fromarray(make_photo(256, 256 + 64 * index, seed=index)).save(folder / f"im{index}.png")
    return folder


def without_times(path):
    return pd.read_csv(path, dtype={"quality": str}).drop(columns=TIMES)


def test_two_ranks_write_what_one_process_writes(tmp_path, metric_weights):
    images = images_folder(tmp_path)
    metrics = "psnr,fid,kid,kid_paired"
    result = torchrun("--codec", "jpeg", "--quality", "10", "50", "--dataset", images, "--out", tmp_path / "ranks",
                      "--metrics", metrics)
    assert result.returncode == 0, result.stderr[-3000:]
    alone = evaluate(RunSettings(codec="jpeg", points=["10", "50"], dataset=str(images), out=tmp_path / "alone",
                                 metrics=metrics), progress=False)
    together = tmp_path / "ranks" / "jpeg-images"
    pd.testing.assert_frame_equal(without_times(together / "images.csv"), without_times(alone / "images.csv"))
    pd.testing.assert_frame_equal(without_times(together / "points.csv"), without_times(alone / "points.csv"))
    assert json.loads((together / "run.json").read_text())["status"] == "complete"
    assert sorted(p.name for p in (tmp_path / "ranks").iterdir()) == [".jpeg-images.ranks", "jpeg-images"]


def test_a_failing_rank_fails_the_run_and_a_rerun_completes(tmp_path):
    images = images_folder(tmp_path)
    arguments = ["--codec", "plugin_codecs:FailingJpeg", "--quality", "30", "--dataset", images,
                 "--out", tmp_path / "out", "--name", "run"]
    failed = torchrun(*arguments, FAIL_HEIGHT="256")  # every image is 256 high: both ranks fail at once
    assert failed.returncode == 1
    assert "rank 0:" in failed.stderr and "rank 1:" in failed.stderr and "corrupt entropy-coder state" in failed.stderr
    assert json.loads((tmp_path / "out" / "run" / "run.json").read_text())["status"] == "failed"
    rerun = torchrun(*arguments)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert json.loads((tmp_path / "out" / "run" / "run.json").read_text())["status"] == "complete"
    assert len(pd.read_csv(tmp_path / "out" / "run" / "images.csv")) == 3


def test_a_rank_that_cannot_build_its_run_fails_every_rank_with_its_own_message(tmp_path):
    images = images_folder(tmp_path)
    failed = torchrun("--codec", "plugin_codecs:FailingOnSecondRank", "--quality", "30", "--dataset", images,
                      "--out", tmp_path / "out")
    assert failed.returncode == 1
    assert "error: rank 1: this rank cannot build its codec" in failed.stderr
    assert "Traceback" not in failed.stderr.split("error: rank 1")[0]  # no rank died on a traceback first
