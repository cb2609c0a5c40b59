"""Atomic file writes: a reader sees the old content or the new, never a mix, even if the
writer is killed midway (write to a temporary file beside the target, fsync, rename). The
file gets the permissions any new file gets (0666 less the umask), as other tools' output does."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import IO, Callable


def atomic_write(path: Path, write: Callable[[IO], None], binary: bool = False) -> None:
    """Call ``write(handle)`` on a temporary file, then move it onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb" if binary else "w", newline=None if binary else "") as handle:
            os.fchmod(handle.fileno(), 0o666 & ~_umask())  # mkstemp makes files 0600
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask
