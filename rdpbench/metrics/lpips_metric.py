"""LPIPS (Zhang et al. 2018) with the ``lpips`` package: AlexNet, version 0.1."""

from __future__ import annotations

import warnings

import torch

from ..images import to_signed
from ..weights import weights_only_loads
from .base import FULL_REFERENCE, ImageMetric, register_metric


@register_metric("lpips")
class LPIPS(ImageMetric):
    """Learned perceptual image patch similarity, AlexNet v0.1; inputs mapped to [-1, 1]."""

    name = "lpips"
    kind = FULL_REFERENCE
    higher_is_better = False
    description = "learned perceptual similarity, AlexNet v0.1"
    weight_names = ["alexnet-owt-7be5be79.pth", "alex.pth"]
    min_size = (31, 31)  # AlexNet's strided first layers
    bytes_per_pixel = 300  # 236 measured on the CPU (the slope from 768x512 to 1536x1024)

    def variant(self) -> dict:
        from importlib.metadata import version

        return {"implementation": f"lpips {version('lpips')}", "net": "alex", "version": "0.1",
                "inputs": "[-1, 1]"}

    def prepare(self) -> None:
        super().prepare()
        import lpips

        with warnings.catch_warnings(), weights_only_loads():
            # lpips asks torchvision for AlexNet through the pre-0.13 `pretrained` argument
            warnings.filterwarnings("ignore", category=UserWarning, module="torchvision")
            self.model = lpips.LPIPS(net="alex", version="0.1", verbose=False)
        self.model = self.model.eval().to(self.device)

    @torch.inference_mode()
    def score(self, reference: torch.Tensor, reconstruction: torch.Tensor) -> float:
        distance = self.model(to_signed(reference.to(self.device)), to_signed(reconstruction.to(self.device)))
        return float(distance.item())
