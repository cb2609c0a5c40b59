"""The memory available, and the preflight's estimate of what each image of a run needs."""

import json
import math

import pytest

from rdpbench import memory
from rdpbench.errors import RdpbenchError
from rdpbench.memory import AvailableMemory, available_memory
from rdpbench.run import RunSettings, evaluate, preflight

from conftest import invoke


def _fake_proc(tmp_path, meminfo_kb: int, cgroup_limit: str | None = None, cgroup_used: int = 0):
    proc = tmp_path / "proc"
    (proc / "self").mkdir(parents=True)
    (proc / "meminfo").write_text(f"MemTotal: 99999999 kB\nMemAvailable: {meminfo_kb} kB\n")
    (proc / "self" / "cgroup").write_text("0::/job/42\n")
    group = tmp_path / "cgroup" / "job" / "42"
    group.mkdir(parents=True)
    if cgroup_limit is not None:
        (group / "memory.max").write_text(f"{cgroup_limit}\n")
        (group / "memory.current").write_text(f"{cgroup_used}\n")
    return proc, tmp_path / "cgroup"


def test_available_memory_is_memavailable_lowered_to_the_cgroups_headroom(tmp_path, monkeypatch):
    proc, cgroup = _fake_proc(tmp_path, meminfo_kb=2_000_000, cgroup_limit="1500000000", cgroup_used=500_000_000)
    monkeypatch.setattr(memory, "PROC", proc)
    monkeypatch.setattr(memory, "CGROUP_ROOT", cgroup)
    assert available_memory().bytes == 1_000_000_000
    (cgroup / "job" / "42" / "memory.max").write_text("max\n")
    assert available_memory() == AvailableMemory(2_000_000 * 1024, "MemAvailable in /proc/meminfo")


def test_without_proc_memory_comes_from_psutil_or_is_unknown(tmp_path, monkeypatch):
    import sys
    from types import SimpleNamespace

    monkeypatch.setattr(memory, "PROC", tmp_path / "absent")
    fake = SimpleNamespace(virtual_memory=lambda: SimpleNamespace(available=12345))
    monkeypatch.setitem(sys.modules, "psutil", fake)
    assert available_memory().bytes == 12345
    monkeypatch.setitem(sys.modules, "psutil", None)  # not installed
    assert available_memory().bytes is None


def _settings(folder, out, **overrides):
    return RunSettings(codec="jpeg", points=["50"], dataset=str(folder), out=out, metrics="psnr", device="cpu",
                       **overrides)


def _available(monkeypatch, count):
    monkeypatch.setattr(preflight, "available_memory", lambda: AvailableMemory(count, "a test reading"))


def test_images_that_will_not_fit_are_named_with_size_and_estimate_before_any_work(image_folder, tmp_path,
                                                                                    monkeypatch):
    """The model for jpeg + psnr on the CPU, no weights: 3 bytes a pixel for each of the
    original and its reconstruction, plus the largest stage, jpeg's 10 (reading the file takes
    8, psnr none), so 16 bytes a pixel: 61 440 for img0 (48x80), 58 240 for img1 (70x52),
    25 600 for img2 (40x40)."""
    _available(monkeypatch, 30_000)
    decoded = []
    monkeypatch.setattr("rdpbench.datasets.dataset.load_image", lambda path: decoded.append(path))
    with pytest.raises(RdpbenchError) as error:
        evaluate(_settings(image_folder, tmp_path / "out"), progress=False)
    message = str(error.value)
    assert message.startswith("2 image(s) may not fit in memory")
    assert ("img0: 80x48 pixels need about 61.4 kB on cpu (jpeg: 38.4 kB), "
            "30.0 kB available (a test reading)") in message
    assert "img1: 52x70 pixels need about 58.2 kB" in message
    assert "img2" not in message and "--ignore-memory-check" in message
    assert decoded == [] and not (tmp_path / "out").exists()


def test_ignore_memory_check_goes_on_and_records_the_images_in_the_notes(image_folder, tmp_path, monkeypatch):
    _available(monkeypatch, 30_000)
    folder = evaluate(_settings(image_folder, tmp_path / "out", check_memory=False), progress=False)
    notes = json.loads((folder / "run.json").read_text())["notes"]
    [note] = [note for note in notes if note.startswith("--ignore-memory-check")]
    assert "img0: 80x48" in note and "img1: 52x70" in note


def test_the_command_line_refuses_in_one_line_or_goes_on_when_told(image_folder, tmp_path, monkeypatch):
    _available(monkeypatch, 30_000)
    common = ["run", "--codec", "jpeg", "--quality", "50", "--dataset", image_folder, "--device", "cpu",
              "--no-progress"]
    refused = invoke(*common, "--out", tmp_path / "refused")
    assert refused.exit_code == 1 and "img0: 80x48 pixels need about" in refused.output
    assert "Traceback" not in refused.output
    accepted = invoke(*common, "--out", tmp_path / "accepted", "--ignore-memory-check")
    assert accepted.exit_code == 0, accepted.output


def test_unknown_memory_is_a_note_not_a_refusal(image_folder, tmp_path, monkeypatch):
    _available(monkeypatch, None)
    folder = evaluate(_settings(image_folder, tmp_path / "out"), progress=False)
    notes = json.loads((folder / "run.json").read_text())["notes"]
    assert "memory not checked: a test reading" in notes


def test_musiqs_need_grows_with_the_square_of_its_tokens():
    """200 bytes a pixel plus 48 per pair of tokens: one per 32x32 patch (rounded up), 49 and
    144 for the resized copies, one class token."""
    from rdpbench.metrics import get_metric

    musiq = get_metric("musiq")
    for height, width in [(64, 96), (1365, 2048), (6000, 6000)]:
        tokens = 1 + 49 + 144 + math.ceil(height / 32) * math.ceil(width / 32)
        assert musiq.memory_need(height, width) == 200 * height * width + 48 * tokens**2
    assert musiq.memory_need(6000, 6000) > 60e9


def test_the_preflight_decodes_each_image_once_after_checking_memory(image_folder, tmp_path, monkeypatch):
    from rdpbench.datasets import dataset
    from rdpbench.run import make_plan

    events = []
    monkeypatch.setattr(preflight, "check_memory", lambda plan, sizes: events.append(("memory", sorted(sizes))) or [])
    real_load = dataset.load_image
    monkeypatch.setattr(dataset, "load_image", lambda path: events.append(("decode", path.stem)) or real_load(path))
    preflight.preflight(make_plan(_settings(image_folder, tmp_path / "out")))
    assert events == [("memory", ["img0", "img1", "img2"]), ("decode", "img0"), ("decode", "img1"), ("decode", "img2")]
