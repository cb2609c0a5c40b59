"""The table of weight files: each one's URL, place, expected hash and users, and the check
that a run's files are in place before any work."""

from __future__ import annotations

import functools
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch

from ..errors import MissingWeightsError, RdpbenchError, UnknownNameError

_HASH_IN_NAME = re.compile(r"-([a-f0-9]{8,64})\.")


@dataclass(frozen=True)
class WeightFile:
    """One weight file. ``folder`` is relative to the torch hub directory, or, when
    ``package`` is set, to that installed package (files that ship inside a wheel)."""

    file_name: str
    url: str
    folder: str
    used_by: str
    sha256: str | None = None
    size_mb: float | None = None
    package: str | None = None
    #: Where else to find the file, for hosts known to refuse downloads.
    note: str | None = None

    @property
    def path(self) -> Path:
        if self.package:
            spec = importlib.util.find_spec(self.package)
            root = Path(spec.origin).parent if spec and spec.origin else Path(self.package)
            return root / self.folder / self.file_name
        return Path(torch.hub.get_dir()) / self.folder / self.file_name

    @property
    def expected_hash(self) -> str | None:
        """Full sha256 if known, else the prefix that the upstream file name carries."""
        if self.sha256:
            return self.sha256
        match = _HASH_IN_NAME.search(self.file_name)
        return match.group(1) if match else None

    def describe(self) -> str:
        size = f"{self.size_mb:.1f} MB" if self.size_mb else "size unknown"
        return f"{self.file_name} ({size}, for {self.used_by}) -> {self.path}"


def compressai_weight_file(architecture: str, quality: int, metric: str = "mse") -> WeightFile:
    """A CompressAI zoo checkpoint, named and placed exactly as CompressAI's own loader does;
    RdpbenchError when the installed CompressAI publishes no such file."""
    import compressai
    from compressai.zoo.image import model_urls

    try:
        url = model_urls[architecture][metric][quality]
    except KeyError:
        raise RdpbenchError(
            f"CompressAI {compressai.__version__} publishes no {metric} weights of {architecture} quality "
            f"{quality} (compressai.zoo.image.model_urls); a later CompressAI may: pip install -U compressai"
        ) from None
    return WeightFile(
        url.rsplit("/", 1)[1], url, "checkpoints", used_by=f"CompressAI {architecture} {metric} quality {quality}"
    )


def compressai_weight_files() -> list[WeightFile]:
    """Every checkpoint of CompressAI's image zoo that the installed CompressAI publishes."""
    from compressai.zoo.image import model_urls

    return [compressai_weight_file(architecture, quality, metric)
            for architecture, by_metric in model_urls.items()
            for metric, by_quality in by_metric.items() for quality in by_quality]


HIFIC_PORT_FILES = {"lo": "hific_low.pt", "mi": "hific_med.pt", "hi": "hific_hi.pt"}
#: NeuralCompression's rate targets (bpp) of qualities 1..6.
NEURALCOMPRESSION_TARGETS = ["0.035", "0.07", "0.14", "0.3", "0.45", "0.9"]
#: NeuralCompression's rate points (the zoo's ``*_quality_<point>``) -> target bpp in the file
#: name, per model: MS-ILLM also has two very low rates (``vlo1``, ``vlo2``, trained for Careil
#: et al., ICLR 2024) with the same network; No-GAN has none.
NEURALCOMPRESSION_POINTS = {
    "msillm": {"vlo1": "0.00218", "vlo2": "0.00438",
               **{str(quality): target for quality, target in enumerate(NEURALCOMPRESSION_TARGETS, 1)}},
    "noganms": {str(quality): target for quality, target in enumerate(NEURALCOMPRESSION_TARGETS, 1)},
}
_MSILLM_NOTE = ("MS-ILLM and No-GAN checkpoints: their host has been refusing downloads (NeuralCompression "
                "issue #245); if it refuses, ask the authors or a colleague for the files and place them "
                "with `rdpbench weights import FOLDER`. Licence: CC-BY-NC 4.0.")


