"""What a codec costs: multiply-accumulates (MACs) per pixel and parameters of its encoder and
decoder, per step of a diffusion sampler, and the peak device memory of a decode, measured by
running the codec's own encode and decode on a real image.

MACs come from torch's FLOP counter (``torch.utils.flop_counter.FlopCounterMode``), which
counts 2 FLOPs per multiply-accumulate of matrix products, convolutions (transposed ones
included) and attention, and nothing else (no bias additions, normalisations, activations or
entropy coding): MACs = FLOPs / 2, exactly. Parameters are those of every module whose forward
ran during the pass, each counted once (a sampler's UNet once, however many steps). The
peak memory is ``torch.cuda.max_memory_allocated`` over the decode (weights included); on the
CPU it is not measured.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from .schema import COMPLEXITY_COLUMNS, COMPLEXITY_NOTE

#: How the values are measured, as run.json records it.
COMPLEXITY_METHOD = ("once per rate point and sampler, on the run's first image: MACs = FLOPs / 2 of "
                     "torch.utils.flop_counter (matrix products, convolutions, attention), per pixel of the "
                     "original; parameters of the modules that ran; peak torch.cuda.max_memory_allocated "
                     "of the decode (CUDA only)")
NOT_NETWORK_NOTE = "not a torch network: MACs and parameters not applicable"
CPU_MEMORY_NOTE = "peak memory measured on CUDA only"


@dataclass(frozen=True)
class PassCost:
    """One encode or decode: its multiply-accumulates, those inside the step network's calls
    and how many calls, and the parameters of the modules that ran."""

    macs: int
    step_macs: int
    steps: int
    params: int


@dataclass(frozen=True)
class Complexity:
    """A codec's cost at one rate point and sampler, measured on one image of ``pixels`` pixels.
    ``encode`` and ``decode`` are None where the codec is not a torch network; ``peak_bytes``
    is None where not measured."""

    pixels: int
    encode: PassCost | None
    decode: PassCost | None
    peak_bytes: int | None
    notes: tuple[str, ...] = ()

    def columns(self) -> dict:
        """The points.csv columns (:data:`rdpbench.schema.COMPLEXITY_COLUMNS` and the note)."""
        values = dict.fromkeys(COMPLEXITY_COLUMNS)
        if self.encode is not None:
            values.update(enc_kmac_per_px=self.encode.macs / self.pixels / 1000, enc_params=self.encode.params)
        if self.decode is not None:
            values.update(dec_kmac_per_px=self.decode.macs / self.pixels / 1000, dec_params=self.decode.params)
            if self.decode.steps:
                values.update(dec_steps=self.decode.steps,
                              dec_step_kmac_per_px=self.decode.step_macs / self.decode.steps / self.pixels / 1000)
        if self.peak_bytes is not None:
            values["dec_peak_mb"] = self.peak_bytes / 2**20
        values[COMPLEXITY_NOTE] = "; ".join(self.notes)
        return values


class _WholeProgram:
    """Stands in for FlopCounterMode's per-module tracker, whose hooks fail under
    ``torch.inference_mode`` on a module given a parameter as input (CompressAI's entropy
    bottleneck): every count goes to the total alone."""

    parents = frozenset({"Global"})

    def __enter__(self):
        return self

    def __exit__(self, *args):
        return None


def flop_counter() -> FlopCounterMode:
    """Torch's FLOP counter, counting the whole program only (it works in inference mode)."""
    counter = FlopCounterMode(display=False)
    counter.mod_tracker = _WholeProgram()
    return counter


class _PassCounter:
    """Counts FLOPs, the step network's share and calls, and the parameters of modules that
    ran, while active."""

    def __init__(self, step_network: torch.nn.Module | None):
        self.step_network = step_network
        self.flops = flop_counter()
        self.parameters: dict[int, int] = {}
        self.step_flops = 0
        self.steps = 0
        self._step_start = 0

    def _module_ran(self, module: torch.nn.Module, inputs) -> None:
        for parameter in module.parameters(recurse=False):
            self.parameters[id(parameter)] = parameter.numel()

    def _step_begins(self, module, inputs) -> None:
        self._step_start = self.flops.get_total_flops()

    def _step_ends(self, module, inputs, output) -> None:
        self.step_flops += self.flops.get_total_flops() - self._step_start
        self.steps += 1

    @contextmanager
    def active(self):
        handles = [torch.nn.modules.module.register_module_forward_pre_hook(self._module_ran)]
        if self.step_network is not None:
            handles += [self.step_network.register_forward_pre_hook(self._step_begins),
                        self.step_network.register_forward_hook(self._step_ends)]
        try:
            with self.flops:
                yield self
        finally:
            for handle in handles:
                handle.remove()

    def cost(self) -> PassCost:
        return PassCost(self.flops.get_total_flops() // 2, self.step_flops // 2, self.steps, sum(self.parameters.values()))


def measure(codec, name: str, image: torch.Tensor, point: str, sampler: str, seed: int) -> Complexity:
    """Encode ``image`` (uint8 (3, H, W), called ``name``) at ``point`` with ``codec`` (a
    :class:`~rdpbench.codecs.base.CodecBase`), decode it with ``sampler`` and ``seed``, and
    return what each side cost (nothing is run for a codec that is not a torch network)."""
    pixels = image.shape[1] * image.shape[2]
    if not codec.runs_networks:
        return Complexity(pixels, None, None, None, (NOT_NETWORK_NOTE,))
    encoder = _PassCounter(None)
    with encoder.active():
        encoded = codec.encode_for_run(name, image, point)
    decoder = _PassCounter(codec.step_network(point, sampler))
    on_cuda = codec.device.type == "cuda"
    if on_cuda:
        torch.cuda.synchronize(codec.device)
        torch.cuda.reset_peak_memory_stats(codec.device)
    with decoder.active():
        codec.decode_for_run([encoded], sampler, [seed])
    peak = torch.cuda.max_memory_allocated(codec.device) if on_cuda else None
    return Complexity(pixels, encoder.cost(), decoder.cost(), peak, () if on_cuda else (CPU_MEMORY_NOTE,))
