"""Metrics computed by pyiqa: NLPD and GMSD (full-reference, luma), NIQE (no-reference, luma),
MUSIQ and DBCNN (KonIQ) with its default settings, as the seed paper did; DISTS; and any other
pyiqa metric by name, ``pyiqa:NAME`` or ``pyiqa:NAME(KEY=VALUE, ...)``.

pyiqa fixes its download folder when it is first imported and checks no hashes, so weight
paths are passed explicitly (from ``rdpbench.weights``) and its folder is pointed at the
current ``$TORCH_HOME`` before each model is built. Every score is computed with torch's,
numpy's and Python's random generators seeded from the scored image's pixels (and restored
afterwards), so a metric that draws random crops gives the same value in any run, process
or image order.
"""

from __future__ import annotations

import difflib
import inspect
import math
import random
import re
from contextlib import contextmanager
from importlib import import_module, metadata
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from ..errors import RdpbenchError, UnknownNameError
from ..images import pixel_sha256, to_float
from ..weights import WeightFile, get_weight_file, pyiqa_weight_file, weights_only_loads
from .base import FULL_REFERENCE, NO_REFERENCE, ImageMetric, register_metric


class PyiqaMetric(ImageMetric):
    """A pyiqa metric built once by ``pyiqa.create_metric`` and called per image."""

    pyiqa_name: ClassVar[str]
    #: Weight file passed to pyiqa as ``pretrained_model_path`` (None: pyiqa needs none).
    checkpoint: ClassVar[str | None] = None

    def variant(self) -> dict:
        from pyiqa.default_model_configs import DEFAULT_CONFIGS

        described = {"implementation": f"pyiqa {metadata.version('pyiqa')}", "pyiqa_name": self.pyiqa_name,
                     "options": DEFAULT_CONFIGS[self.pyiqa_name]["metric_opts"]}
        if self.checkpoint:
            described["weights"] = self.checkpoint
        return described

    def create_options(self) -> dict:
        """Keywords of ``pyiqa.create_metric`` besides the name and device."""
        return {"pretrained_model_path": str(get_weight_file(self.checkpoint).path)} if self.checkpoint else {}

    def prepare(self) -> None:
        super().prepare()
        import pyiqa
        import pyiqa.utils.download_util

        pyiqa.utils.download_util.DEFAULT_CACHE_DIR = str(Path(torch.hub.get_dir()) / "pyiqa")
        with weights_only_loads():  # pyiqa reads its files with weights_only=False
            self.model = pyiqa.create_metric(self.pyiqa_name, device=self.device, **self.create_options())
        self.model.eval()

    @torch.inference_mode()
    def score(self, reference: torch.Tensor, reconstruction: torch.Tensor) -> float:
        target = to_float(reconstruction.to(self.device))
        with seeded_by(reconstruction, self.device):
            if self.kind == FULL_REFERENCE:
                value = self.model(target, to_float(reference.to(self.device)))
            else:
                value = self.model(target)
        return float(value.reshape(-1)[0].item())


@contextmanager
def seeded_by(image: torch.Tensor, device: torch.device):
    """Within the block, torch's (CPU and ``device``), numpy's and Python's global random
    generators start from a seed made of ``image``'s pixel sha256; outside it they are as
    they were."""
    seed = int(pixel_sha256(image)[:8], 16)
    cuda = [device] if device.type == "cuda" else []
    numpy_state, python_state = np.random.get_state(), random.getstate()
    with torch.random.fork_rng(devices=cuda):
        torch.default_generator.manual_seed(seed)
        for gpu in cuda:
            with torch.cuda.device(gpu):
                torch.cuda.manual_seed(seed)
        np.random.seed(seed)
        random.seed(seed)
        try:
            yield
        finally:
            np.random.set_state(numpy_state)
            random.setstate(python_state)


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


@register_metric("dists")
class DISTS(PyiqaMetric):
    """Deep image structure and texture similarity (Ding et al. 2020), VGG-16, pyiqa."""

    name, pyiqa_name, kind, higher_is_better = "dists", "dists", FULL_REFERENCE, False
    description = "deep image structure and texture similarity, VGG-16"
    # pyiqa builds VGG-16 from torchvision's file, then loads alpha and beta (strict=False:
    # a wrong file loads silently, so its hash is checked by rdpbench)
    weight_names = ["DISTS_weights-f5e65c96.pth", "vgg16-397923af.pth"]
    checkpoint = "DISTS_weights-f5e65c96.pth"
    bytes_per_pixel = 1700  # 1561 measured on the CPU at 768x512, 1494 at 1536x1024


