"""Features of 256x256 patches, the input of the distribution metrics (FID, KID, FD-DINOv2).

Each distribution metric names the network its features come from (``Metric.features``):
``inception`` (FID, KID) or ``dinov2`` (FD-DINOv2). Inception's extractor is chosen by the
patch protocol (``rdpbench.metrics.patches``):

``torch-fidelity`` (protocols ``hific``, ``grid``): torch-fidelity's port of the TF-slim 2015
    network, 2048-d pool features. The network runs in float64 (torch-fidelity's own
    ``feature_extractor_internal_dtype="float64"`` silently means float32 in 0.4, so rdpbench
    converts the network itself), so features do not depend on how patches are batched;
    torch-fidelity rounds its outputs to float32.
``pyiqa-clean`` (protocol ``paper``): what the seed paper ran, pyiqa's FID network (the
    pytorch-fid port, ``pt_inception-2015-12-05``) in float32, each patch resized to 299x299
    channel by channel with Pillow's bicubic filter on float data (clean-fid), computed in
    memory instead of through folders of PNG files; its features are kept in float32 for the
    FID statistics, as pyiqa keeps them.

``dinov2`` (every protocol): DINOv2 ViT-L/14 (``rdpbench.networks.dinov2``), 1024-d normalised
    class tokens, the features Stein et al. (2023) found to track human judgement better than
    Inception's. Each patch is preprocessed as their dgm-eval does: Pillow's bicubic resize of
    the 8-bit RGB patch to 224x224, scaled to [0, 1], normalised with ImageNet's mean and
    standard deviation. The network runs in float32, as there, and the statistics are taken in
    float64 of those float32 values, as dgm-eval takes them.

Reference-side features depend on the original image, the weights, the protocol and the
numerics (device type, dtype, package version): ``cache_key`` names all of these, so the
features of a CPU and of a GPU never mix in the reference cache.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from ..errors import RdpbenchError
from ..file_hash import sha256_of
from ..weights import (
    WeightFile,
    get_weight_file,
    load_checkpoint,
    require,
    weights_only_loads,
)
from .patches import PATCH_PROTOCOLS, check_protocol, patch_batches

TORCH_FIDELITY_FILE = "weights-inception-2015-12-05-6726825d.pth"
PYIQA_FID_FILE = "pt_inception-2015-12-05-6726825d.pth"


class PatchFeatures:
    """Features (N, dimensions) of the N patches of an image under one patch protocol."""

    name: str
    dimensions = 2048
    weight_file_name: str
    #: Working memory per patch in a network call (bytes): the network's activations (0 for an
    #: extractor that declares none: not counted in a run's memory estimate).
    bytes_per_patch: float = 0.0
    #: The dtype the extractor's package holds features in when it computes FID statistics.
    statistics_dtype: type = np.float64

    def __init__(self, device: str = "cpu", protocol: str = "hific"):
        self.device = torch.device(device)
        self.protocol = check_protocol(protocol)
        self.model = None

    @property
    def weight_file(self) -> WeightFile:
        return get_weight_file(self.weight_file_name)

    def prepare(self) -> None:
        require([self.weight_file])
        with weights_only_loads():  # torch-fidelity and pyiqa read their files with weights_only=False
            self.model = self._build()
        self.cache_key = (
            f"{self.name}-{sha256_of(self.weight_file.path)[:16]}-{self.protocol}-{self.device.type}"
            f"-{self.network_dtype}-{self.package}{metadata.version(self.package)}"
        )

    @property
    def batch_size(self) -> int:
        """Patches per network call: few on the CPU, where larger batches are no faster (measured)
        and every patch adds ``bytes_per_patch``; more on a GPU, for its throughput."""
        return 4 if self.device.type == "cpu" else 32

    def memory_need(self, height: int, width: int) -> int:
        """Peak working memory (bytes, on the extractor's device) of one image's features: one
        batch of patches, whatever the image's size."""
        return int(self.batch_size * self.bytes_per_patch)

    @torch.inference_mode()
    def __call__(self, image: torch.Tensor) -> np.ndarray:
        """Features of the patches of one uint8 (3, H, W) image, as float64, computed
        ``batch_size`` patches at a time (memory stays flat however large the image)."""
        features = [self._features(patches).double().cpu().numpy()
                    for patches in patch_batches(image, self.protocol, self.batch_size)]
        # the network's own width, which a checkpoint may set (DINOv2 sizes itself from its tensors)
        return np.concatenate(features) if features else np.zeros((0, self.dimensions))

    def describe(self) -> dict:
        return {"extractor": self.name, "network_dtype": self.network_dtype, "features_dtype": "float32",
                "patch_protocol": self.protocol, "protocol_description": PATCH_PROTOCOLS[self.protocol]}


class TorchFidelityInception(PatchFeatures):
    name, package, network_dtype = "inception", "torch-fidelity", "float64"
    weight_file_name = TORCH_FIDELITY_FILE
    bytes_per_patch = 120e6  # 451 MB measured on the CPU for batches of 4

    def _build(self) -> torch.nn.Module:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

        model = FeatureExtractorInceptionV3(
            "inception-v3-compat", ["2048"], feature_extractor_weights_path=str(self.weight_file.path)
        )
        model.feature_extractor_internal_dtype = torch.float64  # forward() casts its input to this
        return model.to(device=self.device, dtype=torch.float64)

    def _features(self, patches: torch.Tensor) -> torch.Tensor:
        [features] = self.model(patches.to(self.device))
        return features


class PyiqaCleanInception(PatchFeatures):
    name, package, network_dtype = "pyiqa-clean-inception", "pyiqa", "float32"
    weight_file_name = PYIQA_FID_FILE
    statistics_dtype = np.float32
    input_size = (299, 299)
    bytes_per_patch = 20e6  # 61 MB measured on the CPU for batches of 4

    def _build(self) -> torch.nn.Module:
        import pyiqa.utils.download_util
        from pyiqa.archs.inception import InceptionV3

        # pyiqa loads the FID network's weights from its cache folder, fixed at import time
        pyiqa.utils.download_util.DEFAULT_CACHE_DIR = str(Path(torch.hub.get_dir()) / "pyiqa")
        return InceptionV3(output_blocks=[InceptionV3.BLOCK_INDEX_BY_DIM[self.dimensions]]).eval().to(self.device)

    def _features(self, patches: torch.Tensor) -> torch.Tensor:
        resized = torch.stack([self._clean_resize(patch) for patch in patches.numpy()])
        [features] = self.model(((resized - 128) / 128).to(self.device), False, False)
        return features.reshape(len(patches), -1)

    def _clean_resize(self, patch: np.ndarray) -> torch.Tensor:
        """clean-fid's resize: each channel as float32, Pillow bicubic to 299x299, clipped."""
        from PIL import Image

        channels = [
            np.asarray(Image.fromarray(channel.astype(np.float32)).resize(self.input_size, Image.BICUBIC))
            for channel in patch
        ]
        return torch.from_numpy(np.stack(channels).clip(0, 255).astype(np.float32))


DINOV2_FILE = "dinov2_vitl14_pretrain.pth"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class DinoV2Features(PatchFeatures):
    name, package, network_dtype = "dinov2-vitl14", "torch", "float32"
    dimensions = 1024
    # not measured: ViT-L/14 at 224 holds ~4 MB of tokens and ~4 MB of attention scores per
    # patch at a time; rounded well up
    bytes_per_patch = 20e6
    weight_file_name = DINOV2_FILE
    input_size = (224, 224)

    def _build(self) -> torch.nn.Module:
        from ..networks.dinov2 import DinoV2ViT

        state = load_checkpoint(self.weight_file)
        try:
            network = DinoV2ViT.from_state_dict(state)
        except (ValueError, RuntimeError) as error:
            raise RdpbenchError(f"{self.weight_file.path} is not a DINOv2 ViT checkpoint ({error}); fetch the "
                                f"published file with  rdpbench weights download {self.weight_file_name}") from None
        return network.eval().to(self.device)

    def _features(self, patches: torch.Tensor) -> torch.Tensor:
        from PIL import Image

        resized = np.stack([np.asarray(Image.fromarray(patch.permute(1, 2, 0).numpy()).resize(
            self.input_size, Image.BICUBIC)) for patch in patches])
        scaled = torch.from_numpy(resized).permute(0, 3, 1, 2).float() / 255
        mean, std = torch.tensor(IMAGENET_MEAN).view(3, 1, 1), torch.tensor(IMAGENET_STD).view(3, 1, 1)
        return self.model(((scaled - mean) / std).to(self.device))


#: The Inception extractor of each patch protocol.
EXTRACTORS = {"hific": TorchFidelityInception, "grid": TorchFidelityInception, "paper": PyiqaCleanInception}
#: The extractor of each feature network (``Metric.features``), given the patch protocol.
NETWORKS = {"inception": lambda protocol: EXTRACTORS[protocol], "dinov2": lambda protocol: DinoV2Features}


def patch_features(device: str = "cpu", protocol: str = "hific", network: str = "inception") -> PatchFeatures:
    """The extractor of ``network``'s features under ``protocol`` (not yet loaded: call ``prepare``)."""
    return NETWORKS[network](check_protocol(protocol))(device, protocol)
