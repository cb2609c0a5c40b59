"""What rdpbench knows, as rows a command line or a notebook can show: the codecs, metrics
and datasets of their registries."""

from __future__ import annotations


def _summary(thing) -> str:
    return (thing.__doc__ or "").strip().splitlines()[0] if thing and thing.__doc__ else ""


def codec_rows() -> list[tuple[str, str]]:
    """(name, what it is) of every codec, plug-ins included; codecs that take an argument
    are named with it (``folder:PATH``)."""
    from .codecs import CODECS, list_codecs

    rows = []
    for name in list_codecs():
        codec_class = CODECS.get(name) if name in CODECS else None
        if codec_class is None:
            rows.append((name, "(plug-in)"))
        elif codec_class.argument:
            rows.append((f"{name}:{codec_class.argument}", _summary(codec_class)))
        else:
            rows.append((name, _summary(codec_class)))
    return rows


def metric_rows() -> list[tuple[str, str, str, str]]:
    """(name, kind, better direction, description) of every metric."""
    from .metrics import METRICS

    rows = []
    for name in METRICS.names():
        metric = METRICS.get(name)
        better = "higher" if metric.higher_is_better else "lower"
        rows.append((name, metric.kind, f"{better} is better", metric.description))
    return rows


def dataset_rows() -> list[tuple[str, str]]:
    """(name, what it is) of every registered dataset, and the folder form."""
    from .datasets import DATASETS

    return [(name, _summary(DATASETS.get(name))) for name in DATASETS.names()] + [("PATH", "any folder of images")]
