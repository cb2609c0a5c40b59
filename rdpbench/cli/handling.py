"""How every command reports what went wrong: one ``error:`` line and an exit status (1 for
a user's error or a failed run, 130 after Ctrl-C, 143 after SIGTERM), never a traceback;
damaged results files met on the way are named in ``warning:`` lines."""

from __future__ import annotations

import functools
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import typer

from ..errors import DamagedResultsWarning, RdpbenchError, RunInterrupted

RESUME = "rerun the same command to resume"


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def handled(os_error: str | None = None, resume: str = RESUME) -> Callable:
    """Decorator of a command: rdpbench's errors and interrupts become one line and the exit
    status. ``os_error`` (formatted with the command's arguments and ``error``) says what an
    OSError stopped; ``resume`` tells how to go on after an interrupt."""

    def decorate(command: Callable) -> Callable:
        @functools.wraps(command)
        def wrapper(**arguments):
            try:
                with warnings_printed():
                    return command(**arguments)
            except RunInterrupted as interrupt:
                fail(f"stopped by {interrupt.signal_name}; {resume}", interrupt.exit_code)
            except KeyboardInterrupt:
                fail(f"interrupted; {resume}", 130)
            except RdpbenchError as error:
                fail(str(error))
            except OSError as error:
                if os_error is None:
                    raise
                fail(os_error.format(**arguments, error=os_error_text(error)))

        return wrapper

    return decorate


def os_error_text(error: OSError) -> str:
    """What failed and on which file: ``Permission denied: /data/x`` (``a -> b`` for a rename)."""
    text = error.strerror or str(error)
    if error.filename is None:
        return text
    names = [error.filename] + ([error.filename2] if error.filename2 is not None else [])
    return f"{text}: {' -> '.join(map(str, names))}"


@contextmanager
def warnings_printed():
    """Print each DamagedResultsWarning of the block as one ``warning:`` line (others as Python would)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DamagedResultsWarning)
        try:
            yield
        finally:
            for warning in caught:
                if issubclass(warning.category, DamagedResultsWarning):
                    typer.echo(f"warning: {warning.message}", err=True)
                else:
                    warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)


def require_folder(folder: Path) -> None:
    if not folder.is_dir():
        raise RdpbenchError(f"{folder} is not a folder")


def echo_written(paths: list[Path]) -> None:
    for path in paths:
        typer.echo(f"wrote {path}")


def say(notes: list[str]) -> None:
    for note in notes:
        typer.echo(f"note: {note}", err=True)
