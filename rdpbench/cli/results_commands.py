"""Commands that read results: ``plot``, ``show``, ``report``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .app import app
from ..html_report import DEFAULT_VIEWER_IMAGES
from .handling import echo_written, handled, require_folder, say


def split_names(text: str | None) -> list[str] | None:
    """``"psnr, lpips"`` -> ["psnr", "lpips"]; None stays None."""
    return None if text is None else [name.strip() for name in text.split(",") if name.strip()]


@app.command()
@handled(os_error="cannot write the figures: {error}")
def plot(
    folder: Annotated[Path, typer.Argument(help="Folder of runs (and CompressAI JSON files).")] = Path("results"),
    out: Annotated[
        Optional[Path],
        typer.Option(help="Output file stem; STEM-DATASET.png/.pdf/.csv are written (default FOLDER/fig3)."),
    ] = None,
    dataset: Annotated[
        Optional[str], typer.Option(help="Draw only this image set: its name, or its label from the written file names.")
    ] = None,
    published: Annotated[
        bool, typer.Option(help="Draw the codec cards' published curves of the codecs in the results.")
    ] = True,
    published_also: Annotated[
        Optional[str], typer.Option(help="Comma-separated codecs whose published curves are drawn too, e.g. "
                                    "hific,msillm (see `rdpbench list codecs`).")
    ] = None,
    distortion: Annotated[str, typer.Option(help="x axis of the distortion-perception view.")] = "psnr",
    perception: Annotated[str, typer.Option(help="y axis of the distortion-perception view.")] = "fid",
    ci: Annotated[
        bool, typer.Option("--ci", help="Draw 95% per-image bootstrap bands around each per-image metric's mean.")
    ] = False,
    metrics: Annotated[
        Optional[str], typer.Option(help="Comma-separated metrics, one panel each in this order (default: the "
                                    "paper's eight when the results hold no others, else every metric measured).")
    ] = None,
    width: Annotated[
        str, typer.Option(help="Figure width: a two-column paper's 'page' (7.16 in, four panels a row) or "
                          "'column' (3.5 in, two a row).")
    ] = "page",
    cost: Annotated[
        Optional[str], typer.Option(help="Instead: draw --metric against this cost (decode_s, encode_s, "
                                    "dec_kmac_per_px, ...) with every curve read at --at-bpp.")
    ] = None,
    at_bpp: Annotated[Optional[float], typer.Option(help="The rate of the --cost figure, in bpp.")] = None,
    metric: Annotated[str, typer.Option(help="y axis of the --cost figure.")] = "fid",
) -> None:
    """Draw the rate-distortion grid (the paper's Fig. 3: 2x4 metrics against bpp, or one panel
    per metric measured) and the distortion-perception view, one figure set per image set, each
    with a CSV of the points it draws."""
    from ..plots import draw_results

    require_folder(folder)
    if cost:
        echo_written(_cost_figure(folder, out, cost, at_bpp, metric))
        return
    written, notes = draw_results(folder, out=out, dataset=dataset, published=published, distortion=distortion,
                                  perception=perception, ci=ci, metrics=split_names(metrics), width=width,
                                  published_also=split_names(published_also) or [])
    say(notes)
    echo_written(written)


def _cost_figure(folder: Path, out: Path | None, cost: str, rate: float | None, metric: str) -> list[Path]:
    from ..errors import RdpbenchError
    from ..plots import cost_points, plot_cost_at_rate, save_figure
    from ..tables import results_by_dataset

    if rate is None or not rate > 0:
        raise RdpbenchError("--cost needs --at-bpp RATE, a rate above 0 at which every curve is read")
    written = []
    for dataset, points in results_by_dataset(folder):
        drawn = cost_points(points, cost, metric, rate)
        stem = out or folder / f"cost-{cost}-{metric}-at{rate:g}bpp"
        stem = Path(f"{stem}-{dataset.replace('/', '_').replace(' ', '_')}")
        written += save_figure(plot_cost_at_rate(drawn, cost, metric, rate), stem, drawn)
    return written


@app.command()
@handled(os_error="cannot write the figure: {error}")
def show(
    folder: Annotated[Path, typer.Argument(help="Folder of runs made with --save-images.")] = Path("results"),
    image: Annotated[str, typer.Option(help="The image to show, by name (e.g. kodim23).")] = ...,
    crop: Annotated[Optional[str], typer.Option(help="Zoomed region x,y,w,h in pixels (default: a centred square).")] = None,
    bpp: Annotated[
        Optional[float], typer.Option(help="Show each curve's rate point nearest this bpp (default: its lowest).")
    ] = None,
    out: Annotated[Optional[Path], typer.Option(help="Output file stem (default FOLDER/fig2-IMAGE).")] = None,
    metrics: Annotated[
        str, typer.Option(help="Comma-separated metrics each caption gives beside bpp, where measured.")
    ] = "psnr,lpips",
) -> None:
    """The paper's Fig. 2: an image as each codec and sampler decoded it at about the same rate,
    with a zoomed crop and the measured bpp and metrics (PSNR and LPIPS by default)."""
    from ..plots import save_figure
    from ..show import comparison_panels, parse_crop, plot_comparison

    require_folder(folder)
    panels, notes = comparison_panels(folder, image, bpp, tuple(split_names(metrics)))
    say(notes)
    figure = plot_comparison(panels, parse_crop(crop) if crop else None)
    echo_written(save_figure(figure, out or folder / f"fig2-{image}"))


@app.command()
@handled(os_error="cannot write the report to {out}: {error}")
def report(
    folder: Annotated[Path, typer.Argument(help="Folder of runs (and CompressAI JSON files).")] = Path("results"),
    anchor: Annotated[
        Optional[str],
        typer.Option(help="Reference curve of BD-rate: CODEC or CODEC@SAMPLER (default: msh when present, "
                     "else the first curve)."),
    ] = None,
    out: Annotated[Optional[Path], typer.Option(help="Folder for report.md and CSVs (default FOLDER).")] = None,
    at_bpp: Annotated[
        Optional[list[float]],
        typer.Option(help="Also read every curve at these rates, e.g. --at-bpp 0.15 0.3 (pchip over log bpp, "
                     "inside each curve's measured rates): report_at_bpp.md and .csv."),
    ] = None,
    html: Annotated[
        bool, typer.Option("--html", help="Also write report.html: one self-contained page with interactive "
                           "curves, the tables and a viewer of saved reconstructions.")
    ] = False,
    html_images: Annotated[
        int, typer.Option(help="Images per image set the page's viewer embeds (0: none).")
    ] = DEFAULT_VIEWER_IMAGES,
    html_image: Annotated[
        Optional[str], typer.Option(help="Comma-separated image names the viewer embeds, instead of the first N.")
    ] = None,
) -> None:
    """Tables of every metric per rate point, and BD-rate / BD-metric against an anchor, as
    Markdown, CSV and LaTeX (booktabs); with --at-bpp, every curve read at given rates; with
    --html, one self-contained page of interactive curves, tables and reconstructions."""
    from ..latex import write_latex_tables
    from ..report import write_report
    from ..tables import write_at_rate_tables

    require_folder(folder)
    written = write_report(folder, out, anchor)
    if at_bpp:
        written += write_at_rate_tables(folder, at_bpp, out)
    echo_written(written + write_latex_tables(folder, out, anchor, at_bpp))
    if html:
        from ..html_report import write_html_report

        page, notes = write_html_report(folder, (out or folder) / "report.html", anchor, html_images,
                                        split_names(html_image))
        say(notes)
        typer.echo(f"wrote {page} ({page.stat().st_size / 1e6:.2f} MB)")
