"""Any pyiqa metric by name: how names and options are read, kind and direction from pyiqa's
table, values equal to pyiqa called directly, weight files named before any work, seeding."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from rdpbench.errors import MissingWeightsError, RdpbenchError, UnknownNameError
from rdpbench.metrics import FULL_REFERENCE, NO_REFERENCE, get_metric, higher_is_better, parse_metric_names

from conftest import invoke, photo_tensor, run_once, subprocess_env

SSIM_RGB = "pyiqa:ssim(downsample=true,test_y_channel=false)"


def noisy(image: torch.Tensor, sigma: float, seed: int = 1) -> torch.Tensor:
    noise = torch.randn(image.shape, generator=torch.Generator().manual_seed(seed)) * sigma
    return (image.float() + noise).round().clamp(0, 255).to(torch.uint8)


def pyiqa_direct(name: str, reconstruction: torch.Tensor, reference: torch.Tensor | None = None, **options) -> float:
    """pyiqa's own metric, built and called as its README shows."""
    import pyiqa

    model = pyiqa.create_metric(name, device="cpu", **options)
    arguments = [reconstruction[None] / 255.0] + ([reference[None] / 255.0] if reference is not None else [])
    with torch.no_grad():
        return model(*arguments).item()


# -- names and options -----------------------------------------------------------------
def test_options_are_read_as_booleans_numbers_or_strings_and_never_run():
    metric = get_metric("pyiqa:cw_ssim( test_y_channel=FALSE, level=3, guardb = 0.5, color_space='a,b' )")
    assert metric.options == {"test_y_channel": False, "level": 3, "guardb": 0.5, "color_space": "a,b"}
    assert metric.name == "pyiqa:cw_ssim(color_space='a,b',guardb=0.5,level=3,test_y_channel=false)"
    assert get_metric("pyiqa:ssim(color_space=yiq)").options == {"color_space": "yiq"}
    assert get_metric("pyiqa:ssim(color_space='1')").name == "pyiqa:ssim(color_space='1')"  # a string, not 1
    for broken in ["pyiqa:ssim(test_y_channel)", "pyiqa:ssim(a=1,a=2)", "pyiqa:ssim(a=)",
                   "pyiqa:ssim(a=__import__('os').system('x'))", "pyiqa:ssim(a=1"]:
        with pytest.raises(RdpbenchError):
            get_metric(broken)


def test_metric_lists_keep_commas_inside_parentheses_and_count_spellings_once():
    names = parse_metric_names("psnr,pyiqa:ssim(test_y_channel=false, downsample=True),"
                               "pyiqa:ssim(downsample=true,test_y_channel=False),lpips")
    assert names == ["psnr", SSIM_RGB, "lpips"]
    with pytest.raises(RdpbenchError, match="unbalanced"):
        parse_metric_names("psnr,pyiqa:ssim(downsample=true")
    with pytest.raises(RdpbenchError, match="pyiqa:NAME"):
        parse_metric_names("pyiqa")


def test_an_unknown_pyiqa_name_lists_the_closest_names():
    with pytest.raises(UnknownNameError) as error:
        get_metric("pyiqa:topiq_n")
    message = str(error.value)
    assert "'topiq_n'" in message and "topiq_nr" in message and "pyiqa.list_models()" in message


def test_an_option_the_network_does_not_take_is_refused_naming_those_it_takes():
    with pytest.raises(RdpbenchError, match="takes no option colour.*test_y_channel"):
        get_metric("pyiqa:ssim(colour=1)").weight_files()


def test_folder_metrics_of_pyiqa_are_refused():
    with pytest.raises(RdpbenchError, match="folders"):
        get_metric("pyiqa:fid")


@pytest.mark.parametrize("name, kind, higher", [
    ("pyiqa:gmsd", FULL_REFERENCE, False), ("pyiqa:ssim", FULL_REFERENCE, True),
    ("pyiqa:niqe", NO_REFERENCE, False), ("pyiqa:topiq_nr", NO_REFERENCE, True),
])
def test_kind_and_direction_come_from_pyiqas_table(name, kind, higher):
    metric = get_metric(name)
    assert (metric.kind, metric.higher_is_better, higher_is_better(name)) == (kind, higher, higher)


