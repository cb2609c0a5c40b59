"""How many same-size images one decode takes at once.

Results do not depend on it beyond floating-point rounding: each image carries its own seed,
but a network's kernels may sum in another order for another batch size (on CPU, CDC's
images then differ by one grey level in about one value in 20000; ours and the GAN decoders
came out identical). A
size asked for is kept. Otherwise the CPU decodes one image at a time (batching buys little
there), and on CUDA the first decode runs alone while its peak memory is measured, and the
batch then grows to what the free memory holds, up to ``MAX_AUTO_BATCH``.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch

MAX_AUTO_BATCH = 16
#: Share of the free memory an automatic batch may plan to use.
HEADROOM = 0.8


def batch_size_for_memory(bytes_per_image: float, free_bytes: float, cap: int = MAX_AUTO_BATCH) -> int:
    """The largest batch, at least 1 and at most ``cap``, whose planned memory
    (``bytes_per_image`` each) fits in ``HEADROOM`` of ``free_bytes``."""
    if bytes_per_image <= 0:
        return cap
    return max(1, min(cap, int(HEADROOM * free_bytes // bytes_per_image)))


class DecodeBatching:
    """The decode batch size of a run: ``requested`` (None: automatic) on ``device``; a codec
    that decodes one image at a time (not ``batched``) is given one at a time."""

    def __init__(self, requested: int | None, device: str, batched: bool = True):
        if requested is not None and requested < 1:
            raise ValueError(f"batch size must be at least 1, not {requested}")
        self.requested = requested
        self.cuda = torch.device(device).type == "cuda" and batched
        self.device = device
        self._size = requested or (None if self.cuda else 1)

    def most(self) -> int:
        """The most images a batch may hold (what a memory estimate must allow for)."""
        return self.requested or (MAX_AUTO_BATCH if self.cuda else 1)

    def size(self) -> int:
        """The batch size to schedule now (1 while the automatic size is being measured)."""
        return self._size or 1

    def describe(self) -> str:
        return str(self.requested) if self.requested else f"auto ({self.size()})"

    @contextmanager
    def measuring(self, n_images: int):
        """Around a decode of ``n_images``: on CUDA, the first one fixes the automatic size."""
        if self._size is not None or not self.cuda:
            yield
            return
        torch.cuda.synchronize(self.device)
        torch.cuda.reset_peak_memory_stats(self.device)
        before = torch.cuda.memory_allocated(self.device)
        yield
        peak = torch.cuda.max_memory_allocated(self.device) - before
        free, _ = torch.cuda.mem_get_info(self.device)
        cached = torch.cuda.memory_reserved(self.device) - torch.cuda.memory_allocated(self.device)
        self._size = batch_size_for_memory(peak / n_images, free + cached)

    def shrink(self, size: int) -> None:
        """After running out of memory: schedule at most ``size`` images from now on."""
        self._size = max(1, size)
