"""One writer per folder: a run folder, or the dataset cache.

Two ``rdpbench run`` processes writing the same folder would each rewrite images.csv from
their own rows and lose the other's. A run therefore holds an operating-system file lock
(``filelock``) on its folder from before it reads earlier rows until its last write. The
lock dies with its process, even on ``kill -9``, so a crashed run never blocks the next one.
Whoever holds the lock also leaves a small JSON note (pid, host, command, start time), so a
waiting run can say what it waits for.

The same lock on the dataset cache makes installs of image sets take turns
(:mod:`rdpbench.datasets.install`).
"""

from __future__ import annotations

import json
import os
import socket
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from filelock import FileLock, Timeout

from .atomic import atomic_write
from .errors import RdpbenchError

LOCK_FILE = ".rdpbench.lock"
OWNER_FILE = ".rdpbench.owner.json"


class FolderBusyError(RdpbenchError):
    """Another process is writing the folder and the caller chose not to wait."""


class FolderLock:
    """The exclusive right to write one folder; use as a context manager."""

    def __init__(
        self,
        folder: Path,
        command: list[str],
        wait: bool = True,
        on_wait: Callable[[str], None] | None = None,
    ):
        self.folder = Path(folder)
        self.command = command
        self.wait = wait
        self.on_wait = on_wait or (lambda message: None)
        self._lock = FileLock(str(self.folder / LOCK_FILE))

    def owner(self) -> str:
        """Who holds the lock, in words (as far as its note tells)."""
        try:
            note = json.loads((self.folder / OWNER_FILE).read_text())
            return (
                f"pid {note['pid']} on {note['host']}, started {note['started']}: "
                f"{' '.join(note['command'])}"
            )
        except (OSError, ValueError, KeyError, TypeError):
            return "another rdpbench process"

    def __enter__(self) -> "FolderLock":
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            busy = f"{self.folder} is being written by {self.owner()}"
            if not self.wait:
                raise FolderBusyError(
                    f"{busy}; rerun when it has finished (or without --no-wait to wait for it), "
                    "or write to another --name or --out"
                ) from None
            self.on_wait(f"{busy}; waiting for it to finish (Ctrl-C to stop)")
            self._lock.acquire()
        note = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": self.command,
        }
        atomic_write(self.folder / OWNER_FILE, lambda handle: handle.write(json.dumps(note)))
        return self

    def __exit__(self, *exc_info) -> None:
        (self.folder / OWNER_FILE).unlink(missing_ok=True)
        self._lock.release()

