"""The ``rdpbench`` command line: a thin layer over the library, one module per command
family (:mod:`.run_commands`, :mod:`.results_commands`, :mod:`.listing_commands`,
:mod:`.weights_commands`, :mod:`.datasets_commands`). Every command reports errors the same
way (:mod:`.handling`): one ``error:`` line; exit status 1 for a user's error or a failed run,
130 after Ctrl-C and 143 after SIGTERM, and either kind of interrupted run resumes when rerun.
"""

from __future__ import annotations

import sys
import warnings

import typer

from . import (  # noqa: F401  (they register)
    datasets_commands,
    listing_commands,
    results_commands,
    run_commands,
    weights_commands,
)
from .app import app

#: Options that take several values after one flag: ``--quality 10 50``.
MULTI_VALUE_OPTIONS = ("--quality", "-q", "--sampler", "-s", "--checkpoint", "--target-bpp", "--at-bpp")


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


