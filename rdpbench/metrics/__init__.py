"""Metrics: one registry (``get_metric``, ``list_metrics``), one module per family."""

from . import fid, lpips_metric, psnr, pyiqa_metrics, ssim  # noqa: F401  (modules register metrics)
from .base import (
    DISTRIBUTION,
    DerivedMetric,
    DistributionMetric,
    FULL_REFERENCE,
    METRICS,
    NO_REFERENCE,
    ImageMetric,
    Metric,
    get_metric,
    higher_is_better,
    list_metrics,
    parse_metric_names,
    register_metric,
    with_derived_columns,
)

__all__ = [
    "DISTRIBUTION",
    "DerivedMetric",
    "DistributionMetric",
    "FULL_REFERENCE",
    "METRICS",
    "NO_REFERENCE",
    "ImageMetric",
    "Metric",
    "get_metric",
    "higher_is_better",
    "list_metrics",
    "parse_metric_names",
    "register_metric",
    "with_derived_columns",
]
