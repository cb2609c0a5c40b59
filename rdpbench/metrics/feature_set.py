"""The patch features of a set of images, read image by image so that memory does not grow
with the set.

A :class:`FeatureSet` is a list of per-image feature arrays (patches x dimensions) in set
order: ``.npy`` files, opened memory-mapped only while they are read, or arrays already in
memory. The distribution metrics take from it either running statistics (:meth:`statistics`,
a few images at a time) or chosen rows (:meth:`rows`); a whole set is read at once only by
:meth:`all_rows`, which callers keep for sets of bounded size.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import DamagedResultsError, RdpbenchError


@dataclass(frozen=True)
class FeatureStatistics:
    """Patch count, mean and covariance (float64, normalised by count - 1) of a feature set."""

    count: int
    mean: np.ndarray
    covariance: np.ndarray


class Layout(NamedTuple):
    """Where a source's features lie: byte offset in its file (None in memory), dtype, shape
    and memory order."""

    offset: int | None
    dtype: np.dtype
    shape: tuple[int, int]
    order: str


#: Rows per matrix product of the running sums: Inception's 2048 dimensions. Products of
#: one image's few dozen patches each took 1.6 to 2 times as long.
BLOCK_ROWS = 2048


class FeatureSet:
    """Per-image feature arrays in set order, given as ``.npy`` paths or arrays; row ``i`` of
    the set is row ``i`` of their concatenation."""

    def __init__(self, sources: list[Path | np.ndarray]):
        if not sources:
            raise ValueError("a feature set needs at least one image's features")
        self.sources = list(sources)
        # each file's header is read once: later opens map its data without parsing it again
        self._layouts = [self._layout(source) for source in self.sources]
        self.dimensions = self._layouts[0].shape[1]
        for source, layout in zip(self.sources, self._layouts):
            if layout.shape[1] != self.dimensions:
                raise self._refused(source, f"features of {layout.shape[1]} dimensions where the set's first "
                                            f"image has {self.dimensions}")
        self.dtype = np.result_type(*(layout.dtype for layout in self._layouts))
        #: Set-wide index of each source's first row, and one past the last source's last row.
        self.starts = np.concatenate([[0], np.cumsum([layout.shape[0] for layout in self._layouts])]).astype(np.int64)

    @classmethod
    def of(cls, features: FeatureSet | np.ndarray) -> FeatureSet:
        """``features`` as a FeatureSet (an array is a set of one image)."""
        return features if isinstance(features, FeatureSet) else cls([np.asarray(features)])

    def __len__(self) -> int:
        return int(self.starts[-1])

    def arrays(self):
        """Each source's features in turn (memory-mapped for files)."""
        for index in range(len(self.sources)):
            yield self._open(index)

    def all_rows(self) -> np.ndarray:
        """Every row, in one array: for sets known to be small."""
        return np.concatenate([np.asarray(array, self.dtype) for array in self.arrays()])

    def rows(self, indices) -> np.ndarray:
        """The rows at set-wide ``indices``, in that order; each source is opened once."""
        indices = np.asarray(indices, dtype=np.int64)
        if len(indices) and (indices.min() < 0 or indices.max() >= len(self)):
            raise IndexError(f"row indices outside 0..{len(self) - 1}")
        owners = np.searchsorted(self.starts, indices, side="right") - 1
        gathered = np.empty((len(indices), self.dimensions), self.dtype)
        for owner in np.unique(owners):
            chosen = owners == owner
            gathered[chosen] = self._open(owner)[indices[chosen] - self.starts[owner]]
        return gathered

    def blocks(self, rows: int):
        """The features in order, whole sources joined into blocks of at least ``rows`` rows
        (the last may have fewer)."""
        pending, count = [], 0
        for array in self.arrays():
            pending.append(array)
            count += len(array)
            if count >= rows:
                yield np.concatenate(pending)
                pending, count = [], 0
        if count:
            yield np.concatenate(pending)

    def statistics(self, dtype: type = np.float64) -> FeatureStatistics:
        """Mean and covariance of the features rounded to ``dtype``, a block at a time: the
        mean from a running sum in ``dtype``, row after row, as numpy's mean over the rows of
        the whole matrix adds them (so float32 means are those of packages that keep float32
        features); the covariance from float64 running sums (count, sum, sum of outer products)."""
        running = np.zeros(self.dimensions, dtype)
        shift, total = None, np.zeros(self.dimensions)
        outer = np.zeros((self.dimensions, self.dimensions))
        for block in self.blocks(BLOCK_ROWS):  # a new array each time, free to change in place
            features = block.astype(dtype, copy=False)
            running = np.cumsum(np.concatenate([running[None], features]), axis=0)[-1]
            deviations = features.astype(np.float64, copy=False)
            if shift is None:
                # sums of deviations from a value near the mean: sum(x x^T) - n m m^T of raw
                # features would cancel most of the digits of a small covariance
                shift = deviations.mean(0)
            deviations -= shift
            total += deviations.sum(0)
            outer += deviations.T @ deviations
        count = len(self)
        if count < 2:
            raise ValueError(f"a covariance needs at least 2 patches; the set has {count}")
        mean = (running / dtype(count)).astype(np.float64)
        return FeatureStatistics(count, mean, (outer - np.outer(total, total) / count) / (count - 1))

    def _layout(self, source: Path | np.ndarray) -> Layout:
        """Where a source's features lie, checked to be features (patches x dimensions)."""
        if isinstance(source, np.ndarray):
            array, offset = source, None
        else:
            array = self._read(source, lambda: np.load(source, mmap_mode="r"))
            offset = array.offset
        if array.ndim != 2 or not np.issubdtype(array.dtype, np.floating):
            raise self._refused(source, f"{array.dtype} of shape {array.shape}, not features (patches x dimensions)")
        return Layout(offset, array.dtype, array.shape, "F" if np.isfortran(array) else "C")

    def _open(self, index: int) -> np.ndarray:
        source, layout = self.sources[index], self._layouts[index]
        if isinstance(source, np.ndarray):
            return source
        # a plain mapping: numpy.memmap costs three times as much to open, which counts for the
        # rows of KID's subsets, spread over every file of a set
        with self._read(source, lambda: open(source, "rb")) as handle:
            mapped = self._read(source, lambda: mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ))
        count = layout.shape[0] * layout.shape[1]
        data = self._read(source, lambda: np.frombuffer(mapped, layout.dtype, count, layout.offset))
        return data.reshape(layout.shape, order=layout.order)

    def _read(self, path: Path, read):
        try:
            return read()
        except FileNotFoundError:
            raise RdpbenchError(f"features file {path} is missing; rerun the command that wrote its run") from None
        except (OSError, ValueError, EOFError) as error:
            raise DamagedResultsError(f"cannot read the features in {path} ({error}); delete it and rerun the "
                                      "command that wrote its run") from None

    @staticmethod
    def _refused(source: Path | np.ndarray, problem: str) -> Exception:
        """The error for a source that is not one image's features: a damaged results file, or
        a caller's mistake."""
        if isinstance(source, np.ndarray):
            return ValueError(f"an array given as features holds {problem}")
        return DamagedResultsError(f"{source} holds {problem}; delete it and rerun the command that wrote its run")
