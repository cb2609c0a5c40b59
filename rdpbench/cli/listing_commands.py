"""``rdpbench list codecs | metrics | datasets``."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from .app import app


class Listing(str, Enum):
    codecs = "codecs"
    metrics = "metrics"
    datasets = "datasets"


@app.command("list")
def list_things(what: Annotated[Listing, typer.Argument(help="codecs, metrics or datasets")]) -> None:
    """List the codecs, metrics or datasets rdpbench knows."""
    from .. import listings

    if what is Listing.codecs:
        rows = listings.codec_rows()
        width = max(len(name) for name, _, _ in rows)
        for name, points, summary in rows:
            typer.echo(f"{name:{width}s}  {summary}" + (f" Rate points: {points}." if points else ""))
    elif what is Listing.metrics:
        rows = listings.metric_rows()
        width = max(len(name) for name, *_ in rows)
        for name, kind, better, description in rows:
            typer.echo(f"{name:{width}s} {kind:15s} {better:16s}  {description}")
    else:
        rows = listings.dataset_rows()
        width = max(len(name) for name, _ in rows)
        for name, summary in rows:
            typer.echo(f"{name:{width}s} {summary}")
