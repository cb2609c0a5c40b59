"""The typer applications that every command family registers with."""

import typer

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
datasets_app = typer.Typer(help="Downloadable image sets (CLIC, DIV2K): list, download, import, verify.")
app.add_typer(datasets_app, name="datasets")