#: pyiqa's metric modes, as its configuration table writes them.
PYIQA_KINDS = {"FR": FULL_REFERENCE, "NR": NO_REFERENCE}
_OPTION = re.compile(r"\s*([A-Za-z_]\w*)\s*=\s*('[^']*'|\"[^\"]*\"|[^,'\"]*?)\s*(?:,|$)")
_BARE_STRING = re.compile(r"[A-Za-z_][\w.+/-]*")


@register_metric("pyiqa")
class PyiqaByName(PyiqaMetric):
    """Any per-image metric of pyiqa, by its pyiqa name, with options in parentheses."""

    name = "pyiqa"
    argument = "NAME(OPTIONS)"
    kind = "as pyiqa says"  # each instance takes its kind and direction from pyiqa's table
    higher_is_better = True
    bytes_per_pixel = 1700  # not measured per network: the largest measured pyiqa figure (DISTS')
    description = ("any per-image metric of pyiqa by its name: pyiqa:topiq_nr, pyiqa:ms_ssim(test_y_channel=false); "
                   "`python -c 'import pyiqa; print(pyiqa.list_models())'` names them all")

    def __init__(self, argument: str, device: str = "cpu"):
        super().__init__(device=device)
        from pyiqa.default_model_configs import DEFAULT_CONFIGS

        self.pyiqa_name, self.options = parse_pyiqa_argument(argument)
        if self.pyiqa_name not in DEFAULT_CONFIGS:
            closest = difflib.get_close_matches(self.pyiqa_name, list(DEFAULT_CONFIGS), n=6, cutoff=0.5)
            raise UnknownNameError("pyiqa metric", self.pyiqa_name, (
                f"{', '.join(closest) or 'none is close'} are the closest of pyiqa's {len(DEFAULT_CONFIGS)} "
                "(all of them: python -c 'import pyiqa; print(pyiqa.list_models())')"))
        config = DEFAULT_CONFIGS[self.pyiqa_name]
        if "fid" in self.pyiqa_name or self.pyiqa_name == "inception_score":  # pyiqa's own test for folder metrics
            raise RdpbenchError(f"pyiqa:{self.pyiqa_name} scores folders of images, not one image; rdpbench's "
                                "fid and kid score the patches of a rate point")
        if config.get("metric_mode") not in PYIQA_KINDS:
            raise RdpbenchError(f"pyiqa:{self.pyiqa_name}: pyiqa's table gives no metric mode (FR or NR)")
        self.kind = PYIQA_KINDS[config["metric_mode"]]
        self.higher_is_better = not config.get("lower_better", False)
        self.name = pyiqa_metric_name(self.pyiqa_name, self.options)
        self.description = f"pyiqa {self.pyiqa_name}"

    def settings(self) -> tuple[type, dict]:
        """The pyiqa network class this metric builds, and every option it is built with: the
        network's own defaults, then pyiqa's table, then the options given (each checked to be
        one the network takes)."""
        from pyiqa.default_model_configs import DEFAULT_CONFIGS

        table = DEFAULT_CONFIGS[self.pyiqa_name]["metric_opts"]
        network = pyiqa_architecture(self.pyiqa_name, table["type"])
        parameters = inspect.signature(network.__init__).parameters
        accepted = [key for key in parameters if key != "self"]
        refused = [key for key in self.options if key not in accepted]
        if refused and not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
            raise RdpbenchError(f"{self.name}: pyiqa's {network.__name__} takes no option {', '.join(refused)}; "
                                f"its options: {', '.join(accepted) or 'none'}")
        defaults = {key: p.default for key, p in parameters.items() if p.default is not inspect.Parameter.empty}
        return network, {**defaults, **table, **self.options}

    def weight_files(self) -> list[WeightFile]:
        network, settings = self.settings()
        urls = getattr(import_module(network.__module__), "default_model_urls", None)
        return [pyiqa_weight_file(url, self.name) for url in
                store_files_used(urls if isinstance(urls, dict) else {}, settings, self.pyiqa_name)]

    def variant(self) -> dict:
        from pyiqa.default_model_configs import DEFAULT_CONFIGS

        return {"implementation": f"pyiqa {metadata.version('pyiqa')}", "pyiqa_name": self.pyiqa_name,
                "options": {**DEFAULT_CONFIGS[self.pyiqa_name]["metric_opts"], **self.options},
                "given": self.options, "weights": sorted(file.file_name for file in self.weight_files())}

    def create_options(self) -> dict:
        return dict(self.options)

    def prepare(self) -> None:
        try:
            super().prepare()
        except (OSError, ImportError) as error:
            raise RdpbenchError(
                f"pyiqa could not build {self.name}: {type(error).__name__}: {error}. It may be fetching a file "
                "rdpbench does not declare (a backbone from torchvision, timm or the Hugging Face hub), or need a "
                "package that is not installed; build it once on a machine with internet, or install the package"
            ) from None


