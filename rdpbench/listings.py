"""What rdpbench knows, as rows a command line or a notebook can show: the codecs, metrics
and datasets of their registries."""

from __future__ import annotations

from typing import NamedTuple


def _summary(thing) -> str:
    return (thing.__doc__ or "").strip().splitlines()[0] if thing and thing.__doc__ else ""


def codec_rows() -> list[tuple[str, str, str]]:
    """(name, rate points, what it is) of every codec, plug-ins included. Codecs that take an
    argument are named with it (``folder:PATH``). Rate points are shown where the class
    declares them; those of codecs that read them from an argument or a description file
    when built (``ext:PATH.toml``, ``vtm``) are left blank."""
    from .codecs import CODECS, list_codecs

    rows = []
    for name in list_codecs():
        codec_class = CODECS.get(name) if name in CODECS else None
        if codec_class is None:
            rows.append((name, "", "(plug-in)"))
            continue
        shown = f"{name}:{codec_class.argument}" if codec_class.argument else name
        declared = codec_class.points and not codec_class.argument
        rows.append((shown, codec_class.describe_points() if declared else "", _summary(codec_class)))
    return rows


def metric_rows() -> list[tuple[str, str, str, str]]:
    """(name, kind, better direction, description) of every metric; a family of metrics is
    named with its argument (``pyiqa:NAME(OPTIONS)``), its members' kind and direction
    being their own."""
    from .metrics import METRICS

    rows = []
    for name in METRICS.names():
        metric = METRICS.get(name)
        if metric.argument:
            rows.append((f"{name}:{metric.argument}", metric.kind, metric.kind, metric.description))
        else:
            better = "higher" if metric.higher_is_better else "lower"
            rows.append((name, metric.kind, f"{better} is better", metric.description))
    return rows


def dataset_rows() -> list[tuple[str, str]]:
    """(name, what it is) of every registered dataset, and the folder form."""
    from .datasets import DATASETS

    return [(name, _summary(DATASETS.get(name))) for name in DATASETS.names()] + [("PATH", "any folder of images")]



class DownloadableRow(NamedTuple):
    """A set that ``rdpbench datasets`` installs, as ``datasets list`` shows it."""

    #: ``verified``, ``installed`` (its archive has no published checksum), ``unverified`` (a
    #: folder imported unchecked) or ``missing``.
    state: str
    name: str
    n_images: int
    size: str
    title: str
    urls: list[str]
    terms: str
    checksum: str


def downloadable_dataset_rows() -> list[DownloadableRow]:
    """Every set ``rdpbench datasets`` installs, with whether and how it is in place."""
    from .datasets.catalog import CATALOG
    from .datasets.install import install_state

    rows = []
    for entry in CATALOG.values():
        if entry.checksums_published:
            sources = sorted({archive.checksum_source for archive in entry.archives})
            checksum = f"sha256 published by {'; '.join(sources)}"
        else:
            checksum = "unpublished: the first download's archive sha256 and pixel hashes are the reference"
        rows.append(DownloadableRow(install_state(entry.name), entry.name, entry.n_images, entry.describe_size(),
                                    entry.title, [archive.url for archive in entry.archives], entry.licence, checksum))
    return rows
