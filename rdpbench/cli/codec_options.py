"""The codec options ``run`` and ``decode`` both take, declared once (what each codec accepts
is its own declaration: :mod:`rdpbench.codecs.options`)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

Checkpoint = Annotated[
    Optional[list[str]],
    typer.Option(help="Decoder checkpoint of codec 'ours', one per rate point (any order)."),
]
Eta = Annotated[
    Optional[float],
    typer.Option(help="DDIM's eta for codec 'ours', from 0 (the default: no noise after x_T) to 1 (DDPM-like)."),
]
Precision = Annotated[
    Optional[str],
    typer.Option(help="UNet precision of the diffusion decoders (ours, cdc-*): fp32 (default) or bf16 "
                 "(autocast, channels-last; the entropy decoding stays fp32)."),
]
Compile = Annotated[
    bool, typer.Option("--compile", help="Put the UNet of the diffusion decoders (ours, cdc-*) through torch.compile.")
]

TrustCheckpoint = Annotated[
    bool, typer.Option("--trust-checkpoint", help="Read the published codecs' checkpoints (hific, msillm, noganms, "
                       "cdc-*) by full unpickling even where that can run code: only for files from a source you "
                       "trust. Recorded in run.json.")
]


def codec_options(checkpoint: list[str] | None, eta: float | None, precision: str | None, compile: bool,
                  trust_checkpoint: bool = False) -> dict:
    """The codec options that were given (a codec refuses those it does not declare)."""
    given = {"checkpoint": checkpoint, "eta": eta, "precision": precision, "compile": compile or None,
             "trust_checkpoint": trust_checkpoint or None}
    return {key: value for key, value in given.items() if value is not None}
