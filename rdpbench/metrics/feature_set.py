"""The patch features of a set of images, read image by image so that memory does not grow
with the set.

A :class:`FeatureSet` is a list of per-image feature arrays (patches x dimensions) in set
order: ``.npy`` files, opened memory-mapped only while they are read, or arrays already in
memory. The distribution metrics take from it either running statistics (:meth:`statistics`,
one image at a time) or chosen rows (:meth:`rows`); a whole set is read at once only by
:meth:`all_rows`, which callers keep for sets of bounded size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DamagedResultsError, RdpbenchError


@dataclass(frozen=True)
class FeatureStatistics:
    """Patch count, mean and covariance (float64, normalised by count - 1) of a feature set."""

    count: int
    mean: np.ndarray
    covariance: np.ndarray


class FeatureSet:
    """Per-image feature arrays in set order, given as ``.npy`` paths or arrays; row ``i`` of
    the set is row ``i`` of their concatenation."""

    def __init__(self, sources: list[Path | np.ndarray]):
        if not sources:
            raise ValueError("a feature set needs at least one image's features")
        self.sources = list(sources)
        shapes, dtypes = zip(*(self._shape_and_dtype(index) for index in range(len(self.sources))))
        self.dimensions = shapes[0][1]
        for source, shape in zip(self.sources, shapes):
            if shape[1] != self.dimensions:
                raise DamagedResultsError(f"{self._name(source)} holds features of {shape[1]} dimensions, "
                                          f"{self._name(self.sources[0])} of {self.dimensions}{self._advice(source)}")
        self.dtype = np.result_type(*dtypes)
        counts = np.array([shape[0] for shape in shapes])
        #: Set-wide index of each source's first row, and one past the last source's last row.
        self.starts = np.concatenate([[0], np.cumsum(counts)])

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

    def statistics(self, dtype: type = np.float64) -> FeatureStatistics:
        """Mean and covariance of the features rounded to ``dtype``, one source at a time: the
        mean from a running sum in ``dtype``, row after row, as numpy's mean over the rows of
        the whole matrix adds them (so float32 means are those of packages that keep float32
        features); the covariance from float64 running sums (count, sum, sum of outer products)."""
        running = np.zeros(self.dimensions, dtype)
        shift, total = None, np.zeros(self.dimensions)
        outer = np.zeros((self.dimensions, self.dimensions))
        for array in self.arrays():
            features = np.asarray(array, dtype)
            if not len(features):
                continue
            running = np.cumsum(np.concatenate([running[None], features]), axis=0)[-1]
            deviations = features.astype(np.float64)  # a copy: the source stays as it is
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

    def _open(self, index: int) -> np.ndarray:
        source = self.sources[index]
        if isinstance(source, np.ndarray):
            return source
        try:
            return np.load(source, mmap_mode="r")
        except FileNotFoundError:
            raise RdpbenchError(f"features file {source} is missing; rerun the command that wrote its run") from None
        except (OSError, ValueError, EOFError) as error:
            raise DamagedResultsError(f"cannot read the features in {source} ({error}){self._advice(source)}") from None

    def _shape_and_dtype(self, index: int) -> tuple[tuple, np.dtype]:
        array, source = self._open(index), self.sources[index]
        if array.ndim != 2 or not np.issubdtype(array.dtype, np.floating):
            raise DamagedResultsError(f"{self._name(source)} holds {array.dtype} of shape {array.shape}, not "
                                      f"features (patches x dimensions){self._advice(source)}")
        return array.shape, array.dtype

    @staticmethod
    def _name(source: Path | np.ndarray) -> str:
        return "an array" if isinstance(source, np.ndarray) else str(source)

    @staticmethod
    def _advice(source: Path | np.ndarray) -> str:
        return "" if isinstance(source, np.ndarray) else "; delete it and rerun the command that wrote its run"
