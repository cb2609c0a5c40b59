"""`rdpbench show`: the paper's Fig. 2 from saved reconstructions."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

from rdpbench.cli import app
from rdpbench.errors import RdpbenchError
from rdpbench.run import RunSettings, evaluate
from rdpbench.show import comparison_panels, parse_crop, plot_comparison


def run(image_folder, out, codec, points, save_images=True):
    settings = RunSettings(codec=codec, points=points, dataset=str(image_folder), out=out, metrics="psnr",
                           save_images=save_images)
    return evaluate(settings, progress=False)


def test_one_panel_per_codec_and_sampler_plus_the_original_with_measured_captions(image_folder, tmp_path):
    jpeg = run(image_folder, tmp_path, "jpeg", ["10", "60"])
    run(image_folder, tmp_path, "webp", ["20", "80"])
    panels, notes = comparison_panels(tmp_path, "img0", bpp=100.0)  # nearest the highest rates
    assert [panel.caption.splitlines()[0] for panel in panels] == ["original", "jpeg", "webp"]
    row = pd.read_csv(jpeg / "images.csv", dtype={"quality": str}).set_index(["quality", "image"]).loc[("60", "img0")]
    assert panels[1].caption.splitlines()[1] == f"{row.bpp:.3f} bpp, {row.psnr:.2f} dB"
    saved = np.asarray(Image.open(jpeg / "images" / "60" / "default" / "img0.png"))
    assert np.array_equal(panels[1].pixels, saved)
    assert np.array_equal(panels[0].pixels, np.asarray(Image.open(image_folder / "img0.png")))
    figure = plot_comparison(panels, (10, 5, 20, 20))
    shown = [axis for axis in figure.axes if axis.get_xlabel()]
    assert [axis.get_xlabel() for axis in shown] == [panel.caption for panel in panels]


def test_lowest_rate_by_default_and_a_run_without_saved_images_is_named(image_folder, tmp_path):
    run(image_folder, tmp_path, "jpeg", ["10", "60"])
    run(image_folder, tmp_path, "webp", ["20"], save_images=False)
    panels, notes = comparison_panels(tmp_path, "img1")
    jpeg_rows = pd.read_csv(tmp_path / "jpeg-images" / "images.csv", dtype={"quality": str})
    lowest = jpeg_rows[jpeg_rows.image == "img1"].bpp.min()
    assert panels[1].caption.endswith(f"{lowest:.3f} bpp, " + panels[1].caption.split(", ")[-1])
    assert len(panels) == 2 and "webp-images measured img1 but kept no reconstruction" in notes[0]
    assert "--save-images" in notes[0]


def test_without_any_saved_images_it_says_which_run_to_redo(image_folder, tmp_path):
    run(image_folder, tmp_path, "jpeg", ["10"], save_images=False)
    result = CliRunner().invoke(app, ["show", str(tmp_path), "--image", "img0"])
    assert result.exit_code == 1
    assert "no run under" in result.output and "redo it with --save-images" in result.output


def test_cli_writes_png_and_pdf_and_refuses_a_crop_outside(image_folder, tmp_path):
    run(image_folder, tmp_path, "jpeg", ["30"])
    result = CliRunner().invoke(app, ["show", str(tmp_path), "--image", "img0", "--crop", "0,0,16,16"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "fig2-img0.png").stat().st_size > 1000 and (tmp_path / "fig2-img0.pdf").is_file()
    result = CliRunner().invoke(app, ["show", str(tmp_path), "--image", "img0", "--crop", "70,0,16,16"])
    assert result.exit_code == 1 and "reaches outside the 80x48 image" in result.output
    with pytest.raises(RdpbenchError, match="x,y,w,h"):
        parse_crop("1,2,3")


@pytest.mark.parametrize("bpp", ["nan", "inf", "-inf", "0", "-0.5"])
def test_a_bpp_that_is_not_a_positive_rate_is_refused_in_one_line(image_folder, tmp_path, bpp):
    run(image_folder, tmp_path, "jpeg", ["30"])
    result = CliRunner().invoke(app, ["show", str(tmp_path), "--image", "img0", "--bpp", bpp])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    [message] = result.output.strip().splitlines()
    assert message.startswith("error: ") and "bpp" in message
    assert not list(tmp_path.glob("fig2-*"))
