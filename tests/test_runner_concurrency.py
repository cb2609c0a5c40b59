"""One writer per run folder: concurrent runs into one folder lose nothing."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from rdpbench.cli import app, expand_multi_value_options
from rdpbench.schema import KEY_COLUMNS

from conftest import subprocess_env

pytestmark = pytest.mark.subprocess

ENV = subprocess_env()


def rdpbench_command(image_folder, out, *qualities, extra=(), codec="jpeg"):
    return [sys.executable, "-m", "rdpbench", "run", "--codec", codec, "--quality", *qualities,
            "--dataset", str(image_folder), "--out", str(out), "--no-progress", "--device", "cpu", *extra]


def test_concurrent_runs_into_one_folder_keep_every_row_exactly_once(image_folder, tmp_path):
    out = tmp_path / "results"
    point_sets = [("10", "30"), ("20", "40"), ("10", "20"), ("30", "50", "40")]
    slow = {**ENV, "SLOW_SECONDS": "0.2"}  # long enough for the runs to overlap
    processes = [subprocess.Popen(rdpbench_command(image_folder, out, *points, codec="plugin_codecs:SlowJpeg"),
                                  env=slow, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for points in point_sets]
    outputs = [process.communicate(timeout=600)[0] for process in processes]
    assert [process.returncode for process in processes] == [0] * 4, outputs
    images = pd.read_csv(out / "slow-jpeg-images" / "images.csv", dtype={"quality": str})
    assert not images.duplicated(KEY_COLUMNS).any()
    expected = {(quality, image) for points in point_sets for quality in points for image in ("img0", "img1", "img2")}
    assert set(zip(images.quality, images.image)) == expected
    points = pd.read_csv(out / "slow-jpeg-images" / "points.csv", dtype={"quality": str})
    assert sorted(points.quality) == ["10", "20", "30", "40", "50"]
    assert (points.n_images == 3).all()


def hold_lock(folder: Path, seconds: float) -> subprocess.Popen:
    """Another process that holds the run folder's lock for ``seconds``."""
    script = (f"import time; from rdpbench.lock import FolderLock\n"
              f"with FolderLock({str(folder)!r}, ['rdpbench', 'run', '--codec', 'other']):\n"
              f"    print('locked', flush=True); time.sleep({seconds})")
    process = subprocess.Popen([sys.executable, "-c", script], env=ENV, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "locked"
    return process


def test_no_wait_refuses_while_another_process_writes_the_folder(image_folder, tmp_path):
    holder = hold_lock(tmp_path / "results" / "jpeg-images", 60)
    try:
        result = CliRunner().invoke(app, expand_multi_value_options(
            ["run", "--codec", "jpeg", "--quality", "10", "--dataset", str(image_folder),
             "--out", str(tmp_path / "results"), "--no-progress", "--no-wait"]))
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 1
    assert f"pid {holder.pid}" in result.output and "--codec other" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "results" / "jpeg-images" / "images.csv").exists()


def test_a_second_run_waits_until_the_folder_is_free_then_completes(image_folder, tmp_path):
    holder = hold_lock(tmp_path / "results" / "jpeg-images", 600)
    process = subprocess.Popen(rdpbench_command(image_folder, tmp_path / "results", "10"), env=ENV,
                               stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    first_line = process.stderr.readline()
    assert f"pid {holder.pid}" in first_line and "waiting for it to finish" in first_line
    assert process.poll() is None  # still waiting
    holder.kill()  # the lock dies with its holder
    holder.wait()
    assert process.wait(timeout=300) == 0, process.stderr.read()
    assert len(pd.read_csv(tmp_path / "results" / "jpeg-images" / "images.csv")) == 3


def test_a_killed_writer_never_blocks_the_next_run(image_folder, tmp_path):
    holder = hold_lock(tmp_path / "results" / "jpeg-images", 600)
    holder.kill()
    holder.wait()
    result = subprocess.run(rdpbench_command(image_folder, tmp_path / "results", "10", extra=["--no-wait"]),
                            env=ENV, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
