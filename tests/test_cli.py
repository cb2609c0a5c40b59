"""The command line: messages and exit codes. Heavy work stays small (3 tiny images)."""

import json

import pandas as pd
from rdpbench.cli import expand_multi_value_options

from conftest import invoke


def test_quality_takes_several_values_after_one_flag():
    assert expand_multi_value_options(["run", "--quality", "10", "50", "--dataset", "x"]) == [
        "run", "--quality", "10", "--quality", "50", "--dataset", "x"]
    assert expand_multi_value_options(["-q", "1,2", "-s", "a"]) == ["-q", "1", "-q", "2", "-s", "a"]


def test_run_writes_results(image_folder, tmp_path):
    result = invoke("run", "--codec", "jpeg", "--quality", "10", "50", "--dataset",
                    str(image_folder), "--out", str(tmp_path), "--no-progress")
    assert result.exit_code == 0, result.output
    points = pd.read_csv(tmp_path / "jpeg-images" / "points.csv", dtype={"quality": str})
    assert list(points.quality) == ["10", "50"]


def test_unknown_codec_exits_1_listing_codecs_without_traceback(image_folder, tmp_path):
    result = invoke("run", "--codec", "jpg", "--dataset", str(image_folder), "--out", str(tmp_path))
    assert result.exit_code == 1
    assert "unknown codec 'jpg'" in result.output and "jpeg" in result.output
    assert "Traceback" not in result.output


def test_unknown_metric_and_dataset_exit_1(image_folder, tmp_path):
    result = invoke("run", "--codec", "jpeg", "--metrics", "psnr,ssimm", "--dataset",
                    str(image_folder), "--out", str(tmp_path))
    assert result.exit_code == 1 and "valid metrics" in result.output
    result = invoke("run", "--codec", "jpeg", "--dataset", "no-such-folder", "--out", str(tmp_path))
    assert result.exit_code == 1 and "kodak, sample" in result.output


def test_corrupt_image_exits_1_naming_it(image_folder, tmp_path):
    (image_folder / "bad.png").write_bytes(b"nope")
    result = invoke("run", "--codec", "jpeg", "--dataset", str(image_folder), "--out", str(tmp_path))
    assert result.exit_code == 1 and "bad.png" in result.output


def test_missing_weights_exit_1_with_the_download_command(image_folder, tmp_path, torch_home):
    result = invoke("run", "--codec", "msh", "-q", "3", "--dataset", str(image_folder),
                    "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "rdpbench weights download mbt2018-mean-3-723404a8.pth.tar" in result.output
    assert not (tmp_path / "out").exists()


def test_list_commands_show_registry_contents():
    assert "msh" in invoke("list", "codecs").output
    assert "higher is better" in invoke("list", "metrics").output
    assert "kodak" in invoke("list", "datasets").output


def test_help_explains_the_run_options():
    result = invoke("run", "--help")
    assert result.exit_code == 0
    for option in ("--codec", "--quality", "--sampler", "--dataset", "--metrics", "--out",
                   "--device", "--seed", "--limit", "--name"):
        assert option in result.output


def test_weights_download_offline_says_how_to_import(torch_home, monkeypatch):
    import torch

    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    result = invoke("weights", "download", "mbt2018-mean-1-e522738d.pth.tar")
    assert result.exit_code == 1 and "weights import" in result.output


def test_unknown_patch_protocol_lists_the_valid_ones(image_folder, tmp_path):
    result = invoke("run", "--codec", "jpeg", "--metrics", "fid", "--patches", "shifted",
                    "--dataset", str(image_folder), "--out", str(tmp_path))
    assert result.exit_code == 1 and "grid, hific" in result.output


def test_train_then_run_ours_end_to_end(image_folder, tmp_path, msh_weights):
    checkpoint = tmp_path / "ours_q1.pt"
    result = invoke("train", "--quality", "1", "--out", str(checkpoint), "--data", str(image_folder),
                    "--size", "tiny", "--steps", "4", "--crop", "64", "--rho", "0", "--log-every", "2",
                    "--device", "cpu", "--no-progress")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "ours_q1.log.csv").read_text().startswith("step,eps,vb,loss")
    result = invoke("run", "--codec", "ours", "-q", "1", "--sampler", "ddim10", "msh", "--checkpoint",
                    str(checkpoint), "--dataset", str(image_folder), "--out", str(tmp_path / "out"),
                    "--device", "cpu", "--no-progress", "--eta", "0.5")
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "out" / "ours-ddim10-msh-images" / "run.json").read_text())
    assert manifest["codec"]["ddim_eta"] == 0.5
    points = pd.read_csv(tmp_path / "out" / "ours-ddim10-msh-images" / "points.csv", dtype={"quality": str})
    assert list(points.sampler) == ["ddim10", "msh"]
    assert points.bpp.nunique() == 1


