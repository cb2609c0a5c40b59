"""Weight files: damaged files are named with a way to replace them; verify and import check
hashes and say what is missing."""

import hashlib
import shutil

import numpy as np
import pytest
import scipy.io
import torch
from rdpbench import weights
from rdpbench.run import RunSettings, evaluate
from rdpbench.weights import DamagedWeightsError, WeightFile, weight_files

from conftest import invoke

MSH_Q1 = "mbt2018-mean-1-e522738d.pth.tar"


def run_msh(image_folder, tmp_path):
    settings = RunSettings(codec="msh", points=["1"], dataset=str(image_folder), out=tmp_path / "out")
    return evaluate(settings, progress=False)


@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage"])
def test_a_damaged_codec_checkpoint_is_named_with_how_to_get_it_again(image_folder, tmp_path, msh_weights, damage):
    data = msh_weights.read_bytes()
    msh_weights.write_bytes({"truncated": data[: len(data) // 2], "empty": b"", "garbage": b"\x80\x04junk" * 99}[damage])
    with pytest.raises(DamagedWeightsError) as raised:
        run_msh(image_folder, tmp_path)
    message = str(raised.value)
    assert str(msh_weights) in message and "is damaged" in message
    assert f"rdpbench weights download {MSH_Q1}" in message and "weights import" in message
    assert "weights_only" not in message
    assert not (tmp_path / "out" / "msh-images" / "images.csv").exists()


def test_cli_reports_a_damaged_checkpoint_without_a_traceback(image_folder, tmp_path, msh_weights):
    msh_weights.write_bytes(msh_weights.read_bytes()[:1000])
    result = invoke("run", "--codec", "msh", "--quality", "1", "--dataset", str(image_folder),
                    "--out", str(tmp_path / "out"), "--no-progress")
    assert result.exit_code == 1
    assert "is damaged" in result.output and "Traceback" not in result.output
    assert "weights_only" not in result.output


def test_a_damaged_file_read_by_a_third_party_loader_is_named(image_folder, tmp_path, metric_weights_home, monkeypatch):
    """torchvision (through lpips) loads AlexNet itself; its unpickling error becomes ours."""
    home = tmp_path / "torch_home"
    shutil.copytree(metric_weights_home, home)
    alexnet = home / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth"
    alexnet.write_bytes(alexnet.read_bytes()[:4096])
    monkeypatch.setenv("TORCH_HOME", str(home))
    settings = RunSettings(codec="jpeg", points=["10"], dataset=str(image_folder), out=tmp_path / "out",
                           metrics="lpips")
    with pytest.raises(DamagedWeightsError, match="alexnet-owt-7be5be79.pth is damaged"):
        evaluate(settings, progress=False)


def test_a_loader_failure_on_intact_files_is_not_blamed_on_them(tmp_path, monkeypatch):
    good = tmp_path / "good.pth"
    torch.save({"weight": torch.zeros(2)}, good)
    monkeypatch.setattr(WeightFile, "path", property(lambda self: good))
    with pytest.raises(KeyError, match="a real bug"):
        with weights.loading([WeightFile("good.pth", "https://example.org/good.pth", "checkpoints", "test")]):
            raise KeyError("a real bug")


def test_verify_of_an_empty_cache_lists_every_missing_file_and_fails(torch_home):
    result = invoke("weights", "verify")
    assert result.exit_code == 1
    for file in weight_files().values():
        if not file.package:
            assert f"missing  {file.file_name}" in result.output
    assert "rdpbench weights download" in result.output


def test_verify_flags_a_file_that_is_not_upstreams(torch_home):
    target = weight_files()[MSH_Q1].path
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not the published checkpoint")
    result = invoke("weights", "verify", MSH_Q1)
    assert result.exit_code == 1
    assert f"MISMATCH {MSH_Q1}" in result.output


def test_import_refuses_a_file_whose_hash_differs_and_leaves_it_where_it_was(tmp_path, torch_home):
    source = tmp_path / "usb"
    source.mkdir()
    (source / MSH_Q1).write_bytes(b"a truncated download")
    result = invoke("weights", "import", str(source))
    assert result.exit_code == 1
    assert f"{source / MSH_Q1}: sha256" in result.output and "not imported" in result.output
    assert (source / MSH_Q1).read_bytes() == b"a truncated download"
    assert not weight_files()[MSH_Q1].path.exists()


def test_import_copies_files_whose_hash_matches_and_files_without_a_published_hash(tmp_path, torch_home, monkeypatch):
    content = b"the published checkpoint"
    known = weight_files()[MSH_Q1]
    monkeypatch.setitem(weight_files(), MSH_Q1, WeightFile(
        known.file_name, known.url, known.folder, known.used_by, sha256=hashlib.sha256(content).hexdigest()))
    source = tmp_path / "usb"
    source.mkdir()
    (source / MSH_Q1).write_bytes(content)
    scipy.io.savemat(source / "niqe_modelparameters.mat", {"mu_prisparam": np.zeros((1, 36))})
    result = invoke("weights", "import", str(source))
    assert result.exit_code == 0, result.output
    assert weight_files()[MSH_Q1].path.read_bytes() == content
    assert weight_files()["niqe_modelparameters.mat"].path.is_file()
    assert f"ok       {MSH_Q1}" in invoke("weights", "verify", MSH_Q1).output


def test_import_and_verify_refuse_an_unreadable_file_that_has_no_published_hash(tmp_path, torch_home):
    source = tmp_path / "usb"
    source.mkdir()
    (source / "niqe_modelparameters.mat").write_bytes(b"")
    result = invoke("weights", "import", str(source))
    assert result.exit_code == 1 and "the file is empty; not imported" in result.output
    target = weight_files()["niqe_modelparameters.mat"].path
    target.parent.mkdir(parents=True)
    target.write_bytes(b"MATLAB 5.0 MAT-file, cut")
    result = invoke("weights", "verify", "niqe_modelparameters.mat")
    assert result.exit_code == 1 and "DAMAGED  niqe_modelparameters.mat" in result.output


def test_a_refused_download_says_where_else_to_look(torch_home, monkeypatch):
    import urllib.error

    from rdpbench.errors import MissingWeightsError
    from rdpbench.weights import cdc_weight_file, download

    def refuse(url, destination, progress=True):
        open(destination, "wb").write(b"half")  # a partial file is left behind, then removed
        raise urllib.error.HTTPError(url, 403, "Forbidden", None, None)

    monkeypatch.setattr("torch.hub.download_url_to_file", refuse)
    file = cdc_weight_file("cdc-eps-rho0.9", "2")
    assert file.file_name == "big-l1-vimeo-d64-t20000-b0.2048-vbrFalse-noise-linear-aux0.9lpips_0.pt"
    with pytest.raises(MissingWeightsError) as raised:
        download(file)
    message = str(raised.value)
    assert "403" in message and "huggingface.co/rhyang/CDC_params" in message and "weights import" in message
    assert not list(file.path.parent.glob("*.partial")) and not file.path.exists()


def test_import_and_verify_read_a_file_that_would_run_code_without_running_it(tmp_path, torch_home):
    from conftest import CallOnLoad

    marker, folder = tmp_path / "MARKER", tmp_path / "incoming"
    folder.mkdir()
    torch.save({"model_state_dict": {}, "args": {"name": CallOnLoad(open, str(marker), "w")}}, folder / "hific_low.pt")
    assert invoke("weights", "import", str(folder)).exit_code == 0
    invoke("weights", "verify", "hific_low.pt")
    assert weight_files()["hific_low.pt"].path.is_file() and not marker.exists()


def test_a_metric_file_that_would_run_code_is_refused_though_its_library_asks_for_full_unpickling(
        image_folder, tmp_path, torch_home):
    """torchvision (through lpips) loads AlexNet with weights_only=False; it is not obeyed."""
    import torchvision
    from conftest import CallOnLoad

    marker = tmp_path / "MARKER"
    alexnet = weight_files()["alexnet-owt-7be5be79.pth"].path
    alexnet.parent.mkdir(parents=True)
    torch.save({**torchvision.models.alexnet().state_dict(), "note": CallOnLoad(open, str(marker), "w")}, alexnet)
    settings = RunSettings(codec="jpeg", points=["10"], dataset=str(image_folder), out=tmp_path / "out",
                           metrics="lpips")
    with pytest.raises(weights.UnsafeCheckpointError, match="alexnet-owt-7be5be79.pth refers to io.open,"):
        evaluate(settings, progress=False)
    assert not marker.exists()