def test_weight_files_are_read_from_the_networks_own_url_table():
    from pyiqa.archs import topiq_arch, wadiqam_arch

    [file] = get_metric("pyiqa:topiq_fr").weight_files()
    assert file.url == topiq_arch.default_model_urls["cfanet_fr_kadid_res50"]
    assert file.file_name == "cfanet_fr_kadid_res50-2c4cc61d.pth" and file.folder == "pyiqa"
    [file] = get_metric("pyiqa:wadiqam_nr").weight_files()
    assert file.url == wadiqam_arch.default_model_urls["wadiqam_nr_koniq"]
    assert get_metric("pyiqa:wadiqam_nr(pretrained=false)").weight_files() == []
    assert get_metric("pyiqa:ms_ssim").weight_files() == []


# -- values ------------------------------------------------------------------------------
def test_options_reach_pyiqa_and_give_its_value():
    reference = photo_tensor(384, 400, seed=4)  # 384 pixels and more: `downsample` halves the images
    decoded = noisy(reference, 12)
    value = get_metric(SSIM_RGB)
    value.prepare()
    expected = pyiqa_direct("ssim", decoded, reference, test_y_channel=False, downsample=True)
    assert value.score(reference, decoded) == pytest.approx(expected, rel=1e-9)
    assert expected != pytest.approx(pyiqa_direct("ssim", decoded, reference), rel=1e-4)  # the options matter


def test_a_weighted_metric_equals_pyiqa_loading_the_same_file_itself(metric_weights):
    image = photo_tensor(96, 128, seed=5)
    metric = get_metric("pyiqa:wadiqam_nr")
    metric.prepare()
    [file] = metric.weight_files()
    expected = pyiqa_direct("wadiqam_nr", image, pretrained_model_path=str(file.path))
    assert metric.score(photo_tensor(96, 128, seed=6), image) == pytest.approx(expected, rel=1e-6)


def test_a_run_through_the_command_line_scores_and_records_a_metric_with_options(image_folder, tmp_path):
    decoded = tmp_path / "decoded"
    decoded.mkdir()
    for path in sorted(image_folder.glob("*.png")):
        pixels = torch.from_numpy(np.asarray(Image.open(path)).copy()).permute(2, 0, 1)
        Image.fromarray(noisy(pixels, 10).permute(1, 2, 0).numpy()).save(decoded / path.name)
    result = invoke("run", "--codec", f"folder:{decoded}", "--quality", "1", "--dataset", image_folder,
                    "--out", tmp_path / "out", "--device", "cpu", "--no-progress",
                    "--metrics", "psnr,pyiqa:ssim(test_y_channel=false,downsample=true)")
    assert result.exit_code == 0, result.output
    [folder] = (tmp_path / "out").iterdir()
    images = pd.read_csv(folder / "images.csv").set_index("image")
    for path in sorted(image_folder.glob("*.png")):
        reference = torch.from_numpy(np.asarray(Image.open(path)).copy()).permute(2, 0, 1)
        reconstruction = torch.from_numpy(np.asarray(Image.open(decoded / path.name)).copy()).permute(2, 0, 1)
        expected = pyiqa_direct("ssim", reconstruction, reference, test_y_channel=False, downsample=True)
        assert images.loc[path.stem, SSIM_RGB] == pytest.approx(expected, rel=1e-9)
    manifest = json.loads((folder / "run.json").read_text())
    from importlib.metadata import version

    variant = manifest["metric_protocol"]["variants"][SSIM_RGB]
    assert variant["implementation"] == f"pyiqa {version('pyiqa')}"
    assert variant["options"] == {"type": "SSIM", "downsample": True, "test_y_channel": False}
    assert SSIM_RGB in pd.read_csv(folder / "points.csv")


