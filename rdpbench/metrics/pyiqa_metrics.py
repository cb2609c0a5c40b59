"""Metrics computed by pyiqa with its default settings, as the seed paper did: NLPD and GMSD
(full-reference, luma), NIQE (no-reference, luma), MUSIQ (KonIQ) and DBCNN (KonIQ).

pyiqa fixes its download folder when it is first imported and checks no hashes, so weight
paths are passed explicitly (from ``rdpbench.weights``) and its folder is pointed at the
current ``$TORCH_HOME`` before each model is built.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import ClassVar

import torch

from ..images import to_float
from ..weights import get_weight_file, weights_only_loads
from .base import FULL_REFERENCE, NO_REFERENCE, ImageMetric, register_metric


class PyiqaMetric(ImageMetric):
    """A pyiqa metric built once by ``pyiqa.create_metric`` and called per image."""

    pyiqa_name: ClassVar[str]
    #: Weight file passed to pyiqa as ``pretrained_model_path`` (None: pyiqa needs none).
    checkpoint: ClassVar[str | None] = None

    def variant(self) -> dict:
        from importlib.metadata import version

        from pyiqa.default_model_configs import DEFAULT_CONFIGS

        described = {"implementation": f"pyiqa {version('pyiqa')}", "pyiqa_name": self.pyiqa_name,
                     "options": DEFAULT_CONFIGS[self.pyiqa_name]["metric_opts"]}
        if self.checkpoint:
            described["weights"] = self.checkpoint
        return described

    def prepare(self) -> None:
        super().prepare()
        import pyiqa
        import pyiqa.utils.download_util

        pyiqa.utils.download_util.DEFAULT_CACHE_DIR = str(Path(torch.hub.get_dir()) / "pyiqa")
        options = {}
        if self.checkpoint:
            options["pretrained_model_path"] = str(get_weight_file(self.checkpoint).path)
        with weights_only_loads():  # pyiqa reads its files with weights_only=False
            self.model = pyiqa.create_metric(self.pyiqa_name, device=self.device, **options)
        self.model.eval()

    @torch.inference_mode()
    def score(self, reference: torch.Tensor, reconstruction: torch.Tensor) -> float:
        target = to_float(reconstruction.to(self.device))
        if self.kind == FULL_REFERENCE:
            value = self.model(target, to_float(reference.to(self.device)))
        else:
            value = self.model(target)
        return float(value.reshape(-1)[0].item())


@register_metric("nlpd")
class NLPD(PyiqaMetric):
    """Normalised Laplacian pyramid distance (Laparra et al. 2016), luma, pyiqa."""

    name, pyiqa_name, kind, higher_is_better = "nlpd", "nlpd", FULL_REFERENCE, False
    description = "normalised Laplacian pyramid distance (luma)"
    bytes_per_pixel = 250  # 241 measured on the CPU at 768x512, 158 at 1536x1024


@register_metric("gmsd")
class GMSD(PyiqaMetric):
    """Gradient magnitude similarity deviation (Xue et al. 2014), luma, pyiqa."""

    name, pyiqa_name, kind, higher_is_better = "gmsd", "gmsd", FULL_REFERENCE, False
    description = "gradient magnitude similarity deviation (luma)"
    min_size = (4, 4)  # a 2x2 similarity map after downsampling, for its deviation
    bytes_per_pixel = 120  # 114 measured on the CPU at 768x512, 72 at 1536x1024


@register_metric("niqe")
class NIQE(PyiqaMetric):
    """Natural image quality evaluator (Mittal et al. 2013), luma, pyiqa."""

    name, pyiqa_name, kind, higher_is_better = "niqe", "niqe", NO_REFERENCE, False
    description = "naturalness (no reference, luma)"
    weight_names = ["niqe_modelparameters.mat"]
    checkpoint = "niqe_modelparameters.mat"
    min_size = (96, 96)  # one 96x96 block
    bytes_per_pixel = 500  # 443 measured on the CPU at 768x512, 430 at 1536x1024


@register_metric("musiq")
class MUSIQ(PyiqaMetric):
    """Multi-scale image quality transformer (Ke et al. 2021), KonIQ-10k weights, pyiqa."""

    name, pyiqa_name, kind, higher_is_better = "musiq", "musiq", NO_REFERENCE, True
    description = "multi-scale transformer quality, KonIQ (no reference)"
    weight_names = ["musiq_koniq_ckpt-e95806b9.pth"]
    checkpoint = "musiq_koniq_ckpt-e95806b9.pth"
    bytes_per_pixel = 200
    #: Self-attention over every 32x32 patch of the full image at once (pyiqa's default,
    #: ``max_seq_len_from_original_res=-1``) holds score matrices of tokens^2 entries for each of
    #: 6 heads: two float32 ones at a time.
    bytes_per_token_pair = 48
    # measured on the CPU: 737 MB at 2048x1365, 4.26 GB at 3000x3000 (the model gives 0.98, 5.7)

    def memory_need(self, height: int, width: int) -> int:
        """Linear in the pixels, plus the attention over all tokens: one per 32x32 patch at
        full resolution, the 49 and 144 of the copies resized to 224 and 384, and a class token."""
        tokens = 1 + 49 + 144 + math.ceil(height / 32) * math.ceil(width / 32)
        return super().memory_need(height, width) + self.bytes_per_token_pair * tokens**2


@register_metric("dbcnn")
class DBCNN(PyiqaMetric):
    """Deep bilinear CNN quality (Zhang et al. 2020), KonIQ-10k weights, pyiqa."""

    name, pyiqa_name, kind, higher_is_better = "dbcnn", "dbcnn", NO_REFERENCE, True
    description = "deep bilinear CNN quality, KonIQ (no reference)"
    # pyiqa builds VGG-16 and SCNN from their own files before loading the full checkpoint.
    weight_names = ["DBCNN_KonIQ10k-2de81c0a.pth", "DBCNN_scnn-7ea73d75.pth", "vgg16-397923af.pth"]
    checkpoint = "DBCNN_KonIQ10k-2de81c0a.pth"
    min_size = (16, 16)  # VGG-16 pooling
    bytes_per_pixel = 950  # 791 measured on the CPU at 768x512, 783 at 2048x1365
