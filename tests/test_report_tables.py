"""Tables of ``rdpbench report``: every curve read at given rates (``--at-bpp``), checked
against scipy's pchip on the hand-made results of :mod:`results_factory`."""

from __future__ import annotations

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