def test_a_missing_file_of_a_metric_named_by_name_stops_the_run_before_any_work(image_folder, tmp_path, torch_home):
    with pytest.raises(MissingWeightsError) as error:
        run_once(image_folder, tmp_path / "out", codec="jpeg", metrics="psnr,pyiqa:wadiqam_nr")
    message = str(error.value)
    assert "WaDIQaM-NR-koniq-aaffea29.pth" in message and str(Path("hub") / "pyiqa") in message
    assert "for pyiqa:wadiqam_nr" in message
    assert not (tmp_path / "out").exists()


def test_weights_commands_take_the_metrics_of_a_run(torch_home):
    listed = invoke("weights", "list", "--metrics", "psnr,pyiqa:wadiqam_nr")
    assert listed.exit_code == 0, listed.output
    assert listed.output.splitlines() == [
        f"missing  WaDIQaM-NR-koniq-aaffea29.pth (size unknown, for pyiqa:wadiqam_nr) -> "
        f"{torch_home / 'hub' / 'pyiqa' / 'WaDIQaM-NR-koniq-aaffea29.pth'}"]
    verified = invoke("weights", "verify", "--metrics", "pyiqa:wadiqam_nr")
    assert verified.exit_code == 1 and "missing  WaDIQaM-NR-koniq-aaffea29.pth" in verified.output
    unknown = invoke("weights", "list", "--metrics", "pyiqa:wadiqam")
    assert unknown.exit_code == 1 and "wadiqam_nr" in unknown.output


def test_metric_listing_says_how_to_reach_every_pyiqa_metric():
    result = invoke("list", "metrics")
    assert result.exit_code == 0
    rows = {line.split()[0]: line for line in result.output.splitlines()}
    assert {"dists", "ms_ssim", "ms_ssim_db", "ssim"} <= set(rows)
    assert "pyiqa.list_models()" in rows["pyiqa:NAME(OPTIONS)"]


# -- seeding -----------------------------------------------------------------------------
SCORE_IN_ORDER = textwrap.dedent(
    """
    import json, sys
    from conftest import photo_tensor
    from rdpbench.metrics import get_metric

    metric = get_metric("pyiqa:wadiqam_nr")
    metric.prepare()
    # in training mode WaDIQaM scores 32 random patches and applies dropout
    metric.model.net.train()
    images = {seed: photo_tensor(64, 64, int(seed)) for seed in sys.argv[1:]}
    print(json.dumps({seed: metric.score(image, image) for seed, image in images.items()}))
    """
)


@pytest.mark.subprocess
def test_a_metric_that_draws_random_crops_scores_alike_in_any_process_and_order(metric_weights_home):
    """pyiqa 0.1.16 crops uniformly in evaluation mode, so the metric is put in training
    mode, where it draws random patches (as MANIQA and TReS do): two processes scoring the
    images in opposite orders must agree, which only seeding per image gives."""

    def scores(*order):
        result = subprocess.run([sys.executable, "-c", SCORE_IN_ORDER, *order], capture_output=True, text=True,
                                env=subprocess_env(TORCH_HOME=metric_weights_home), cwd=Path(__file__).parents[1],
                                timeout=300)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout.splitlines()[-1])

    forwards, backwards = scores("0", "1"), scores("1", "0")
    assert forwards == backwards
    assert forwards["0"] != forwards["1"]


def test_seeding_leaves_the_global_random_generators_as_they_were():
    import random

    from rdpbench.metrics.pyiqa_metrics import seeded_by

    image = photo_tensor(16, 16, seed=7)
    torch.manual_seed(1), np.random.seed(1), random.seed(1)
    expected = (torch.rand(1).item(), np.random.rand(), random.random())
    torch.manual_seed(1), np.random.seed(1), random.seed(1)
    with seeded_by(image, torch.device("cpu")):
        inside = (torch.rand(1).item(), np.random.rand(), random.random())
    assert (torch.rand(1).item(), np.random.rand(), random.random()) == expected
    with seeded_by(image, torch.device("cpu")):
        assert (torch.rand(1).item(), np.random.rand(), random.random()) == inside
