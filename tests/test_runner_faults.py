"""Runs that fail or are stopped say so in run.json, keep what they finished, and resume to
exactly what an uninterrupted run writes."""

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

from rdpbench.cli import app, expand_multi_value_options
from rdpbench.errors import RunFailedError
from rdpbench.metrics.psnr import PSNR
from rdpbench.run import RunSettings, evaluate

from conftest import subprocess_env

TIMES = ["encode_s", "decode_s"]


def settings(image_folder, out, **overrides):
    chosen = RunSettings(codec="jpeg", points=["10", "50"], dataset=str(image_folder), out=out, name="run")
    for key, value in overrides.items():
        setattr(chosen, key, value)
    return chosen


def manifest(folder: Path) -> dict:
    return json.loads((folder / "run.json").read_text())


def test_a_decoder_error_marks_the_run_failed_with_the_image_and_keeps_earlier_rows(
    image_folder, tmp_path, monkeypatch
):
    monkeypatch.setenv("FAIL_HEIGHT", "70")  # img1 is 70x52
    with pytest.raises(RunFailedError, match="quality 10, image img1: ValueError: corrupt entropy-coder state"):
        evaluate(settings(image_folder, tmp_path, codec="plugin_codecs:FailingJpeg"), progress=False)
    recorded = manifest(tmp_path / "run")
    assert recorded["status"] == "failed"
    assert (recorded["error"]["image"], recorded["error"]["quality"]) == ("img1", "10")
    assert recorded["error"]["type"] == "ValueError"
    assert "decode_payload" in recorded["error"]["traceback"]
    kept = pd.read_csv(tmp_path / "run" / "images.csv")
    assert list(kept.image) == ["img0"]

    monkeypatch.delenv("FAIL_HEIGHT")
    evaluate(settings(image_folder, tmp_path, codec="plugin_codecs:FailingJpeg"), progress=False)
    recorded = manifest(tmp_path / "run")
    assert recorded["status"] == "complete" and "error" not in recorded
    assert len(pd.read_csv(tmp_path / "run" / "images.csv")) == 6


def test_a_metric_that_raises_fails_the_run_naming_image_and_point(image_folder, tmp_path, monkeypatch):
    original = PSNR.score

    def score(self, reference, reconstruction):
        if reference.shape[1] == 40:  # img2
            raise RuntimeError("metric exploded")
        return original(self, reference, reconstruction)

    monkeypatch.setattr(PSNR, "score", score)
    result = CliRunner().invoke(app, expand_multi_value_options(
        ["run", "--codec", "jpeg", "--quality", "10", "--dataset", str(image_folder), "--out", str(tmp_path),
         "--name", "run", "--no-progress"]))
    assert result.exit_code == 1
    assert "image img2: RuntimeError: metric exploded" in result.output
    assert "rerunning the same command resumes" in result.output
    assert "Traceback" not in result.output
    assert manifest(tmp_path / "run")["status"] == "failed"


def run_command(image_folder, out):
    return [sys.executable, "-m", "rdpbench", "run", "--codec", "plugin_codecs:SlowJpeg",
            "--quality", "30", "60", "--dataset", str(image_folder), "--out", str(out),
            "--name", "slow", "--no-progress", "--device", "cpu"]


@pytest.fixture
def six_images(image_folder):
    for index in range(3, 6):
        Image.open(image_folder / f"img{index % 3}.png").transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(
            image_folder / f"img{index}.png")
    return image_folder


def comparable(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """images.csv and points.csv without the timing columns, in a fixed order."""
    tables = []
    for name, key in (("images.csv", ["quality", "image"]), ("points.csv", ["quality"])):
        frame = pd.read_csv(folder / name, dtype={"quality": str})
        tables.append(frame.drop(columns=TIMES).sort_values(key).reset_index(drop=True))
    return tables[0], tables[1]


def wait_for_rows(images_csv: Path, n_rows: int, process: subprocess.Popen) -> None:
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if images_csv.exists() and len(pd.read_csv(images_csv)) >= n_rows:
            return
        time.sleep(0.02)
    raise AssertionError(f"no {n_rows} rows in {images_csv} in time")


@pytest.mark.subprocess
def test_sigterm_and_sigkill_at_any_moment_then_resume_give_the_uninterrupted_results(six_images, tmp_path):
    env = subprocess_env(SLOW_SECONDS="0.15")
    reference = tmp_path / "reference"
    subprocess.run(run_command(six_images, reference), env=env, check=True, timeout=300,
                   capture_output=True)
    expected = comparable(reference / "slow")

    # mid-run (after 2 rows), then at a random moment from start-up onwards, for each signal
    rounds = [(kill_signal, moment) for kill_signal in (signal.SIGTERM, signal.SIGKILL)
              for moment in (None, random.Random(kill_signal).uniform(0.0, 4.0))]
    for number, (kill_signal, moment) in enumerate(rounds):
        out = tmp_path / f"round{number}"
        run_json = out / "slow" / "run.json"
        process = subprocess.Popen(run_command(six_images, out), env=env, stderr=subprocess.PIPE, text=True)
        if moment is None:
            wait_for_rows(out / "slow" / "images.csv", 2, process)
        else:
            time.sleep(moment)
        process.send_signal(kill_signal)
        stderr = process.communicate(timeout=120)[1]
        status = manifest(out / "slow")["status"] if run_json.exists() else None
        if process.returncode == 0:
            assert status == "complete"
        elif kill_signal == signal.SIGKILL:
            assert process.returncode == -signal.SIGKILL
            assert status in (None, "running", "complete")  # a killed process writes nothing more
        elif process.returncode == 143:
            assert "stopped by SIGTERM; rerun the same command to resume" in stderr
            assert status in ("interrupted", "complete")
            if status == "interrupted":
                assert manifest(out / "slow")["interrupted_by"] == "SIGTERM"
        else:  # before the run installed its handler, or after it finished: Python's default
            assert process.returncode == -signal.SIGTERM and status in (None, "complete")
        if moment is None:
            assert status == ("interrupted" if kill_signal == signal.SIGTERM else "running")
        resumed = subprocess.run(run_command(six_images, out), env=env, capture_output=True, text=True,
                                 timeout=300)
        assert resumed.returncode == 0, resumed.stderr
        if status == "running":
            assert "stopped without recording why" in resumed.stderr
        assert manifest(out / "slow")["status"] == "complete"
        images, points = comparable(out / "slow")
        pd.testing.assert_frame_equal(images, expected[0])
        pd.testing.assert_frame_equal(points, expected[1])
