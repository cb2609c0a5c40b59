"""Metrics: one registry (``get_metric``, ``list_metrics``), one module per family."""

from . import psnr  # noqa: F401  (modules register their metrics)
from .base import (
    DISTRIBUTION,
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
