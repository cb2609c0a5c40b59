"""The options codecs take (``rdpbench run --eta 0.5``), declared once each.

A codec lists the options its constructor takes in ``options``; a run refuses any other, checks
that an option applies to one of the run's samplers, and says when a value cannot help on the
run's device. The constructor checks the value itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..errors import RdpbenchError


@dataclass(frozen=True)
class CodecOption:
    """A keyword a codec's constructor takes besides ``device``."""

    name: str
    help: str
    #: The samplers the option means something for, and those in words; None: every sampler.
    applies_to: Callable[[str], bool] | None = None
    applies_to_text: str = ""
    #: (value, device type) -> a note when the value cannot help on that device, else None.
    device_note: Callable[[object, str], str | None] | None = None


def _bf16_note(value, device: str) -> str | None:
    if value == "bf16" and device == "cpu":
        return ("--precision bf16 on the CPU: bfloat16 autocast is meant for GPUs and runs slower "
                "than fp32 here; images differ slightly from fp32's")
    return None


def _compile_note(value, device: str) -> str | None:
    if value and device == "cpu":
        return "--compile on the CPU: compiling takes minutes and gains little over eager mode here"
    return None


CHECKPOINT = CodecOption("checkpoint", "decoder checkpoint files, one per rate point")
ETA = CodecOption("eta", "DDIM's eta, from 0 (no noise after x_T) to 1 (DDPM-like)",
                  applies_to=lambda sampler: sampler.startswith("ddim"), applies_to_text="DDIM samplers (ddimN)")
PRECISION = CodecOption("precision", "UNet precision: fp32 or bf16", device_note=_bf16_note)
COMPILE = CodecOption("compile", "put the UNet through torch.compile", device_note=_compile_note)
TRUST_CHECKPOINT = CodecOption("trust_checkpoint", "read checkpoints by full unpickling, which can run code: "
                               "only for files from a source you trust")


def check_eta(eta: float) -> float:
    """``eta`` if it is a number from 0 to 1, else RdpbenchError. Above 1 the DDIM step's noise
    exceeds what the chain leaves room for (its variance 1 - alpha_bar_prev - sigma^2 turns
    negative)."""
    eta = float(eta)
    if not 0.0 <= eta <= 1.0:  # also refuses nan
        raise RdpbenchError(f"--eta {eta}: DDIM's eta is a number from 0 (deterministic) to 1 (DDPM-like)")
    return eta


def option_notes(codec_class: type, given: dict, samplers: list[str], device: str) -> list[str]:
    """Refuse an option given for a run none of whose ``samplers`` it applies to; return a
    note for each value that cannot help on ``device`` (cpu, cuda)."""
    notes = []
    declared = {option.name: option for option in codec_class.options}
    for name, value in given.items():
        option = declared.get(name)
        if option is None:
            continue
        if option.applies_to and not any(map(option.applies_to, samplers)):
            raise RdpbenchError(f"--{name} applies to {option.applies_to_text} only; this run's samplers "
                                f"are {', '.join(samplers)}")
        note = option.device_note(value, device) if option.device_note else None
        if note:
            notes.append(note)
    return notes