def parse_pyiqa_argument(argument: str) -> tuple[str, dict]:
    """``"ssim(test_y_channel=false, downsample=true)"`` -> ("ssim", {"test_y_channel": False,
    "downsample": True}). Values are read as booleans (true/false), integers, floats, or else
    strings (quoted with ' or " when they hold a comma); nothing is evaluated as code."""
    match = re.fullmatch(r"\s*([\w.+-]+)\s*(?:\((.*)\))?\s*", argument, re.S)
    if not match:
        raise RdpbenchError(f"pyiqa:{argument}: give pyiqa:NAME or pyiqa:NAME(KEY=VALUE, ...)")
    name, body = match.group(1), (match.group(2) or "").strip()
    options, position = {}, 0
    while position < len(body):
        item = _OPTION.match(body, position)
        if not item or item.end() == position:
            raise RdpbenchError(f"pyiqa:{argument}: cannot read the options from {body[position:]!r}; "
                                "write KEY=VALUE, separated by commas")
        key, text = item.group(1), item.group(2)
        if not text:
            raise RdpbenchError(f"pyiqa:{argument}: option {key} has no value")
        if key in options:
            raise RdpbenchError(f"pyiqa:{argument}: option {key} is given twice")
        options[key] = _option_value(text)
        position = item.end()
    return name, options


def _option_value(text: str):
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def pyiqa_metric_name(pyiqa_name: str, options: dict) -> str:
    """The one way rdpbench writes a pyiqa metric with options (its column in the results):
    options sorted by key, booleans as true/false, strings quoted only where needed."""
    if not options:
        return f"pyiqa:{pyiqa_name}"
    written = []
    for key, value in sorted(options.items()):
        if isinstance(value, bool):
            text = str(value).lower()
        elif isinstance(value, str) and not (_BARE_STRING.fullmatch(value) and _option_value(value) == value):
            text = repr(value)
        else:
            text = str(value)
        written.append(f"{key}={text}")
    return f"pyiqa:{pyiqa_name}({','.join(written)})"


def pyiqa_architecture(pyiqa_name: str, type_name: str) -> type:
    """pyiqa's network class ``type_name``, imported from the module of pyiqa/archs that
    defines it (found by reading the sources, as pyiqa itself imports only what it builds)."""
    import pyiqa.archs

    folder = Path(pyiqa.archs.__file__).parent
    definition = re.compile(rf"^class {re.escape(type_name)}\b", re.M)
    for source in sorted(folder.glob("*.py")):
        if definition.search(source.read_text(encoding="utf-8")):
            try:
                return getattr(import_module(f"pyiqa.archs.{source.stem}"), type_name)
            except ImportError as error:
                raise RdpbenchError(f"pyiqa:{pyiqa_name} needs a package that is not installed ({error}); "
                                    "install it, or choose another metric") from None
    raise RdpbenchError(f"pyiqa:{pyiqa_name}: pyiqa {metadata.version('pyiqa')} defines no network {type_name}")


def store_files_used(urls: dict[str, str], settings: dict, pyiqa_name: str) -> list[str]:
    """The URLs of a network's ``default_model_urls`` that a metric with ``settings`` loads.

    pyiqa picks an entry by a key made of option values (``model_name``, ``pretrained``,
    ``train_dataset``, ``"<version>_<net>"``), the metric's or the network's name, or takes
    the one marked ``url``. An entry is taken when its key is such a value, or values joined
    by ``_`` or ``-``; failing that the ``url`` entry, or the only file there is. Networks
    built with ``pretrained=false`` or their own ``pretrained_model_path`` load none. Files
    pyiqa fetches through other loaders (torchvision, timm, the Hugging Face hub) are not
    among them."""
    if settings.get("pretrained") is False or settings.get("pretrained_model_path"):
        return []
    values = {str(value) for value in settings.values() if isinstance(value, (str, int, float))}
    values |= {pyiqa_name, str(settings.get("type"))}
    chosen = [url for key, url in urls.items() if _joined_from(key, values)]
    if not chosen and "url" in urls:
        chosen = [urls["url"]]
    if not chosen and len(set(urls.values())) == 1:
        chosen = list(urls.values())
    return list(dict.fromkeys(chosen))


def _joined_from(key: str, values: set[str]) -> bool:
    """Whether ``key`` is one of ``values``, or several of them joined by ``_`` or ``-``."""
    if key in values:
        return True
    return any(key.startswith(value) and key[len(value):len(value) + 1] in ("_", "-")
               and _joined_from(key[len(value) + 1:], values) for value in values if value)
