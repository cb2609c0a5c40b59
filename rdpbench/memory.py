"""How much memory the machine can give this process, in bytes.

Read from the kernel's estimate of memory available without swapping (``MemAvailable`` in
/proc/meminfo), lowered to what the process's cgroup (v2) still allows where it sets a
limit (batch schedulers do); without /proc, from psutil when it is installed; else unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class AvailableMemory:
    """Bytes available (None: unknown) and where the number comes from."""

    bytes: int | None
    source: str


def available_memory() -> AvailableMemory:
    """The memory this process can still take, and its source."""
    meminfo = _meminfo_available()
    if meminfo is not None:
        limit = _cgroup_headroom()
        if limit is not None and limit < meminfo:
            return AvailableMemory(limit, "the cgroup's memory.max less its memory.current")
        return AvailableMemory(meminfo, "MemAvailable in /proc/meminfo")
    try:
        import psutil
    except ImportError:
        return AvailableMemory(None, "neither /proc/meminfo nor psutil is available")
    return AvailableMemory(int(psutil.virtual_memory().available), "psutil.virtual_memory().available")


def format_bytes(count: float) -> str:
    """``3.3 GB``, ``512 MB``, ``12 kB`` (decimal units)."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count:.0f} B"


def _meminfo_available() -> int | None:
    try:
        for line in (PROC / "meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024  # the kernel writes kB meaning KiB
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_headroom() -> int | None:
    """memory.max less memory.current of this process's cgroup v2, or None without a limit."""
    try:
        lines = (PROC / "self" / "cgroup").read_text().splitlines()
        path = next(line[3:] for line in lines if line.startswith("0::"))
        folder = CGROUP_ROOT / path.lstrip("/")
        limit = (folder / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return max(0, int(limit) - int((folder / "memory.current").read_text()))
    except (OSError, ValueError, StopIteration):
        return None
