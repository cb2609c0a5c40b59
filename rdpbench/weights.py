"""Every weight file a codec or metric needs: where it comes from, how to check it, where it lives.

Files live where their upstream loaders look, so a file fetched by CompressAI, torchvision or
pyiqa is found here too and vice versa: ``$TORCH_HOME/hub/<folder>/<file name>`` (``TORCH_HOME``
defaults to ``~/.cache/torch``). Upstream file names carry a prefix of the file's sha256
(``mbt2018-mean-1-e522738d.pth.tar``); that prefix, or the full sha256 where it is known, is
what a file is checked against.

A run never downloads by itself: it stops before any work and names each missing file, its
place and the command that fetches it (``rdpbench weights download``), so an air-gapped
cluster gets an actionable message rather than a hanging socket.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import pickle
import re
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch

from .atomic import atomic_write
from .errors import MissingWeightsError, RdpbenchError, UnknownNameError

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


class DamagedWeightsError(RdpbenchError):
    """A weight file that is in place but cannot be read: truncated or corrupt."""


class UnsafeCheckpointError(RdpbenchError):
    """A weight file referring to a function or class that only full unpickling rebuilds:
    reading it may run code, so it is refused."""


@functools.cache
def harmless_globals() -> tuple:
    """What checkpoints hold beyond tensors and plain Python values that is rebuilt without
    running code: training arguments as an ``argparse.Namespace``, numpy scalars and dtypes
    (numpy 1 writes its scalar function as ``numpy.core``, numpy 2 as ``numpy._core``)."""
    import argparse

    import numpy as np

    scalar = np.float64(0).__reduce__()[0]  # the function numpy rebuilds every scalar with
    dtype_classes = {type(np.dtype(code)) for code in np.typecodes["All"]}
    return (argparse.Namespace, np.dtype, *dtype_classes,
            (scalar, "numpy.core.multiarray.scalar"), (scalar, "numpy._core.multiarray.scalar"))


_FORCE_WEIGHTS_ONLY = "TORCH_FORCE_WEIGHTS_ONLY_LOAD"
_FORCE_FULL_UNPICKLING = "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"


@contextmanager
def weights_only_loads():
    """Within the block, every ``torch.load``, a library's included, reads with
    ``weights_only=True`` whatever its caller asks (torch's ``TORCH_FORCE_WEIGHTS_ONLY_LOAD``):
    it takes tensors, plain Python values and :func:`harmless_globals`, and refuses anything
    else with an UnpicklingError naming it."""
    saved = {name: os.environ.pop(name, None) for name in (_FORCE_WEIGHTS_ONLY, _FORCE_FULL_UNPICKLING)}
    os.environ[_FORCE_WEIGHTS_ONLY] = "1"
    try:
        with torch.serialization.safe_globals(list(harmless_globals())):
            yield
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None)
            if value is not None:
                os.environ[name] = value


def unsafe_message(file: WeightFile, refused: str) -> str:
    """Why ``file``, which refers to ``refused``, is not read, and how to replace it."""
    return (
        f"{file.path} refers to {refused}, which is neither a tensor nor a plain value: reading it may run "
        "code, so rdpbench does not (checkpoints are read with weights_only=True). Replace it with the "
        f"published file: delete it and fetch it again with  rdpbench weights download {file.file_name}"
    )


def load_checkpoint(file: WeightFile, trust: bool = False):
    """The contents of the PyTorch file ``file``, read without running code
    (:func:`weights_only_loads`); raise UnsafeCheckpointError, naming what it refers to, for a
    file that cannot be. With ``trust`` (the user vouches for where the file came from) it is
    read by full unpickling instead."""
    if trust:
        return torch.load(file.path, map_location="cpu", weights_only=False)
    try:
        with weights_only_loads():
            return torch.load(file.path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        refused = refused_global(error)
        if refused is None:
            raise
        raise UnsafeCheckpointError(
            unsafe_message(file, refused) + "\nIf you trust where this file came from, have it read anyway "
            "with the codec option trust_checkpoint=True (rdpbench run --trust-checkpoint)"
        ) from None


def unreadable_reason(path: Path) -> str | None:
    """Why ``path`` cannot be read as the kind of file it claims to be (None if it can).
    Checkpoints are read with ``weights_only=True``: never by running pickled code. A file
    that is whole but refers to an object such a read refuses is not damaged."""
    if path.stat().st_size == 0:
        return "the file is empty"
    error = _read_error(path)
    if error is None or refused_global(error):
        return None
    return f"it cannot be read as a {'MATLAB' if path.suffix == '.mat' else 'PyTorch'} file ({type(error).__name__})"


def _read_error(path: Path) -> Exception | None:
    """What reading ``path`` without running code raises (None when it reads)."""
    try:
        if path.suffix == ".mat":
            import scipy.io

            scipy.io.loadmat(path)
        else:
            with weights_only_loads():
                torch.load(path, map_location="cpu", weights_only=True, mmap=_is_zip(path))
    except Exception as error:  # noqa: BLE001  (any failure to parse means the same here)
        return error
    return None


_REFUSED = re.compile(r"GLOBAL ([\w.]+)|allowlisted via `add_safe_globals`,? but got <class '([\w.]+)'>")


def refused_global(error: Exception | None) -> str | None:
    """The function or class a ``weights_only`` read refused (e.g. ``posix.system``), if that
    is what ``error`` says; None for any other failure."""
    if not isinstance(error, pickle.UnpicklingError):
        return None
    match = _REFUSED.search(str(error))
    return next(name for name in match.groups() if name) if match else None


def _is_zip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(4) == b"PK\x03\x04"


def damaged_message(path: Path, reason: str, file: WeightFile) -> str:
    """What to tell a user about a damaged weight file: which, why, and how to replace it."""
    message = f"{path} is damaged: {reason}; it may be truncated by an interrupted download or copy."
    actual, expected = sha256_of(path), file.expected_hash
    if expected and not actual.startswith(expected):
        message += f" Its sha256 is {actual[:16]}..., the published file's starts {expected[:16]}."
    return (
        message + f" Delete it and fetch it again:  rdpbench weights download {file.file_name}\n"
        "or, without internet, copy a good copy into place:  rdpbench weights import FOLDER"
    )


@contextmanager
def loading(files: list[WeightFile]):
    """Run a block that loads ``files`` (through any library's loader). If it fails, raise
    DamagedWeightsError naming a file that cannot be read, or UnsafeCheckpointError naming a
    file that refers to what a read without running code refuses, instead of the loader's own
    error (which may be a raw unpickling traceback)."""
    try:
        yield
    except UnsafeCheckpointError:
        raise
    except Exception as error:
        refused = refused_global(error)
        for file in files:
            if not file.path.is_file():
                continue
            if refused:
                if refused_global(_read_error(file.path)) == refused:
                    raise UnsafeCheckpointError(unsafe_message(file, refused)) from None
                continue
            reason = unreadable_reason(file.path)
            if reason:
                raise DamagedWeightsError(damaged_message(file.path, reason, file)) from None
        raise


_hash_cache: dict[tuple[str, int, int], str] = {}


def sha256_of(path: Path) -> str:
    """sha256 of a file, remembered per (path, size, mtime) for the life of the process."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _hash_cache:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _hash_cache[key] = digest.hexdigest()
    return _hash_cache[key]


def fingerprint(file: WeightFile) -> dict:
    """What a run manifest records of a file it used: its sha256 and whether it is upstream's."""
    actual = sha256_of(file.path)
    expected = file.expected_hash
    return {
        "file": file.file_name,
        "sha256": actual,
        "matches_upstream": None if expected is None else actual.startswith(expected),
    }


def download(file: WeightFile) -> Path:
    """Fetch ``file`` from its URL into place, checking its hash; return its path."""
    if file.package:
        raise MissingWeightsError(
            f"{file.file_name} ships inside the {file.package} package: reinstall {file.package}"
        )
    file.path.parent.mkdir(parents=True, exist_ok=True)
    partial = file.path.with_name(file.path.name + ".partial")
    try:
        torch.hub.download_url_to_file(file.url, str(partial), progress=True)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise MissingWeightsError(
            f"cannot download {file.file_name} from {file.url} ({error}). "
            + (f"{file.note} " if file.note else "")
            + f"Without a download, put the file into {file.path.parent} with `rdpbench weights import FOLDER`"
        ) from None
    actual = sha256_of(partial)
    expected = file.expected_hash
    if expected and not actual.startswith(expected):
        partial.unlink()
        raise MissingWeightsError(
            f"{file.file_name}: downloaded file has sha256 {actual}, expected {expected}"
        )
    os.replace(partial, file.path)
    return file.path


def import_from(folder: Path, files: list[WeightFile] | None = None) -> tuple[list[Path], list[str]]:
    """Copy every weight file of ``files`` (default: every known one) found in ``folder`` (by
    file name) into its place, after checking its hash where one is published (and that it
    reads, where none is). Returns the paths written and, for each file refused, why (a
    refused file is left where it was)."""
    copied, refused = [], []
    for file in weight_files().values() if files is None else files:
        if file.package:
            continue  # ships inside its package
        source = folder / file.file_name
        if not source.is_file():
            continue
        actual, expected = sha256_of(source), file.expected_hash
        if expected and not actual.startswith(expected):
            refused.append(
                f"{source}: sha256 {actual[:16]}... is not the published file's ({expected[:16]}...); "
                "not imported"
            )
            continue
        damage = None if expected else unreadable_reason(source)  # no hash to check: read it
        if damage:
            refused.append(f"{source}: {damage}; not imported")
            continue
        with open(source, "rb") as handle:
            atomic_write(file.path, lambda target: shutil.copyfileobj(handle, target), binary=True)
        copied.append(file.path)
    return copied, refused


@dataclass(frozen=True)
class Verified:
    """The state of one weight file: ``ok``, ``missing``, ``MISMATCH`` (not the upstream
    file), ``DAMAGED`` (does not read) or ``no hash`` (reads; nothing published to compare)."""

    file: WeightFile
    state: str
    sha256: str | None


def verify(files: list[WeightFile] | None = None) -> tuple[list[Verified], list[str]]:
    """Check ``files`` (default: every known one): each one's state, and the problems to
    report (missing files and how to fetch them, files that differ or do not read)."""
    chosen = list(weight_files().values()) if files is None else files
    verified = []
    for file in chosen:
        if not file.path.is_file():
            verified.append(Verified(file, "missing", None))
            continue
        result = fingerprint(file)
        state = {True: "ok", False: "MISMATCH", None: "no hash"}[result["matches_upstream"]]
        if result["matches_upstream"] is None and unreadable_reason(file.path):
            state = "DAMAGED"  # nothing to compare with, but it does not even read
        verified.append(Verified(file, state, result["sha256"]))
    missing = [entry.file.file_name for entry in verified if entry.state == "missing"]
    bad = sum(entry.state in ("MISMATCH", "DAMAGED") for entry in verified)
    problems = []
    if missing:
        problems.append(f"{len(missing)} file(s) missing; fetch them with `rdpbench weights download "
                        f"{' '.join(missing)}` or `rdpbench weights import FOLDER`")
    if bad:
        problems.append(f"{bad} file(s) differ from upstream or do not read: results will not match published ones")
    return verified, problems
