"""rdpbench against the seed paper's own scoring procedure, on the same sweep, side by side.

    python benchmarks/paper_procedure.py --dataset kodak --limit 6 --points 10 30 60

The paper's procedure (its metric script, re-created): reconstructions written as PNG
folders; every metric created and run separately through pyiqa over the folder pairs; FID
through folders of 256x256 patch PNGs whose reference side is written and recomputed at
every rate point. rdpbench: one `rdpbench run` with the same metrics (`--patches paper`),
each model built once, every metric on an image while it is in memory, reference features
cached. Each side runs in its own process; the script prints wall time, peak memory, their
ratio, and the share of rdpbench's time spent inside network forward passes (the floor no
pipeline can go below). Needs the metrics' weight files in place (test-built ones time the
same as the published ones).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

METRICS = ["psnr", "lpips", "nlpd", "gmsd", "niqe", "musiq", "dbcnn", "fid"]


def paper_side(dataset: str, limit: int, codec_name: str, points: list[str], work: Path) -> None:
    """Encode/decode into PNG folders, then each pyiqa metric over the folders, then FID
    through patch folders written anew at every rate point."""
    import numpy as np
    import pyiqa
    import pyiqa.utils.download_util
    import torch
    from PIL import Image

    from rdpbench.codecs import get_codec
    from rdpbench.datasets import get_dataset
    from rdpbench.weights import get_weight_file

    pyiqa.utils.download_util.DEFAULT_CACHE_DIR = str(Path(torch.hub.get_dir()) / "pyiqa")
    # pyiqa's LPIPS reads its own copy of the lpips wheel's linear layers (the same bytes)
    pyiqa_lpips = Path(torch.hub.get_dir()) / "pyiqa" / "LPIPS_v0.1_alex-df73285e.pth"
    if not pyiqa_lpips.is_file():
        shutil.copyfile(get_weight_file("alex.pth").path, pyiqa_lpips)
    items = get_dataset(dataset).limited(limit).images
    codec = get_codec(codec_name)
    originals = work / "original"
    originals.mkdir(parents=True)
    for item in items:
        Image.fromarray(item.load_rgb().permute(1, 2, 0).numpy()).save(originals / f"{item.name}.png")
    for point in points:
        decoded = work / point
        decoded.mkdir()
        for item in items:
            image = codec.decode(codec.encode(item.load_rgb(), point))
            Image.fromarray(image.permute(1, 2, 0).numpy()).save(decoded / f"{item.name}.png")
        for name in METRICS:
            if name == "fid":
                continue
            metric = pyiqa.create_metric(name, device="cpu")
            for item in items:
                arguments = [str(decoded / f"{item.name}.png")]
                if metric.metric_mode == "FR":
                    arguments.append(str(originals / f"{item.name}.png"))
                metric(*arguments)
            del metric
        folders = {}
        for side, source in (("recon", decoded), ("ref", originals)):  # the reference side again, every point
            folders[side] = work / f"patches-{point}-{side}"
            folders[side].mkdir()
            for path in sorted(source.glob("*.png")):
                pixels = np.asarray(Image.open(path))
                if pixels.shape[0] > pixels.shape[1]:
                    pixels = pixels.transpose(1, 0, 2)
                for top in range(0, pixels.shape[0] - 255, 256):
                    for left in range(0, pixels.shape[1] - 255, 256):
                        Image.fromarray(pixels[top:top + 256, left:left + 256]).save(
                            folders[side] / f"{path.stem}-{top}-{left}.png")
        pyiqa.create_metric("fid", device="cpu")(str(folders["recon"]), str(folders["ref"]), verbose=False)


def rdpbench_side(dataset: str, limit: int, codec_name: str, points: list[str], work: Path) -> float:
    """One rdpbench run; returns the seconds spent inside top-level network forward passes."""
    import torch

    from rdpbench.run import RunSettings, evaluate

    depth, spent = [0], [0.0]
    started = []

    def before(module, inputs):
        if depth[0] == 0:
            started.append(time.perf_counter())
        depth[0] += 1

    def after(module, inputs, output):
        depth[0] -= 1
        if depth[0] == 0:
            spent[0] += time.perf_counter() - started.pop()

    torch.nn.modules.module.register_module_forward_pre_hook(before)
    torch.nn.modules.module.register_module_forward_hook(after)
    os.environ["RDPBENCH_CACHE"] = str(work / "cache")
    evaluate(RunSettings(codec=codec_name, points=points, dataset=dataset, out=work, limit=limit,
                         metrics=",".join(METRICS), patch_protocol="paper", device="cpu"), progress=False)
    return spent[0]


def measured(side: str, arguments: argparse.Namespace) -> dict:
    """Run one side in a fresh process; its wall time, peak RSS and forward-pass seconds."""
    command = [sys.executable, __file__, "--side", side, "--dataset", arguments.dataset, "--limit",
               str(arguments.limit), "--codec", arguments.codec, "--points", *arguments.points]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    output = process.stdout.read()
    if status != 0:
        raise SystemExit(f"{side} side failed (status {status})")
    return {"wall_s": wall, "peak_rss_gb": usage.ru_maxrss / 2**20, **json.loads(output.splitlines()[-1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="kodak")
    parser.add_argument("--limit", type=int, default=6)
    parser.add_argument("--codec", default="jpeg")
    parser.add_argument("--points", nargs="+", default=["10", "30", "60"])
    parser.add_argument("--side", choices=["paper", "rdpbench"], help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.side:
        with tempfile.TemporaryDirectory(prefix="rdpbench-side-") as work:
            if arguments.side == "paper":
                paper_side(arguments.dataset, arguments.limit, arguments.codec, arguments.points, Path(work))
                print(json.dumps({}))
            else:
                forward = rdpbench_side(arguments.dataset, arguments.limit, arguments.codec, arguments.points, Path(work))
                print(json.dumps({"forward_s": forward}))
        return
    paper, ours = measured("paper", arguments), measured("rdpbench", arguments)
    print(f"sweep: {arguments.codec} at {', '.join(arguments.points)} on {arguments.limit} {arguments.dataset} images, "
          f"metrics {', '.join(METRICS)} (FID: the paper's protocol)")
    print(f"{'':26s}{'wall s':>9s}{'peak GB':>9s}")
    print(f"{'paper procedure':26s}{paper['wall_s']:9.1f}{paper['peak_rss_gb']:9.2f}")
    print(f"{'rdpbench run':26s}{ours['wall_s']:9.1f}{ours['peak_rss_gb']:9.2f}")
    print(f"speed-up: {paper['wall_s'] / ours['wall_s']:.2f}x")
    print(f"rdpbench inside network forward passes: {ours['forward_s']:.1f} s "
          f"({ours['forward_s'] / ours['wall_s']:.0%} of its wall time; wall / forward = "
          f"{ours['wall_s'] / ours['forward_s']:.2f}x)")


if __name__ == "__main__":
    main()