def hific_port_weight_file(point: str) -> WeightFile:
    """A checkpoint of the HiFiC PyTorch port (Zenodo record 4026003), rate point lo, mi or hi."""
    name = HIFIC_PORT_FILES[point]
    return WeightFile(name, f"https://zenodo.org/records/4026003/files/{name}?download=1", "checkpoints",
                      used_by=f"hific {point}")


def neuralcompression_weight_file(model: str, point: str | int) -> WeightFile:
    """An MS-ILLM (``msillm``) or No-GAN (``noganms``) checkpoint of NeuralCompression at one of
    its rate points (``NEURALCOMPRESSION_POINTS``: 1..6, and vlo1, vlo2 for MS-ILLM)."""
    name = f"{model}_target_{NEURALCOMPRESSION_POINTS[model][str(point)]}bpp.ckpt"
    return WeightFile(name, f"https://dl.fbaipublicfiles.com/NeuralCompression/2023-muckley-msillm/{name}",
                      "checkpoints", used_by=f"{model} quality {point}", note=_MSILLM_NOTE)


#: Yang & Mandt's CDC: codec -> (hub folder, file name pattern, beta of points 1, 2, 3).
CDC_FILES = {
    "cdc-eps-rho0": ("epsilon_param", "big-l1-vimeo-d64-t20000-b{beta}-vbrFalse-noise-linear-aux-1.0_0_ckpt.pt",
                     ["0.0512", "0.0256", "0.0128"]),
    "cdc-eps-rho0.9": ("epsilon_param", "big-l1-vimeo-d64-t20000-b{beta}-vbrFalse-noise-linear-aux0.9lpips_0.pt",
                       ["0.3072", "0.2048", "0.1024"]),
    "cdc-x-rho0": ("x_param", "image-l2-use_weight5-vimeo-d64-t8193-b{beta}-x-cosine-01-float32-aux0.0_2.pt",
                   ["0.0128", "0.0064", "0.0032"]),
    "cdc-x-rho0.9": ("x_param", "image-l2-use_weight5-vimeo-d64-t8193-b{beta}-x-cosine-01-float32-aux0.9lpips_2.pt",
                     ["0.2048", "0.1024", "0.0512"]),
}
_CDC_NOTE = ("CDC checkpoints: their names come from third-party scripts, not from the hub's listing; if "
             "a download fails, find the file at https://huggingface.co/rhyang/CDC_params (or the authors' Google Drive "
             "folder linked from earlier versions of their README) and place it with "
             "`rdpbench weights import FOLDER`.")


def cdc_weight_file(codec: str, point: str) -> WeightFile:
    """A checkpoint of Yang & Mandt's CDC on the Hugging Face hub, rate point 1, 2 or 3."""
    folder, pattern, betas = CDC_FILES[codec]
    name = pattern.format(beta=betas[int(point) - 1])
    return WeightFile(name, f"https://huggingface.co/rhyang/CDC_params/resolve/main/{folder}/{name}", "checkpoints",
                      used_by=f"{codec} {point}", note=_CDC_NOTE)


def torchvision_weight_file(weights, used_by: str) -> WeightFile:
    """A torchvision ImageNet checkpoint, as torchvision's own loader names and places it."""
    return WeightFile(
        weights.url.rsplit("/", 1)[1], weights.url, "checkpoints", used_by,
        size_mb=weights.meta.get("_file_size"),
    )


def pyiqa_weight_file(url: str, used_by: str, sha256: str | None = None) -> WeightFile:
    """A file of pyiqa's weight store, placed in pyiqa's cache (``$TORCH_HOME/hub/pyiqa``)
    under the name pyiqa's loader gives it (the URL's last path component)."""
    return WeightFile(Path(urlparse(url).path).name, url, "pyiqa", used_by, sha256=sha256)


#: DINOv2 ViT-L/14 as torch.hub's DINOv2 backbone fetches it (cached under its file name).
DINOV2_URL = "https://dl.fbaipublicfiles.com/dinov2/dinov2_vitl14/dinov2_vitl14_pretrain.pth"


