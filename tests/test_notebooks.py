"""Every notebook runs top to bottom on a small generated results folder."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import pandas as pd

from rdpbench.run import RunSettings, evaluate
from results_factory import make_results

pytestmark = [pytest.mark.subprocess, pytest.mark.slow]

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes(path, tmp_path, monkeypatch, image_folder):
    results = make_results(tmp_path / "results")
    saved = evaluate(RunSettings(codec="jpeg", points=["30"], dataset=str(image_folder), out=results,
                                 save_images=True), progress=False)
    monkeypatch.setenv("RDPBENCH_RESULTS", str(results))
    monkeypatch.setenv("RDPBENCH_DATASET", "kodak")
    monkeypatch.setenv("RDPBENCH_B", "ours@ddpm100")
    monkeypatch.setenv("RDPBENCH_IMAGE", "img1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = "".join(
        output.get("text", "") + str(output.get("data", {}).get("text/plain", ""))
        for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    )
    assert "image sets: images (1 rate points), kodak (12 rate points)" in outputs  # the selector's choices
    assert "kodak: 12 rate points of 4 curves, anchor msh" in outputs
    row = pd.read_csv(saved / "images.csv").set_index("image").loc["img1"]
    assert f"original | jpeg: {row.bpp:.3f} bpp, {row.psnr:.2f} dB" in outputs  # the Fig. 2 view
    assert "B = ('ours', 'ddpm100') minus A = ('msh', 'default')" in outputs
    assert "mean_difference" in outputs
    errors = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs
              if o.output_type == "error"]
    assert not errors
    # Fig. 3, the distortion-perception view and Fig. 2 show as pictures, even under Agg
    drawing = [cell for cell in notebook.cells if cell.cell_type == "code" and any(
        f"{function}(" in cell.source for function in ("plot_rd_grid", "plot_distortion_perception", "plot_comparison"))]
    assert len(drawing) == 3
    assert all(any("image/png" in output.get("data", {}) for output in cell.outputs) for cell in drawing)
