"""Codec cards: the TOML files of the repository's ``codecs/`` folder (shipped inside the
wheel as ``rdpbench/_codec_cards``), holding citations and published numbers per codec."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from ..errors import RdpbenchError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_PACKAGE = Path(__file__).resolve().parents[1]
#: Published points are drawn down to the lowest measured rate / this and up to the highest * this.
RATE_MARGIN = 1.5


def cards_dir() -> Path:
    """The installed copy of the cards if there is one, else the source checkout's folder."""
    installed = _PACKAGE / "_codec_cards"
    return installed if installed.is_dir() else _PACKAGE.parent / "codecs"


def load_card(name: str) -> dict:
    """The card of codec ``name``, or an empty dict if it has none."""
    path = cards_dir() / f"{name}.toml"
    return tomllib.loads(path.read_text()) if path.is_file() else {}


def published_points(name: str) -> pd.DataFrame:
    """Every published curve of codec ``name`` as rate-point rows (one column per metric, and
    each derived metric whose source is there, e.g. MS-SSIM in dB), with ``label``,
    ``source``, ``citation``, ``dataset`` and ``patch_protocol`` columns."""
    from ..metrics import with_derived_columns

    frames = []
    for curve in load_card(name).get("published", []):
        columns = {k: v for k, v in curve.items() if isinstance(v, list)}
        frame = pd.DataFrame(columns)
        for key in ("label", "source", "citation", "dataset", "patch_protocol"):
            frame[key] = curve.get(key)
        frame["codec"] = name
        frames.append(with_derived_columns(frame))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def all_published_points() -> pd.DataFrame:
    """Published curves of every codec card."""
    frames = [published_points(path.stem) for path in sorted(cards_dir().glob("*.toml"))]
    frames = [frame for frame in frames if not frame.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def published_beside(points: pd.DataFrame, also: list[str] = ()) -> pd.DataFrame:
    """Published curves of the codecs ``points`` measured (and of the codecs named in
    ``also``), measured on an image set that ``points`` holds results on, judged by
    content (``dataset_sha256``), never by name: a subset such as ``kodak[:4]``, or another
    set called "kodak", gets no published curve beside it. A curve's FID and KID stay only
    where the measured points used the patch protocol it names (``patch_protocol``), and only
    its points within the measured rates, widened by :data:`RATE_MARGIN` either way, are kept:
    JPEG's published curve up to 4 bpp must not squash a figure of rates below 0.5."""
    from ..datasets import published_content_sha256
    from ..metrics import METRICS
    from ..metrics.base import DISTRIBUTION

    published = all_published_points()
    if published.empty or "dataset_sha256" not in points:
        return published.iloc[0:0]
    unknown = sorted(set(also) - set(published.codec))
    if unknown:
        raise RdpbenchError(f"no published curves for {', '.join(unknown)}; codecs with published curves: "
                            f"{', '.join(sorted(set(published.codec)))}")
    published = published[published.codec.isin({*points.get("codec", []), *also})]
    known = published_content_sha256()
    measured = {known[sha] for sha in points.dataset_sha256.dropna() if sha in known}
    beside = published[published.dataset.isin(measured)].copy()
    # a published FID or KID sits beside measured ones only when both used the same patches
    protocols = set(points.patch_protocol.dropna()) if "patch_protocol" in points else set()
    other_patches = beside.patch_protocol.notna() & ~beside.patch_protocol.isin(protocols)
    for metric in beside.columns.intersection(METRICS.names()):
        if METRICS.get(metric).kind == DISTRIBUTION:
            beside.loc[other_patches, metric] = float("nan")
    rates = pd.to_numeric(points.bpp, errors="coerce").dropna() if "bpp" in points else pd.Series(dtype=float)
    if not rates.empty:
        beside = beside[beside.bpp.between(rates.min() / RATE_MARGIN, rates.max() * RATE_MARGIN)]
    return beside
