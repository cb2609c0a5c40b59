"""The paper's Fig. 2 for any results: one image as each codec and sampler decoded it at
about the same rate, the full image with a zoomed inset of one crop, captioned with the
measured numbers. Reads the reconstructions that ``run --save-images`` keeps."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.patches import Rectangle

from .datasets import get_dataset
from .errors import RdpbenchError
from .images import load_image
from .plots import METRIC_TITLES, PAGE_WIDTH_IN, NotebookFigure
from .paths import RunFolder
from .results import readable_runs
from .schema import curve_label


#: The measured numbers a caption gives besides bpp, unless told others.
CAPTION_METRICS = ("psnr", "lpips")


@dataclass
class Panel:
    """One picture of the figure: its pixels (H, W, 3 uint8) and its caption lines."""

    pixels: np.ndarray
    caption: str


def parse_crop(text: str) -> tuple[int, int, int, int]:
    """``"x,y,w,h"`` -> (x, y, w, h) in pixels."""
    try:
        x, y, w, h = (int(part) for part in text.split(","))
    except ValueError:
        raise RdpbenchError(f"--crop {text!r}: give x,y,w,h in pixels, e.g. 300,200,128,128") from None
    if w < 1 or h < 1 or x < 0 or y < 0:
        raise RdpbenchError(f"--crop {text!r}: x and y must be >= 0, w and h >= 1")
    return x, y, w, h


def comparison_panels(results: Path, image: str, bpp: float | None = None,
                      metrics: tuple[str, ...] = CAPTION_METRICS) -> tuple[list[Panel], list[str]]:
    """The original, then each codec/sampler's reconstruction of ``image`` at the rate point
    whose bpp for this image is nearest ``bpp`` (each curve's lowest when None), captioned with
    its bpp and its value of each of ``metrics`` that was measured. Only runs on
    the same image set as the first run holding the image are used. Returns the panels and
    notes (runs that measured the image but kept no reconstruction). A ``bpp`` that is not a
    positive finite number is an RdpbenchError."""
    if bpp is not None and not (math.isfinite(bpp) and bpp > 0):
        raise RdpbenchError(f"--bpp {bpp}: give a rate in bits per pixel, a positive finite number such as 0.2")
    candidates, notes = [], []
    for run, manifest, rows in readable_runs(results):
        rows = rows[rows.image == image]
        if rows.empty:
            continue
        if not (manifest.get("saved") or {}).get("images"):
            notes.append(f"{run.name} measured {image} but kept no reconstruction; redo it with --save-images: "
                         f"{' '.join(manifest.get('command') or ['rdpbench run ...'])} --save-images")
            continue
        candidates.append((run, manifest, rows))
    if not candidates:
        raise RdpbenchError(f"no run under {results} kept a reconstruction of {image}"
                            + ("".join(f"\n  {note}" for note in notes) or
                               f"; no run there measured {image} at all"))
    identity = candidates[0][1]["dataset"].get("content_sha256")
    panels = [Panel(original_pixels(candidates[0][1], image), "original")]
    for run, manifest, rows in candidates:
        if manifest["dataset"].get("content_sha256") != identity:
            notes.append(f"{run.name} is on another image set ({manifest['dataset'].get('name')}); left out")
            continue
        for (codec, sampler), curve in rows.groupby(["codec", "sampler"], sort=False):
            known = curve.dropna(subset=["bpp"])
            chosen = (known.loc[(known.bpp - bpp).abs().idxmin()] if bpp is not None and not known.empty
                      else curve.sort_values("bpp").iloc[0])
            path = RunFolder(run).image(str(chosen.quality), sampler, image)
            if not path.is_file():
                notes.append(f"{path} is missing; left out")
                continue
            panels.append(Panel(load_image(path)[0].permute(1, 2, 0).numpy(), _caption(chosen, codec, sampler, metrics)))
    return panels, notes


def original_pixels(manifest: dict, image: str) -> np.ndarray:
    """The original of ``image`` (H, W, 3 uint8) from the dataset a run's manifest names."""
    source = manifest["dataset"].get("source")
    if not source:
        raise RdpbenchError("the run's manifest does not say where its images are (made before "
                            "rdpbench recorded dataset.source); rerun it to record that")
    for item in get_dataset(source).images:
        if item.name == image:
            return item.load_rgb().permute(1, 2, 0).numpy()
    raise RdpbenchError(f"{image} is not in the dataset {source}")


def _caption(row, codec: str, sampler: str, metrics: tuple[str, ...]) -> str:
    label = curve_label(codec, sampler)
    numbers = [f"{row.bpp:.3f} bpp" if np.isfinite(row.bpp) else "bpp unknown"]
    for metric in metrics:
        value = pd.to_numeric(row.get(metric), errors="coerce")
        if pd.notna(value) and np.isfinite(value):
            numbers.append(f"{value:.2f} dB" if metric == "psnr" else f"{METRIC_TITLES.get(metric, metric)} {value:.3f}")
    return f"{label}\n{', '.join(numbers)}"


def plot_comparison(panels: list[Panel], crop: tuple[int, int, int, int] | None = None) -> NotebookFigure:
    """Each panel's full image, the crop outlined, with the crop magnified in an inset and the
    caption below; up to 4 panels a row, at a two-column paper's full width."""
    height, width = panels[0].pixels.shape[:2]
    x, y, w, h = crop or _default_crop(height, width)
    if x + w > width or y + h > height:
        raise RdpbenchError(f"--crop {x},{y},{w},{h} reaches outside the {width}x{height} image")
    columns = min(len(panels), 4)
    rows = -(-len(panels) // columns)
    panel_width = PAGE_WIDTH_IN / columns
    figure = NotebookFigure(figsize=(PAGE_WIDTH_IN, rows * (panel_width * height / width + 0.45)))
    axes = figure.subplots(rows, columns, squeeze=False)
    with matplotlib.rc_context({"font.size": 7}):
        for axis, panel in zip(axes.flat, panels):
            axis.imshow(panel.pixels, interpolation="nearest")
            axis.add_patch(Rectangle((x - 0.5, y - 0.5), w, h, fill=False, edgecolor="yellow", linewidth=0.8))
            inset = axis.inset_axes([0.6, 0.0, 0.4, 0.4 * width / height * h / w])
            inset.imshow(panel.pixels[y:y + h, x:x + w], interpolation="nearest")
            inset.set_xticks([])
            inset.set_yticks([])
            for spine in inset.spines.values():
                spine.set_edgecolor("yellow")
            axis.set_xticks([])
            axis.set_yticks([])
            axis.set_xlabel(panel.caption, fontsize=6.5)
        for axis in axes.flat[len(panels):]:
            axis.axis("off")
        figure.tight_layout(pad=0.3)
    return figure


def _default_crop(height: int, width: int) -> tuple[int, int, int, int]:
    """A centred square a quarter of the shorter side."""
    side = max(min(height, width) // 4, 1)
    return (width - side) // 2, (height - side) // 2, side, side