@functools.cache
def metric_weight_files() -> dict[str, WeightFile]:
    """Files of the metrics by file name, with URLs read from the packages that load them."""
    from pyiqa.archs import dbcnn_arch, dists_arch, inception, musiq_arch, niqe_arch
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3
    from torchvision.models import AlexNet_Weights, VGG16_Weights

    files = [
        torchvision_weight_file(AlexNet_Weights.IMAGENET1K_V1, "lpips"),
        WeightFile(
            "alex.pth", "https://pypi.org/project/lpips/", "weights/v0.1", "lpips (linear layers)",
            sha256="df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0",
            size_mb=0.006, package="lpips",
        ),
        WeightFile(
            "vgg.pth", "https://pypi.org/project/lpips/", "weights/v0.1", "training loss (LPIPS VGG)",
            sha256="a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868", size_mb=0.007, package="lpips",
        ),
        WeightFile(URL_INCEPTION_V3.rsplit("/", 1)[1], URL_INCEPTION_V3, "checkpoints", "fid, kid"),
        WeightFile(DINOV2_URL.rsplit("/", 1)[1], DINOV2_URL, "checkpoints", "fd_dinov2"),
        pyiqa_weight_file(inception.FID_WEIGHTS_URL, "fid, kid with --patches paper"),
        pyiqa_weight_file(niqe_arch.default_model_urls["niqe"], "niqe"),
        pyiqa_weight_file(musiq_arch.default_model_urls["koniq10k"], "musiq"),
        pyiqa_weight_file(dbcnn_arch.default_model_urls["koniq"], "dbcnn"),
        pyiqa_weight_file(dbcnn_arch.default_model_urls["scnn"], "dbcnn (built, then overwritten)"),
        pyiqa_weight_file(dists_arch.default_model_urls["url"], "dists"),
        torchvision_weight_file(VGG16_Weights.IMAGENET1K_V1, "dists, dbcnn (built, then overwritten), training loss"),
    ]
    return {file.file_name: file for file in files}


@functools.cache
def weight_files() -> dict[str, WeightFile]:
    """Every weight file rdpbench knows, by file name. Built on first use: reading the URL
    tables imports CompressAI, pyiqa and torch-fidelity, which takes seconds."""
    codec_files = compressai_weight_files()
    codec_files += [hific_port_weight_file(point) for point in HIFIC_PORT_FILES]
    codec_files += [neuralcompression_weight_file(model, point)
                    for model, points in NEURALCOMPRESSION_POINTS.items() for point in points]
    codec_files += [cdc_weight_file(codec, point) for codec in CDC_FILES for point in "123"]
    return {**{file.file_name: file for file in codec_files}, **metric_weight_files()}


def get_weight_file(file_name: str) -> WeightFile:
    if file_name in metric_weight_files():  # without importing the codecs' packages
        return metric_weight_files()[file_name]
    try:
        return weight_files()[file_name]
    except KeyError:
        raise UnknownNameError("weight file", file_name, sorted(weight_files())) from None


def require(files: list[WeightFile]) -> None:
    """Raise MissingWeightsError listing every file of ``files`` absent from its place."""
    missing = [f for f in files if not f.path.is_file()]
    if not missing:
        return
    lines = [f"  {f.describe()}" for f in missing]
    names = " ".join(f.file_name for f in missing)
    raise MissingWeightsError(
        "missing weight files:\n"
        + "\n".join(lines)
        + f"\nfetch them with:  rdpbench weights download {names}\n"
        + "or, without internet, copy them into place from a folder:  "
        + "rdpbench weights import FOLDER"
        + "".join(f"\n{note}" for note in notes_of(missing))
    )


def notes_of(files: list[WeightFile]) -> list[str]:
    """The distinct notes of ``files`` (where else to look, licences), each once."""
    return list(dict.fromkeys(f.note for f in files if f.note))
