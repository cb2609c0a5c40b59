"""The ``rdpbench`` command line: a thin layer over the library.

User errors (unknown names, missing files or weights, unreadable images, damaged files) and
failed runs print a message and exit with status 1; a run interrupted by Ctrl-C exits with
130, one stopped by SIGTERM with 143, and either resumes when rerun.
"""

from __future__ import annotations

import os
import sys
import warnings
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from .errors import RdpbenchError, RunInterrupted

app = typer.Typer(
    help=(
        "Rate-distortion-perception benchmarks of image codecs.\n\n"
        "Start with:  rdpbench run --codec jpeg --dataset sample   "
        "(then look in results/)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
weights_app = typer.Typer(help="Weight files of codecs and metrics: list, download, verify, import.")
app.add_typer(weights_app, name="weights")

#: Options that take several values after one flag: ``--quality 10 50``.
MULTI_VALUE_OPTIONS = ("--quality", "-q", "--sampler", "-s", "--checkpoint")


def expand_multi_value_options(args: list[str]) -> list[str]:
    """Rewrite ``--quality 10 50`` as ``--quality 10 --quality 50`` (and ``10,50`` alike).
    A sampler's section counts stay together: ``ddpm10,10,10,ddim10`` is two samplers.
    Raises ValueError for a flag given no value."""
    expanded, current, given = [], None, False
    for arg in args:
        if arg in MULTI_VALUE_OPTIONS:
            _check_given(current, given)
            current, given = arg, False
            continue
        if current and (not arg.startswith("-") or _is_number(arg)):
            values: list[str] = []
            for value in filter(None, arg.split(",")):
                if current in ("--sampler", "-s") and value.isdigit() and values:
                    values[-1] += f",{value}"
                else:
                    values.append(value)
            for value in values:
                expanded += [current, value]
            given = given or bool(values)
            continue
        _check_given(current, given)
        current = None
        expanded.append(arg)
    _check_given(current, given)
    return expanded


def _check_given(option: str | None, given: bool) -> None:
    if option and not given:
        raise ValueError(f"{option} needs at least one value")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def main() -> None:
    """Console entry point."""
    # compressai's import-time use of torch.jit.script warns on recent torch; not ours to fix.
    warnings.filterwarnings("ignore", category=FutureWarning, module="torch.jit")
    try:
        args = expand_multi_value_options(sys.argv[1:])
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise SystemExit(2) from None
    app(args=args, prog_name="rdpbench")


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _require_folder(folder: Path) -> None:
    if not folder.is_dir():
        _fail(f"{folder} is not a folder")


def _echo_written(paths: list[Path]) -> None:
    for path in paths:
        typer.echo(f"wrote {path}")


@contextmanager
def _results_warnings_printed():
    """Print each DamagedResultsWarning of the block as one ``warning:`` line."""
    from .errors import DamagedResultsWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DamagedResultsWarning)
        try:
            yield
        finally:
            for warning in caught:
                if issubclass(warning.category, DamagedResultsWarning):
                    typer.echo(f"warning: {warning.message}", err=True)


@app.command()
def run(
    codec: Annotated[
        str,
        typer.Option(
            help="Codec to evaluate: a name from `rdpbench list codecs`, folder:PATH for "
            "precomputed reconstructions, or module:Class for your own codec."
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
    dataset: Annotated[
        str, typer.Option(help="kodak, sample (offline, ships with scikit-image) or a folder of images.")
    ] = "sample",
    metrics: Annotated[
        str, typer.Option(help="Comma-separated metric names, or 'all' (see `rdpbench list metrics`).")
    ] = "psnr",
    out: Annotated[Path, typer.Option(help="Folder that receives one subfolder per run.")] = Path(
        "results"
    ),
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
    checkpoint: Annotated[
        Optional[list[str]],
        typer.Option(help="Decoder checkpoint of codec 'ours', one per rate point (any order)."),
    ] = None,
    eta: Annotated[
        Optional[float],
        typer.Option(help="DDIM's eta for codec 'ours' (default 0: no noise after x_T; 1: DDPM-like)."),
    ] = None,
    precision: Annotated[
        Optional[str],
        typer.Option(help="UNet precision of the diffusion decoders (ours, cdc-*): fp32 (default) or bf16 "
                     "(autocast, channels-last; the entropy decoding stays fp32)."),
    ] = None,
    compile: Annotated[
        bool, typer.Option("--compile", help="Put the UNet of the diffusion decoders (ours, cdc-*) through torch.compile.")
    ] = False,
    batch_size: Annotated[
        Optional[int],
        typer.Option(help="Same-size images decoded at once (default: 1 on CPU, sized to free memory on "
                     "CUDA). Results do not depend on it."),
    ] = None,
    save_images: Annotated[
        bool, typer.Option(help="Keep every reconstruction as a PNG: RUN/images/QUALITY/SAMPLER/IMAGE.png.")
    ] = False,
    save_bitstreams: Annotated[
        bool, typer.Option(help="Keep every bitstream: RUN/bitstreams/QUALITY/IMAGE.rdpb (see `rdpbench decode`).")
    ] = False,
    shard: Annotated[
        Optional[str],
        typer.Option(help="Run only shard I/N of the images (1-based), e.g. a job array's task; join the "
                     "shards with `rdpbench merge`."),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    wait: Annotated[
        bool,
        typer.Option(help="When another run is writing the same folder, wait for it (else stop at once)."),
    ] = True,
) -> None:
    """Encode, decode and score every image of a dataset; write OUT/RUN/{images,points}.csv
    and run.json. Rerunning the same command resumes where it stopped."""
    from .runner import Run, RunSettings

    settings = RunSettings(
        codec=codec,
        points=quality or [],
        samplers=sampler or [],
        dataset=dataset,
        metrics=metrics,
        out=out,
        name=name,
        device=device,
        seed=seed,
        limit=limit,
        patch_protocol=patches,
        save_images=save_images,
        save_bitstreams=save_bitstreams,
        batch_size=batch_size,
        codec_options=_codec_options(checkpoint, eta, precision, compile),
        command=["rdpbench", *sys.argv[1:]],
    )
    from .distributed import launched_by_torchrun, run_distributed

    try:
        settings.shard = _parse_shard(shard) if shard else None
        if launched_by_torchrun():
            folder = run_distributed(settings, progress=progress, wait=wait)
        else:
            folder = Run(settings).execute(progress=progress, wait=wait)
    except RdpbenchError as error:
        _fail(str(error))
    except RunInterrupted as interrupt:
        _fail(f"stopped by {interrupt.signal_name}; rerun the same command to resume", code=interrupt.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted; rerun the same command to resume", code=130)
    if os.environ.get("RANK", "0") == "0":  # under torchrun, rank 0 speaks for the run
        typer.echo(f"results written to {folder}")


def _codec_options(
    checkpoint: list[str] | None, eta: float | None, precision: str | None = None, compile: bool = False
) -> dict:
    """The codec options that were given (codecs refuse those they do not take)."""
    given = {"checkpoint": checkpoint, "eta": eta, "precision": precision, "compile": compile or None}
    return {key: value for key, value in given.items() if value is not None}


def _parse_shard(text: str) -> tuple[int, int]:
    index, slash, count = text.partition("/")
    if not (slash and index.isdigit() and count.isdigit()):
        raise RdpbenchError(f"--shard {text!r}: give I/N, e.g. 2/8 for the second of eight shards")
    return int(index), int(count)


@app.command()
def merge(
    shards: Annotated[list[Path], typer.Argument(help="The shard run folders (all N of them).")],
    out: Annotated[Path, typer.Option(help="The run folder to write (new).")],
) -> None:
    """Join the shards of a job array into the run folder one process would have written."""
    from .merge import merge_shards

    try:
        with _results_warnings_printed():
            folder = merge_shards(shards, out)
    except RdpbenchError as error:
        _fail(str(error))
    except OSError as error:
        _fail(f"cannot write {out}: {error.strerror or error}")
    typer.echo(f"merged {len(shards)} shards into {folder}")


@app.command()
def decode(
    bitstream: Annotated[Path, typer.Argument(help="A bitstream file (.rdpb), as `run --save-bitstreams` keeps.")],
    out: Annotated[Path, typer.Option(help="The PNG file to write.")],
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
    checkpoint: Annotated[
        Optional[list[str]], typer.Option(help="Decoder checkpoint of codec 'ours'.")
    ] = None,
    eta: Annotated[Optional[float], typer.Option(help="DDIM's eta for codec 'ours'.")] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:N, or auto.")] = "auto",
) -> None:
    """Decode one saved bitstream into a PNG, in a fresh process: the same image the run
    decoded from the same bytes, sampler and seed."""
    from .atomic import atomic_write
    from .bitstream import Bitstream
    from .codecs import get_codec
    from .images import encode_png
    from .runner import image_seed, resolve_device

    try:
        data = bitstream.read_bytes()
        name = codec or Bitstream.from_bytes(data).codec
        decoder = get_codec(name, device=resolve_device(device), **_codec_options(checkpoint, eta))
        chosen = decoder.check_sampler(sampler) if sampler else decoder.samplers[0]
        reconstruction = decoder.decode(data, sampler=chosen, seed=image_seed(seed, image or bitstream.stem))
        png = encode_png(reconstruction)
        atomic_write(out, lambda handle: handle.write(png), binary=True)
    except RdpbenchError as error:
        _fail(str(error))
    except (OSError, ValueError) as error:
        _fail(f"cannot decode {bitstream}: {error}")
    typer.echo(f"wrote {out} ({name}, sampler {chosen})")


@app.command()
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
    from .decoder_training import run_training

    try:
        state = run_training(
            quality=quality, out=out, data=data, steps=steps, size=size, batch_size=batch_size,
            crop=crop, loss=loss, rho=rho, lr=lr, save_every=save_every,
            log_every=log_every, device=device, seed=seed, progress=progress,
        )
    except RdpbenchError as error:
        _fail(str(error))
    except KeyboardInterrupt:
        _fail("interrupted; rerun the same command to resume from the last checkpoint", code=130)
    last = state.history[-1] if state.history else {}
    typer.echo(f"checkpoint {out} at step {state.step}; last loss {last.get('loss', float('nan')):.4f}")


@app.command()
def plot(
    folder: Annotated[Path, typer.Argument(help="Folder of runs (and CompressAI JSON files).")] = Path("results"),
    out: Annotated[
        Optional[Path],
        typer.Option(help="Output file stem; STEM-DATASET.png/.pdf/.csv are written (default FOLDER/fig3)."),
    ] = None,
    dataset: Annotated[
        Optional[str], typer.Option(help="Draw only this image set (a name from the written file names).")
    ] = None,
    published: Annotated[bool, typer.Option(help="Draw published curves from the codec cards.")] = True,
    distortion: Annotated[str, typer.Option(help="x axis of the distortion-perception view.")] = "psnr",
    perception: Annotated[str, typer.Option(help="y axis of the distortion-perception view.")] = "fid",
    ci: Annotated[
        bool, typer.Option("--ci", help="Draw 95% per-image bootstrap bands around each per-image metric's mean.")
    ] = False,
) -> None:
    """Draw the paper's Fig. 3 (2x4 metrics against bpp) and the distortion-perception view,
    one figure set per image set, each with a CSV of the points it draws."""
    from .plots import draw_results

    try:
        with _results_warnings_printed():
            written, notes = draw_results(folder, out=out, dataset=dataset, published=published,
                                          distortion=distortion, perception=perception, ci=ci)
    except RdpbenchError as error:
        _fail(str(error))
    for note in notes:
        typer.echo(f"note: {note}", err=True)
    _echo_written(written)


@app.command()
def show(
    folder: Annotated[Path, typer.Argument(help="Folder of runs made with --save-images.")] = Path("results"),
    image: Annotated[str, typer.Option(help="The image to show, by name (e.g. kodim23).")] = ...,
    crop: Annotated[Optional[str], typer.Option(help="Zoomed region x,y,w,h in pixels (default: a centred square).")] = None,
    bpp: Annotated[
        Optional[float], typer.Option(help="Show each curve's rate point nearest this bpp (default: its lowest).")
    ] = None,
    out: Annotated[Optional[Path], typer.Option(help="Output file stem (default FOLDER/fig2-IMAGE).")] = None,
) -> None:
    """The paper's Fig. 2: an image as each codec and sampler decoded it at about the same rate,
    with a zoomed crop and the measured bpp, PSNR and LPIPS."""
    from .plots import save_figure
    from .show import comparison_panels, parse_crop, plot_comparison

    _require_folder(folder)
    try:
        with _results_warnings_printed():
            panels, notes = comparison_panels(folder, image, bpp)
        for note in notes:
            typer.echo(f"note: {note}", err=True)
        figure = plot_comparison(panels, parse_crop(crop) if crop else None)
        written = save_figure(figure, out or folder / f"fig2-{image}")
    except RdpbenchError as error:
        _fail(str(error))
    except OSError as error:
        _fail(f"cannot write the figure: {error.strerror or error}")
    _echo_written(written)


@app.command()
def report(
    folder: Annotated[Path, typer.Argument(help="Folder of runs (and CompressAI JSON files).")] = Path("results"),
    anchor: Annotated[
        Optional[str],
        typer.Option(help="Reference curve of BD-rate: CODEC or CODEC@SAMPLER (default: msh when present, "
                     "else the first curve)."),
    ] = None,
    out: Annotated[Optional[Path], typer.Option(help="Folder for report.md and CSVs (default FOLDER).")] = None,
) -> None:
    """Tables of every metric per rate point, and BD-rate / BD-metric against an anchor."""
    from .report import write_report

    _require_folder(folder)
    try:
        with _results_warnings_printed():
            written = write_report(folder, out, anchor)
    except RdpbenchError as error:
        _fail(str(error))
    except OSError as error:
        _fail(f"cannot write the report to {out or folder}: {error.strerror or error}")
    _echo_written(written)


class Listing(str, Enum):
    codecs = "codecs"
    metrics = "metrics"
    datasets = "datasets"


@app.command("list")
def list_things(what: Annotated[Listing, typer.Argument(help="codecs, metrics or datasets")]) -> None:
    """List the codecs, metrics or datasets rdpbench knows."""
    if what is Listing.codecs:
        from .codecs import CODECS, list_codecs

        for codec_name in list_codecs():
            if codec_name == "folder":
                continue  # listed below with its argument
            codec_class = CODECS.get(codec_name) if codec_name in CODECS else None
            doc = (codec_class.__doc__ or "").strip().splitlines()[0] if codec_class else "(plug-in)"
            typer.echo(f"{codec_name:10s} {doc}")
        typer.echo(f"{'folder:PATH':10s} Precomputed reconstructions in PATH; rates from <stem>.bin files or rates.csv")
    elif what is Listing.metrics:
        from .metrics import METRICS

        for metric_name in METRICS.names():
            metric = METRICS.get(metric_name)
            better = "higher" if metric.higher_is_better else "lower"
            typer.echo(f"{metric_name:8s} {metric.kind:15s} {better} is better  {metric.description}")
    else:
        from .datasets import DATASETS

        for dataset_name in DATASETS.names():
            doc = (DATASETS.get(dataset_name).__doc__ or "").strip().splitlines()[0]
            typer.echo(f"{dataset_name:8s} {doc}")
        typer.echo(f"{'PATH':8s} any folder of images")


@weights_app.command("list")
def weights_list() -> None:
    """Every weight file rdpbench knows, and whether it is in place."""
    from .weights import notes_of, weight_files

    for file in weight_files().values():
        state = "present" if file.path.is_file() else "missing"
        typer.echo(f"{state:8s} {file.describe()}")
    for note in notes_of(list(weight_files().values())):
        typer.echo(f"note: {note}")


@weights_app.command("download")
def weights_download(
    files: Annotated[
        Optional[list[str]],
        typer.Argument(help="File names from `rdpbench weights list` (default: every missing one)."),
    ] = None,
) -> None:
    """Download weight files from their upstream URLs into place, checking their hashes."""
    from .weights import download, get_weight_file, weight_files

    try:
        wanted = [get_weight_file(f) for f in files] if files else [
            f for f in weight_files().values() if not f.path.is_file()
        ]
        for file in wanted:
            typer.echo(f"downloaded {download(file)}")
    except RdpbenchError as error:
        _fail(str(error))
    except OSError as error:
        _fail(f"download failed ({error}); on a machine without internet use `weights import`")


@weights_app.command("verify")
def weights_verify(
    files: Annotated[
        Optional[list[str]],
        typer.Argument(help="File names from `rdpbench weights list` (default: every file)."),
    ] = None,
) -> None:
    """Check that weight files are in place and match the upstream hash; exit 1 if any is
    missing or differs."""
    from .weights import fingerprint, get_weight_file, unreadable_reason, weight_files

    try:
        chosen = [get_weight_file(f) for f in files] if files else list(weight_files().values())
    except RdpbenchError as error:
        _fail(str(error))
    missing, mismatches = [], 0
    for file in chosen:
        if not file.path.is_file():
            missing.append(file)
            typer.echo(f"{'missing':8s} {file.file_name}  -> {file.path}")
            continue
        result = fingerprint(file)
        state = {True: "ok", False: "MISMATCH", None: "no hash"}[result["matches_upstream"]]
        if result["matches_upstream"] is None and unreadable_reason(file.path):
            state = "DAMAGED"  # nothing to compare with, but it does not even read
        mismatches += state in ("MISMATCH", "DAMAGED")
        typer.echo(f"{state:8s} {file.file_name}  sha256 {result['sha256']}")
    problems = []
    if missing:
        problems.append(
            f"{len(missing)} file(s) missing; fetch them with `rdpbench weights download "
            f"{' '.join(f.file_name for f in missing)}` or `rdpbench weights import FOLDER`"
        )
    if mismatches:
        problems.append(f"{mismatches} file(s) differ from upstream or do not read: results will not match "
                        "published ones")
    if problems:
        _fail("; ".join(problems))


@weights_app.command("import")
def weights_import(
    folder: Annotated[Path, typer.Argument(help="Folder holding weight files under their upstream names.")],
) -> None:
    """Copy known weight files from a folder into place (for machines without internet),
    refusing any whose hash differs from the published file's."""
    from .weights import import_from

    _require_folder(folder)
    try:
        copied, refused = import_from(folder)
    except OSError as error:
        _fail(f"cannot copy into the weights cache: {error}")
    for path in copied:
        typer.echo(f"imported {path}")
    for reason in refused:
        typer.echo(f"refused  {reason}", err=True)
    if refused:
        _fail(f"{len(refused)} file(s) refused: they differ from the published files")
    if not copied:
        _fail(f"no known weight file in {folder} (see `rdpbench weights list` for the names)")
