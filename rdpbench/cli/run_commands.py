"""Commands that make results: ``run``, ``merge``, ``decode``, ``train``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from .app import app
from .codec_options import Checkpoint, Compile, Eta, Precision, TrustCheckpoint, codec_options
from .handling import handled, say


@app.command()
@handled()
def run(
    codec: Annotated[
        str,
        typer.Option(
            help="Codec to evaluate: a name from `rdpbench list codecs`, folder:PATH for "
            "precomputed reconstructions, ext:PATH.toml for an encoder and decoder run as programs, "
            "or module:Class for your own codec."
        ),
    ],
    quality: Annotated[
        Optional[list[str]],
        typer.Option(
            "--quality", "-q", help="Rate points, e.g. --quality 10 50 (default: the codec's own)."
        ),
    ] = None,
    sampler: Annotated[
        Optional[list[str]],
        typer.Option("--sampler", "-s", help="Decode-time settings, e.g. --sampler ddim10 ddpm100."),
    ] = None,
    target_bpp: Annotated[
        Optional[list[float]],
        typer.Option(help="Target rates instead of --quality, e.g. --target-bpp 0.075 0.15 0.3: per image, the "
                     "codec setting with the highest rate at or below each (codecs with a fine rate setting)."),
    ] = None,
    dataset: Annotated[
        str, typer.Option(help="kodak, sample (offline, ships with scikit-image), a set installed with `rdpbench "
                          "datasets download` (see `rdpbench datasets list`) or a folder of images.")
    ] = "sample",
    metrics: Annotated[
        str, typer.Option(help="Comma-separated metric names, or 'all' (see `rdpbench list metrics`); any pyiqa "
                          "metric as pyiqa:NAME or pyiqa:NAME(KEY=VALUE,...), e.g. pyiqa:ms_ssim(test_y_channel=false).")
    ] = "psnr",
    out: Annotated[Path, typer.Option(help="Folder that receives one subfolder per run.")] = Path("results"),
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:N, or auto (GPU when present).")] = "auto",
    seed: Annotated[int, typer.Option(help="Seed of stochastic decoders (per image, reproducible).")] = 0,
    limit: Annotated[Optional[int], typer.Option(help="Use only the first N images.")] = None,
    name: Annotated[
        Optional[str], typer.Option(help="Run folder name (default: codec-samplers-dataset).")
    ] = None,
    patches: Annotated[
        Optional[str],
        typer.Option(
            help="Patch protocol of FID/KID: 'hific' (256x256 grid plus the grid shifted by 128; "
            "the default), 'grid' (unshifted grid only) or 'paper' (the seed paper's: portraits "
            "transposed, unshifted grid, pyiqa's clean-fid Inception and FID)."
        ),
    ] = None,
    checkpoint: Checkpoint = None,
    eta: Eta = None,
    precision: Precision = None,
    compile: Compile = False,
    trust_checkpoint: TrustCheckpoint = False,
    batch_size: Annotated[
        Optional[int],
        typer.Option(help="Same-size images decoded at once, for codecs that decode in batches (default: 1 on "
                     "CPU, sized to free memory on CUDA). Results do not depend on it."),
    ] = None,
    save_images: Annotated[
        bool, typer.Option(help="Keep every reconstruction as a PNG: RUN/images/QUALITY/SAMPLER/IMAGE.png.")
    ] = False,
    save_bitstreams: Annotated[
        bool, typer.Option(help="Keep every bitstream: RUN/bitstreams/QUALITY/IMAGE.rdpb (see `rdpbench decode`).")
    ] = False,
    complexity: Annotated[
        bool, typer.Option("--complexity", help="Also measure each rate point and sampler's MACs per pixel, "
                           "parameters and peak CUDA memory on the first image (points.csv, complexity.csv).")
    ] = False,
    shard: Annotated[
        Optional[str],
        typer.Option(help="Run only shard I/N of the images (1-based), e.g. a job array's task; join the "
                     "shards with `rdpbench merge`."),
    ] = None,
    ignore_memory_check: Annotated[
        bool,
        typer.Option(help="Go on when the preflight estimates that an image needs more memory than is "
                     "available (the estimate errs on the high side)."),
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    wait: Annotated[
        bool,
        typer.Option(help="When another run is writing the same folder, wait for it (else stop at once)."),
    ] = True,
) -> None:
    """Encode, decode and score every image of a dataset; write OUT/RUN/{images,points}.csv
    and run.json. Rerunning the same command resumes where it stopped."""
    from .. import run as runs

    settings = runs.RunSettings(
        codec=codec, points=quality or [], samplers=sampler or [], dataset=dataset, metrics=metrics, out=out,
        name=name, device=device, seed=seed, limit=limit, patch_protocol=patches, save_images=save_images,
        save_bitstreams=save_bitstreams, shard=runs.parse_shard(shard) if shard else None, batch_size=batch_size,
        check_memory=not ignore_memory_check,
        codec_options=codec_options(checkpoint, eta, precision, compile, trust_checkpoint),
        target_bpp=target_bpp or [], complexity=complexity, command=["rdpbench", *sys.argv[1:]],
    )
    folder = runs.run(settings, progress=progress, wait=wait)
    if os.environ.get("RANK", "0") == "0":  # under torchrun, rank 0 speaks for the run
        typer.echo(f"results written to {folder}")


@app.command()
@handled(os_error="cannot write {out}: {error}")
def merge(
    shards: Annotated[list[Path], typer.Argument(help="The shard run folders (all N of them).")],
    out: Annotated[Path, typer.Option(help="The run folder to write (new).")],
) -> None:
    """Join the shards of a job array into the run folder one process would have written."""
    from ..run.merge import merge_shards

    folder = merge_shards(shards, out)
    typer.echo(f"merged {len(shards)} shards into {folder}")


@app.command()
@handled(os_error="cannot decode {bitstream}: {error}")
def decode(
    bitstream: Annotated[Path, typer.Argument(help="A bitstream file (.rdpb), as `run --save-bitstreams` keeps.")],
    out: Annotated[Path, typer.Option(help="The PNG file to write (its folder must exist).")],
    codec: Annotated[
        Optional[str],
        typer.Option(help="Decoder (default: the codec the bitstream names; 'ours' decodes msh bytes "
                     "with the diffusion decoder)."),
    ] = None,
    sampler: Annotated[Optional[str], typer.Option(help="Decode-time setting (default: the codec's first).")] = None,
    seed: Annotated[int, typer.Option(help="The run's --seed; the image's own seed derives from it and --image.")] = 0,
    image: Annotated[
        Optional[str], typer.Option(help="The image's name, for its seed (default: the file name's stem).")
    ] = None,
    checkpoint: Checkpoint = None,
    eta: Eta = None,
    precision: Precision = None,
    compile: Compile = False,
    trust_checkpoint: TrustCheckpoint = False,
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:N, or auto.")] = "auto",
) -> None:
    """Decode one saved bitstream into a PNG, in a fresh process: the same image the run
    decoded from the same bytes, sampler, seed and codec options."""
    from ..run.decode import decode_saved

    decoded = decode_saved(bitstream, out, codec=codec, sampler=sampler, seed=seed, image=image, device=device,
                           options=codec_options(checkpoint, eta, precision, compile, trust_checkpoint))
    say(decoded.notes)
    typer.echo(f"wrote {out} ({decoded.codec}, sampler {decoded.sampler})")


@app.command()
@handled(resume="rerun the same command to resume from the last checkpoint")
def train(
    quality: Annotated[str, typer.Option(help="MSH quality whose frozen encoder makes the latents (1..8).")],
    out: Annotated[Path, typer.Option(help="Checkpoint file; an existing one is resumed.")],
    data: Annotated[str, typer.Option(help="Training images: a folder, 'kodak' or 'sample'.")] = "sample",
    steps: Annotated[int, typer.Option(help="Total optimiser steps (the paper: 1.5M).")] = 1000,
    size: Annotated[str, typer.Option(help="Network size: paper, small or tiny.")] = "paper",
    batch_size: Annotated[int, typer.Option(help="Images per step.")] = 4,
    crop: Annotated[int, typer.Option(help="Random-resized-crop side (a multiple of 64).")] = 128,
    loss: Annotated[
        str,
        typer.Option(help="authors (their code: L1 on eps + variational term + rho LPIPS) or paper "
                     "(its eqs. 4-5: MSE on eps + rho LPIPS, fixed variance)."),
    ] = "authors",
    rho: Annotated[float, typer.Option(help="Weight of the LPIPS(VGG) term on the predicted x0.")] = 0.9,
    lr: Annotated[float, typer.Option(help="AdamW learning rate.")] = 5e-5,
    save_every: Annotated[int, typer.Option(help="Steps between checkpoints.")] = 1000,
    log_every: Annotated[int, typer.Option(help="Steps between loss records.")] = 100,
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:N or auto.")] = "auto",
    seed: Annotated[int, typer.Option(help="Seed of initialisation, crops and noise.")] = 0,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Train the conditional diffusion decoder of codec 'ours' on a frozen MSH encoder."""
    from ..decoder_training import run_training

    state = run_training(
        quality=quality, out=out, data=data, steps=steps, size=size, batch_size=batch_size,
        crop=crop, loss=loss, rho=rho, lr=lr, save_every=save_every,
        log_every=log_every, device=device, seed=seed, progress=progress,
    )
    last = state.history[-1] if state.history else {}
    typer.echo(f"checkpoint {out} at step {state.step}; last loss {last.get('loss', float('nan')):.4f}")