def test_train_resumes_only_with_the_checkpoints_settings_naming_each_that_differs(image_folder, tmp_path,
                                                                                   msh_weights):
    checkpoint = tmp_path / "ours_q1.pt"
    common = ["train", "--quality", "1", "--out", str(checkpoint), "--data", str(image_folder), "--crop", "64",
              "--rho", "0", "--device", "cpu", "--no-progress"]
    assert invoke(*common, "--size", "tiny", "--steps", "2").exit_code == 0
    written = checkpoint.read_bytes()
    result = invoke(*common, "--size", "small", "--loss", "paper", "--lr", "1e-4", "--steps", "4")
    assert result.exit_code == 1
    for difference in ("size: tiny in the checkpoint, small given", "loss: authors in the checkpoint, paper given",
                       "lr: 5e-05 in the checkpoint, 0.0001 given"):
        assert difference in result.output
    named = [line.split(":")[0].strip() for line in result.output.splitlines() if " in the checkpoint, " in line]
    assert "steps" not in named
    assert checkpoint.read_bytes() == written
    result = invoke(*common, "--size", "tiny", "--steps", "3", "--save-every", "1", "--log-every", "1")
    assert result.exit_code == 0 and "at step 3" in result.output


def test_train_rejects_a_crop_that_is_not_a_multiple_of_64(tmp_path, msh_weights):
    result = invoke("train", "--quality", "1", "--out", str(tmp_path / "x.pt"), "--crop", "100")
    assert result.exit_code == 1 and "multiple of 64" in result.output


def test_folder_codec_without_its_path_says_how_to_name_it(image_folder, tmp_path):
    result = invoke("run", "--codec", "folder", "--dataset", str(image_folder), "--out", str(tmp_path))
    assert result.exit_code == 1 and "codec folder needs an argument: folder:PATH" in result.output


def test_a_value_option_given_no_value_is_refused():
    import pytest

    with pytest.raises(ValueError, match="--quality needs at least one value"):
        expand_multi_value_options(["run", "--codec", "jpeg", "--quality", "--dataset", "x"])
    assert expand_multi_value_options(["-q", "-5"]) == ["-q", "-5"]  # a value, for the codec to judge


def test_sampler_section_counts_stay_one_sampler():
    assert expand_multi_value_options(["-s", "ddpm10,10,10,ddim10"]) == ["-s", "ddpm10,10,10", "-s", "ddim10"]


def test_plot_and_report_into_a_file_fail_cleanly(tmp_path):
    from results_factory import make_results

    results = make_results(tmp_path / "results")
    (tmp_path / "taken").write_text("a file")
    for command in (["plot", str(results), "--out", str(tmp_path / "taken" / "fig")],
                    ["report", str(results), "--out", str(tmp_path / "taken")]):
        result = invoke(*command)
        assert result.exit_code == 1 and "cannot write" in result.output
        assert "Traceback" not in result.output
    result = invoke("plot", str(tmp_path / "nowhere"))
    assert result.exit_code == 1 and "is not a folder" in result.output
