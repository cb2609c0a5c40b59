"""`rdpbench report --html`: one self-contained page, opened in a real headless Chromium."""

import base64
import io
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from headless_browser import HeadlessBrowser
from conftest import invoke, make_image_folder, run_once
from rdpbench.html_report import page_data, script_json, write_html_report
from rdpbench.errors import RdpbenchError
from rdpbench.paths import RunFolder

RATE_POINTS = {"jpeg": ["10", "60"], "webp": ["20", "80"]}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """Runs of jpeg and webp with saved images in a folder whose name would end a <script>."""
    root = tmp_path_factory.mktemp("html")
    images = make_image_folder(root / "images", [(48, 80), (40, 40)])
    results = root / "res</script>&"
    runs = {codec: run_once(images, results, codec=codec, points=points, metrics="psnr", save_images=True)
            for codec, points in RATE_POINTS.items()}
    page, _ = write_html_report(results, root / "report.html")
    return {"results": results, "runs": runs, "images": images, "page": page}


@pytest.fixture(scope="module")
def browser(report, tmp_path_factory):
    browser = HeadlessBrowser(tmp_path_factory.mktemp("profile"))
    try:
        browser.open(report["page"])
        yield browser
    finally:
        browser.close()


def data_uri(path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def decoded(uri: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB"))


def select(browser, role: str, value: str) -> None:
    browser.evaluate(f"(() => {{ const s = document.querySelector('select[data-role=\"{role}\"]'); "
                     f"s.value = {json.dumps(value)}; s.dispatchEvent(new Event('change')); }})()")


def option_value(browser, role: str, text_start: str) -> str:
    return browser.evaluate(f"[...document.querySelector('select[data-role=\"{role}\"]').options]"
                            f".find(o => o.text.startsWith({json.dumps(text_start)})).value")


@pytest.mark.slow
def test_page_loads_from_file_without_errors_or_network_requests(report, browser):
    assert browser.console_errors == []
    page_url = report["page"].resolve().as_uri()
    assert [url for url in browser.requests if url != page_url and not url.startswith("data:")] == []
    assert browser.evaluate("document.querySelector('h1').textContent") == f"Results under {report['results'].name}"


@pytest.mark.slow
def test_curves_hold_the_runs_points_and_hover_names_them(report, browser):
    drawn = browser.evaluate("""[...document.querySelectorAll('circle[data-metric="psnr"]')].map(c => [
        document.querySelector(`[data-legend="${c.dataset.curve}"]`).textContent,
        c.dataset.point, Number(c.dataset.bpp), Number(c.dataset.value)])""")
    expected = []
    for codec, run in report["runs"].items():
        points = pd.read_csv(run / "points.csv", dtype={"quality": str}, float_precision="round_trip")
        expected += [[codec, row.quality, row.bpp, row.psnr] for row in points.itertuples()]
    assert sorted(drawn) == sorted(expected)
    tip = browser.evaluate("""(() => { const c = document.querySelector('circle[data-metric="psnr"]');
        const box = c.getBoundingClientRect();
        c.dispatchEvent(new MouseEvent('mousemove', {clientX: box.x, clientY: box.y, bubbles: true}));
        return [c.dataset.point, document.querySelector('.tip').textContent]; })()""")
    point, text = tip
    first = [row for row in expected if row[1] == point and row[0] in text][0]
    assert f"codec: {first[0]}" in text and f"rate point: {point}" in text
    assert f"bpp: {first[2]:.4g}" in text and f"PSNR (dB) ↑: {first[3]:.4g}" in text


@pytest.mark.slow
def test_legend_entries_hide_and_show_their_curve(browser):
    visible = """[...document.querySelectorAll('section [data-curve="0"]')].map(n => n.style.display !== 'none')"""
    others = """[...document.querySelectorAll('section [data-curve="1"]')].map(n => n.style.display !== 'none')"""
    assert browser.evaluate(visible) and all(browser.evaluate(visible))
    browser.evaluate("document.querySelector('[data-legend=\"0\"]').click()")
    assert not any(browser.evaluate(visible)) and all(browser.evaluate(others))
    browser.evaluate("document.querySelector('[data-legend=\"0\"]').click()")
    assert all(browser.evaluate(visible))


@pytest.mark.slow
def test_viewer_shows_the_chosen_reconstructions_at_matched_rates_and_the_original(report, browser):
    select(browser, "image", "img1")
    select(browser, "left", option_value(browser, "left", "jpeg · 60 ·"))
    left = browser.evaluate("document.querySelector('img[data-role=\"left\"]').src")
    assert left == data_uri(RunFolder(report["runs"]["jpeg"]).image("60", "default", "img1"))
    # the right side keeps webp and moves to its rate point nearest jpeg's for this image
    rows = {codec: pd.read_csv(run / "images.csv", dtype={"quality": str}).query("image == 'img1'")
            for codec, run in report["runs"].items()}
    target = rows["jpeg"].set_index("quality").bpp["60"]
    nearest = rows["webp"].loc[(rows["webp"].bpp - target).abs().idxmin()].quality
    right = browser.evaluate("document.querySelector('img[data-role=\"right\"]').src")
    assert right == data_uri(RunFolder(report["runs"]["webp"]).image(nearest, "default", "img1"))
    select(browser, "right", "original")
    original = browser.evaluate("document.querySelector('img[data-role=\"right\"]').src")
    assert np.array_equal(decoded(original), np.asarray(Image.open(report["images"] / "img1.png")))


@pytest.mark.slow
def test_viewer_zooms_both_sides_together_and_splits(browser):
    transforms = "[...document.querySelectorAll('.pane img')].map(i => i.style.transform)"
    before = browser.evaluate(transforms)
    browser.evaluate("""document.querySelector('.pane').dispatchEvent(new WheelEvent('wheel',
        {deltaY: -200, clientX: 50, clientY: 50, bubbles: true, cancelable: true}))""")
    after = browser.evaluate(transforms)
    assert after != before and len(set(after)) == 1
    select(browser, "mode", "split")
    browser.evaluate("""(() => { const s = document.querySelector('input[data-role="split"]');
        s.value = 30; s.dispatchEvent(new Event('input')); })()""")
    assert browser.evaluate("getComputedStyle(document.querySelectorAll('.pane')[1]).display") == "none"
    assert browser.evaluate("document.querySelector('.overlay').style.clipPath") == "inset(0px 0px 0px 30%)"
    assert browser.console_errors == []


def test_script_json_cannot_end_its_script_element():
    payload = {"name": "</script><script>alert(1)</script><!-- & -->"}
    text = script_json(payload)
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == payload


def test_viewer_limits_and_names_its_images(report):
    data, notes = page_data(report["results"], None, 1, None, "psnr", "fid", True)
    assert [image["name"] for image in data["sets"][0]["viewer"]["images"]] == ["img0"]
    assert any("1 of 2 images" in note for note in notes)
    data, notes = page_data(report["results"], None, 1, ["img1", "nope"], "psnr", "fid", True)
    viewer = data["sets"][0]["viewer"]
    assert [image["name"] for image in viewer["images"]] == ["img1"]
    saved = sum(len(RATE_POINTS[codec]) for codec in RATE_POINTS)
    assert len(viewer["recons"]) == saved and len(viewer["uris"]) == saved + 1  # and the original
    assert [note for note in notes if note.endswith("no saved reconstruction of nope")] != []
    with pytest.raises(RdpbenchError, match="--html-images -1"):
        page_data(report["results"], None, -1, None, "psnr", "fid", True)


def test_compressai_json_results_alone_make_a_page_without_a_viewer(tmp_path):
    from rdpbench.results import to_compressai_json, write_json

    points = pd.DataFrame({"codec": "x", "quality": ["1", "2"], "sampler": "default", "bpp": [0.1, 0.2],
                           "psnr": [30.0, 32.0]})
    write_json(to_compressai_json(points, "x", "test", {}), tmp_path / "x.json")
    data, _ = page_data(tmp_path, None, 4, None, "psnr", "fid", False)
    assert [point["value"] for point in data["sets"][0]["rd"][0]["points"]] == [30.0, 32.0]
    assert data["sets"][0]["viewer"]["images"] == []


def test_cli_writes_the_page_and_states_its_size(report):
    result = invoke("report", report["results"], "--html", "--html-images", "0")
    assert result.exit_code == 0, result.output
    page = report["results"] / "report.html"
    size = page.stat().st_size / 1e6
    assert f"wrote {page} ({size:.2f} MB)" in result.output
    assert "data:image/png" not in page.read_text()
    assert (report["results"] / "report.md").is_file()


@pytest.mark.slow
def test_distortion_perception_view_and_published_curves_dashed(tmp_path, monkeypatch):
    from results_factory import make_results

    from rdpbench.plots import dp_points
    from rdpbench.results import collect_points

    results = make_results(tmp_path / "results")
    published = pd.DataFrame({"codec": "msh", "label": "msh (paper)", "quality": ["1", "2"], "bpp": [0.15, 0.3],
                              "psnr": [28.0, 30.0]})
    monkeypatch.setattr("rdpbench.codecs.cards.published_beside", lambda points: published)
    page, _ = write_html_report(results, tmp_path / "report.html")
    browser = HeadlessBrowser(tmp_path / "profile")
    try:
        browser.open(page)
        assert browser.console_errors == []
        dp = browser.evaluate("""[...document.querySelectorAll('circle[data-x]')].map(c =>
            [Number(c.dataset.bpp), Number(c.dataset.x), Number(c.dataset.y)])""")
        expected = dp_points(collect_points(results), "psnr", "fid").pivot_table(
            index=["panel", "codec", "sampler", "bpp"], columns="metric", values="value").reset_index()
        assert sorted(dp) == sorted(map(list, zip(expected.bpp, expected.psnr, expected.fid)))
        legend = browser.evaluate("[...document.querySelectorAll('[data-legend]')].map(b => b.textContent)")
        number = legend.index("msh (paper) (published)")
        style = browser.evaluate(f"""(() => {{ const s = document.querySelectorAll('[data-curve="{number}"]');
            return [[...s].filter(n => n.tagName === 'circle').map(c => [c.getAttribute('fill'), Number(c.dataset.bpp),
                     Number(c.dataset.value)]), [...s].filter(n => n.tagName === 'polyline')
                     .map(p => p.getAttribute('stroke-dasharray'))]; }})()""")
        circles, dashes = style
        assert sorted(circles) == [["white", 0.15, 28.0], ["white", 0.3, 30.0]]
        assert dashes and all(dashes)  # dashed, like the published curves of the figures
        measured = browser.evaluate("""[...document.querySelectorAll('polyline[data-curve="0"]')]
            .map(p => p.getAttribute('stroke-dasharray'))""")
        assert measured and not any(measured)
    finally:
        browser.close()
