"""Metrics: one registry (``get_metric``, ``list_metrics``), one module per family."""

from . import fid, lpips_metric, psnr, pyiqa_metrics  # noqa: F401  (modules register metrics)
from .base import (
    DISTRIBUTION,
    DistributionMetric,
    FULL_REFERENCE,
    METRICS,
    NO_REFERENCE,
    ImageMetric,
    Metric,
    get_metric,
    list_metrics,
    parse_metric_names,
    register_metric,
)

__all__ = [
    "DISTRIBUTION",
    "DistributionMetric",
    "FULL_REFERENCE",
    "METRICS",
    "NO_REFERENCE",
    "ImageMetric",
    "Metric",
    "get_metric",
    "list_metrics",
    "parse_metric_names",
    "register_metric",
]
