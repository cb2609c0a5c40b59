"""Tables of ``rdpbench report``: every curve read at given rates (``--at-bpp``), checked
against scipy's pchip on the hand-made results of :mod:`results_factory`."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from scipy.interpolate import PchipInterpolator

from conftest import invoke
from results_factory import ANCHOR, ANCHOR_BPP, make_results
from rdpbench.errors import RdpbenchError
from rdpbench.tables import metric_at_rate, write_at_rate_tables


def pchip_at(rates: list[float], values: list[float], rate: float) -> float:
    return float(PchipInterpolator(np.log(rates), values)(np.log(rate)))


@pytest.fixture
def results(tmp_path):
    return make_results(tmp_path / "results")


def test_at_bpp_values_equal_pchip_over_log_rate(results):
    write_at_rate_tables(results, [0.15, 0.3])
    table = pd.read_csv(results / "report_at_bpp.csv", keep_default_na=False, na_values=[""])
    msh = table[table.codec == "msh"].set_index("bpp")
    for rate in (0.15, 0.3):
        for metric in ("psnr", "lpips", "fid", "nlpd"):
            assert msh.loc[rate, metric] == pytest.approx(pchip_at(ANCHOR_BPP, ANCHOR[metric], rate), abs=1e-9)
    # ours@ddim10 has msh's values at 80 % of its rates
    ddim = table[(table.codec == "ours") & (table.sampler == "ddim10")].set_index("bpp")
    assert ddim.loc[0.15, "psnr"] == pytest.approx(pchip_at([0.8 * r for r in ANCHOR_BPP], ANCHOR["psnr"], 0.15),
                                                   abs=1e-9)
    assert set(table.dataset) == {"kodak"}


def test_a_rate_outside_a_curve_leaves_its_cells_empty_with_a_note(results):
    write_at_rate_tables(results, [0.15, 0.3])
    table = pd.read_csv(results / "report_at_bpp.csv", keep_default_na=False, na_values=[""])
    jpeg = table[table.codec == "jpeg"].set_index("bpp")  # measured from 0.2 to 0.8 bpp
    assert jpeg.loc[0.15, ["psnr", "lpips", "fid"]].isna().all()
    assert jpeg.loc[0.15, "note"] == "outside the measured rates 0.2-0.8 bpp"
    assert jpeg.loc[0.3, "psnr"] == pytest.approx(pchip_at([0.2, 0.4, 0.8], ANCHOR["psnr"], 0.3), abs=1e-9)
    markdown = (results / "report_at_bpp.md").read_text()
    assert "### at 0.15 bpp" in markdown and "psnr ↑" in markdown and "lpips ↓" in markdown


def test_measured_rates_are_read_exactly_and_ends_are_inside():
    bpp, values = np.array([0.4, 0.1, 0.2]), np.array([31.0, 27.0, 29.0])
    assert metric_at_rate(bpp, values, 0.1) == (27.0, "")
    assert metric_at_rate(bpp, values, 0.4)[0] == pytest.approx(31.0, abs=1e-12)
    assert np.isnan(metric_at_rate(bpp, values, 0.41)[0])
    assert metric_at_rate(np.array([0.1, 0.1]), np.array([1.0, 2.0]), 0.1)[1] == "repeated rates"


def test_cli_report_at_bpp_writes_both_files_and_refuses_a_rate_of_zero(results):
    result = invoke("report", results, "--at-bpp", "0.15", "0.3")
    assert result.exit_code == 0, result.output
    assert "report_at_bpp.md" in result.output and "report_at_bpp.csv" in result.output
    with pytest.raises(RdpbenchError, match="above 0"):
        write_at_rate_tables(results, [0.0])


# --- LaTeX ---------------------------------------------------------------------------------


def tabulars(text: str) -> list[list[list[str]]]:
    """Each tabular of ``text`` as rows of cells (header first), rules left out."""
    found = []
    for block in text.split(r"\begin{tabular}")[1:]:
        body = block.split(r"\end{tabular}")[0]
        lines = [line for line in body.splitlines()[1:] if line.endswith(r"\\")]
        found.append([[cell.strip() for cell in line[:-2].split(" & ")] for line in lines])
    return found


def test_latex_tables_are_booktabs_with_arrows_and_one_bold_best_per_metric(results):
    result = invoke("report", results, "--at-bpp", "0.15")
    assert result.exit_code == 0, result.output
    report, at_rate = (results / "report.tex").read_text(), (results / "report_at_bpp.tex").read_text()
    for text in (report, at_rate):
        assert text.count(r"\toprule") == text.count(r"\midrule") == text.count(r"\bottomrule") \
            == text.count(r"\begin{tabular}")
        for rows in tabulars(text):
            assert all(len(row) == len(rows[0]) for row in rows)
    points, bd = tabulars(report)
    assert r"psnr $\uparrow$" in points[0] and r"lpips $\downarrow$" in points[0] and r"n\_images" in points[0]
    assert not any(r"\textbf" in cell for row in points for cell in row)
    # BD-rates against msh: ours@ddim10 needs 20 % fewer bits for every metric (the factory's design)
    header, *rows = bd
    assert [row[0] for row in rows] == ["jpeg", "ours@ddim10", "ours@ddpm100"]
    for column in range(1, len(header)):
        bold = [row[0] for row in rows if row[column].startswith(r"\textbf")]
        assert bold == ["ours@ddim10"]
        assert float(rows[1][column][len(r"\textbf{"):-1]) == pytest.approx(-20, abs=0.01)
    [at] = tabulars(at_rate)
    header, *rows = at
    for column in range(1, len(header)):
        assert sum(row[column].startswith(r"\textbf") for row in rows) == 1
    jpeg = next(row for row in rows if row[0] == "jpeg")
    assert set(jpeg[1:]) == {"--"}  # 0.15 bpp is below jpeg's measured rates


def test_latex_escapes_special_characters():
    from rdpbench.latex import escape, tabular

    assert escape("a_b 50% #1 & $x$ {y} ~^\\") == \
        r"a\_b 50\% \#1 \& \$x\$ \{y\} \textasciitilde{}\textasciicircum{}\textbackslash{}"
    frame = pd.DataFrame({"curve": ["my_codec", "x&y"], "psnr": [30.0, float("nan")]})
    [rows] = tabulars(tabular(frame, ["curve", "psnr"], {"psnr": True}))
    assert rows[1] == [r"my\_codec", r"\textbf{30}"] and rows[2] == [r"x\&y", "--"]


@pytest.mark.skipif(not (shutil.which("pdflatex") or shutil.which("lualatex")),
                    reason="no TeX engine to compile the tables (apt-get install texlive-latex-base "
                    "texlive-latex-recommended); their structure is checked by the tests above")
def test_latex_tables_compile_with_booktabs(results, tmp_path):
    from rdpbench.latex import write_latex_tables

    write_latex_tables(results, tmp_path, rates=[0.15])
    (tmp_path / "doc.tex").write_text("\\documentclass{article}\\usepackage{booktabs}\\begin{document}\n"
                                      "\\input{report.tex}\n\\input{report_at_bpp.tex}\n\\end{document}\n")
    engine = shutil.which("pdflatex") or shutil.which("lualatex")
    done = subprocess.run([engine, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]
