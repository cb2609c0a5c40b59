"""Reading checkpoints without running code: ``torch.load`` with ``weights_only=True`` and an
allow-list of harmless classes, and errors that name a damaged or unsafe file and how to
replace it."""

from __future__ import annotations

import functools
import os
import pickle
import re
from contextlib import contextmanager
from pathlib import Path

import torch

from ..errors import RdpbenchError
from ..file_hash import sha256_of
from .files import WeightFile


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
