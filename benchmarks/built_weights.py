"""Seeded random metric weights for benchmarks on machines without the published files: a
network's speed and memory do not depend on its weights' values (its scores then mean nothing)."""

from __future__ import annotations

import sys
from pathlib import Path


def missing_metric_weights() -> list[str]:
    from rdpbench.metrics import list_metrics
    from rdpbench.metrics.suite import MetricSuite

    return [file.file_name for file in MetricSuite(list_metrics()).weight_files() if not file.path.is_file()]


def build_test_weights(home: Path) -> None:
    """Seeded random weights where the loaders look, as the test suite builds them, except
    DINOv2's: the tests' is a tiny network, a benchmark needs the full ViT-L/14."""
    import torch

    from rdpbench.networks.dinov2 import DinoV2ViT

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from conftest import build_metric_weights

    build_metric_weights(home)
    torch.manual_seed(0)
    torch.save(DinoV2ViT().state_dict(), home / "hub" / "checkpoints" / "dinov2_vitl14_pretrain.pth")


def use_built_weights_if_missing(work: Path, environment: dict) -> None:
    """Point ``environment``'s TORCH_HOME at built weights under ``work`` when any metric
    weight file is missing, saying so."""
    missing = missing_metric_weights()
    if missing:
        home = work / "torch_home"
        build_test_weights(home)
        environment["TORCH_HOME"] = str(home)
        print(f"weights: {', '.join(missing)} missing; every metric runs on seeded random weights built "
              f"in a temporary TORCH_HOME (timings hold, scores mean nothing)")
