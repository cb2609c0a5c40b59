"""Runs at target rates (``--target-bpp``): per image, the codec setting whose rate is the
highest at or below each target, found by bisection over the codec's rate knob
(:meth:`~rdpbench.codecs.base.CodecBase.rate_knob`).

Every setting tried is remembered per image (its bitstream's bytes) and kept in the run
folder's ``target_search.csv``, so several targets share encodes and a resumed run repeats
none. A search over a monotone knob of n settings takes at most ceil(log2 n) + 2 encodes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..bitstream import bits_per_pixel
from ..codecs import CodecBase
from ..codecs.base import Encoded, RateKnob
from ..errors import RdpbenchError
from ..results import read_results_csv, write_csv
from ..schema import target_label

SEARCH_COLUMNS = ["image", "setting", "bytes", "bpp"]


def target_points(codec: CodecBase, targets: list[float]) -> list[str]:
    """The rate-point labels of ``targets`` (``bpp0.15``); RdpbenchError when the codec has no
    rate knob or a target is not a positive number."""
    if codec.rate_knob() is None:
        raise RdpbenchError(f"--target-bpp: codec {codec.name} has no fine rate setting to search; give its rate "
                            "points with --quality instead")
    for target in targets:
        if not (math.isfinite(target) and target > 0):
            raise RdpbenchError(f"--target-bpp {target}: a target rate is a number of bits per pixel above 0")
    return list(dict.fromkeys(target_label(target) for target in targets))


@dataclass(frozen=True)
class TargetChoice:
    """The setting chosen for one image at one target, its encoding, and whether it met the target."""

    setting: str
    encoded: Encoded
    status: str


@dataclass
class TargetSearch:
    """Searches of one run; ``tried[image][setting]`` is the bitstream's size in bytes."""

    codec: CodecBase
    tried: dict[str, dict[str, int]] = field(default_factory=dict)

    def choose(self, name: str, image, target: float) -> TargetChoice:
        """The setting of ``codec.rate_knob()`` whose rate on ``image`` is the highest at or
        below ``target`` bpp; the lowest-rate setting (``below_lowest_rate``) when every rate
        is above it, the highest (``above_highest_rate``) when every rate is below it."""
        knob: RateKnob = self.codec.rate_knob()
        _, height, width = image.shape
        made: dict[str, bytes] = {}
        sizes = self.tried.setdefault(name, {})

        def rate(setting: str) -> float:
            if setting not in sizes:
                made[setting] = self.codec.encode(image, setting)
                sizes[setting] = len(made[setting])
            return bits_per_pixel(sizes[setting], height, width)

        setting, status = (_bisect if knob.monotone else _scan)(knob.settings, rate, target)
        data = made.get(setting) or self.codec.encode(image, setting)
        return TargetChoice(setting, Encoded(data, len(data)), status)

    def save(self, path: Path, images: dict[str, tuple[int, int]]) -> None:
        """Write every setting tried (``target_search.csv``); ``images`` gives each image's size."""
        rows = [{"image": name, "setting": setting, "bytes": n_bytes,
                 "bpp": bits_per_pixel(n_bytes, *images[name])}
                for name, sizes in self.tried.items() if name in images for setting, n_bytes in sizes.items()]
        write_csv(pd.DataFrame(rows, columns=SEARCH_COLUMNS), path)

    def load(self, path: Path) -> None:
        """Remember the settings an earlier run into the same folder tried."""
        if not path.is_file():
            return
        frame = read_results_csv(path, SEARCH_COLUMNS)
        for row in frame.itertuples(index=False):
            self.tried.setdefault(row.image, {})[str(row.setting)] = int(row.bytes)


def _bisect(settings: tuple[str, ...], rate, target: float) -> tuple[str, str]:
    """Invariant: rate(settings[low]) <= target < rate(settings[high])."""
    low, high = 0, len(settings) - 1
    if rate(settings[low]) > target:
        return settings[low], "below_lowest_rate"
    if rate(settings[high]) <= target:
        return settings[high], "above_highest_rate"
    while high - low > 1:
        middle = (low + high) // 2
        if rate(settings[middle]) <= target:
            low = middle
        else:
            high = middle
    return settings[low], "met"


def _scan(settings: tuple[str, ...], rate, target: float) -> tuple[str, str]:
    """Every setting tried: the highest rate at or below the target."""
    rates = {setting: rate(setting) for setting in settings}
    fitting = [setting for setting in settings if rates[setting] <= target]
    if not fitting:
        return min(settings, key=rates.get), "below_lowest_rate"
    best = max(fitting, key=rates.get)
    return best, "above_highest_rate" if rates[best] == max(rates.values()) else "met"


def target_notes(rows: list[dict]) -> list[str]:
    """run.json notes naming the images whose target was out of the codec's reach."""
    notes = []
    for status, words in (("below_lowest_rate", "below the codec's lowest rate"),
                          ("above_highest_rate", "above the codec's highest rate")):
        missed: dict[str, list[str]] = {}
        for row in rows:
            if row.get("target_status") == status:
                missed.setdefault(row["quality"], []).append(row["image"])
        for point, images in missed.items():
            images = sorted(set(images))
            notes.append(f"target {point} is {words} for {len(images)} image(s) ({', '.join(images)}): "
                         f"their rows hold the {'lowest' if status.startswith('below') else 'highest'}-rate "
                         f"setting, at {'more' if status.startswith('below') else 'fewer'} bits than the target "
                         "(target_status column)")
    return notes
