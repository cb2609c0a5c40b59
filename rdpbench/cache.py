"""rdpbench's own cache folder (downloaded datasets, reference-side features) and atomic
storage of feature arrays."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .atomic import atomic_write


def cache_root() -> Path:
    """``$RDPBENCH_CACHE``, else ``$XDG_CACHE_HOME/rdpbench``, else ``~/.cache/rdpbench``."""
    if os.environ.get("RDPBENCH_CACHE"):
        return Path(os.environ["RDPBENCH_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rdpbench"


def save_array(array: np.ndarray, path: Path) -> None:
    """Write ``array`` to ``path`` (.npy) so a reader never sees a partial file."""
    atomic_write(path, lambda handle: np.save(handle, array), binary=True)


def load_array(path: Path) -> np.ndarray | None:
    """The array stored at ``path``, or None when there is none."""
    return np.load(path) if path.is_file() else None
