"""Check the weight-free metrics against values published from the metrics' official
implementations, on pyiqa's five TID2013 calibration pairs (folders ``ref/`` and ``dist/``
holding I03, I04, I06, I08 and I19 as .bmp).

    python benchmarks/metric_calibration.py PATH/TO/iqa_calibration

The published values come from pyiqa's results-calibration table ("org" rows: the official
MATLAB implementations).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rdpbench.images import load_image
from rdpbench.metrics import get_metric

IMAGES = ["I03", "I04", "I06", "I08", "I19"]
PUBLISHED = {
    "psnr": [21.11, 20.99, 27.01, 23.30, 21.62],
    "gmsd": [0.2203, 0.0005, 0.0004, 0.1346, 0.2050],
    "nlpd": [0.5616, 0.0195, 0.0159, 0.3028, 0.4326],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    folder = parser.parse_args().folder
    for name, published in PUBLISHED.items():
        metric = get_metric(name)
        metric.prepare()
        ours = [
            metric.score(load_image(folder / "ref" / f"{i}.bmp")[0], load_image(folder / "dist" / f"{i}.bmp")[0])
            for i in IMAGES
        ]
        print(f"{name:5s} ours      " + "  ".join(f"{v:8.4f}" for v in ours))
        print(f"{'':5s} published " + "  ".join(f"{v:8.4f}" for v in published))


if __name__ == "__main__":
    main()
