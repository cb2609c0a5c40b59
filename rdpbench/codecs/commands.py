"""External programs as parts of a codec: command templates, and running them safely.

A template is split into arguments as a POSIX shell would split it (``shlex``), then each
argument has its ``{placeholders}`` filled in on its own. Nothing goes through a shell, so a
file name with spaces, quotes or ``;`` stays one argument and is never interpreted.
"""

from __future__ import annotations

import os
import shlex
import shutil
import string
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import RdpbenchError

#: How much of a failing command's output its error message quotes (on one line).
OUTPUT_TAIL_LINES = 6
OUTPUT_TAIL_CHARS = 600


class CommandError(RdpbenchError):
    """An external command that is missing, failed, ran too long, or wrote the wrong thing."""


@dataclass(frozen=True)
class CommandTemplate:
    """One command line with ``{name}`` placeholders (``{{`` and ``}}`` for literal braces)."""

    role: str
    text: str
    arguments: tuple[str, ...]

    @classmethod
    def parse(cls, role: str, text: str, allowed: set[str], required: set[str], where: str) -> "CommandTemplate":
        """The template ``text``; RdpbenchError, naming ``where`` and ``role``, when it does not
        split, names a placeholder outside ``allowed`` or lacks one of ``required``."""
        try:
            arguments = tuple(shlex.split(text))
        except ValueError as error:
            raise RdpbenchError(f"{where}: {role} command {text!r} does not split into arguments ({error})") from None
        if not arguments:
            raise RdpbenchError(f"{where}: {role} command is empty")
        template = cls(role, text, arguments)
        used = template.placeholders(where)
        unknown = sorted(used - allowed)
        if unknown:
            raise RdpbenchError(f"{where}: {role} command uses unknown placeholder(s) "
                                f"{', '.join('{' + name + '}' for name in unknown)}; "
                                f"known: {', '.join('{' + name + '}' for name in sorted(allowed))}")
        missing = sorted(required - used)
        if missing:
            raise RdpbenchError(f"{where}: {role} command lacks {', '.join('{' + name + '}' for name in missing)}")
        return template

    def placeholders(self, where: str = "") -> set[str]:
        """The names of the placeholders the template uses."""
        names = set()
        for argument in self.arguments:
            try:
                fields = list(string.Formatter().parse(argument))
            except ValueError as error:
                raise RdpbenchError(f"{where}: {self.role} command argument {argument!r}: {error} "
                                    "(write {{ and }} for literal braces)") from None
            for _, name, spec, conversion in fields:
                if name is None:
                    continue
                if not name.isidentifier() or spec or conversion:
                    raise RdpbenchError(f"{where}: {self.role} command argument {argument!r}: placeholders "
                                        "are plain names such as {input}")
                names.add(name)
        return names

    def fill(self, values: dict[str, str]) -> list[str]:
        """The command's arguments with every placeholder replaced by its value."""
        return [argument.format_map(values) for argument in self.arguments]


def find_program(program: str, path_variable: str | None) -> str | None:
    """Where ``program`` (a name looked up on PATH, or a path) is, if it is an executable file."""
    if os.sep in program or (os.altsep and os.altsep in program):
        return program if os.path.isfile(program) and os.access(program, os.X_OK) else None
    return shutil.which(program, path=path_variable)


def run_command(arguments: list[str], what: str, cwd: Path, env: dict[str, str], timeout: float,
                check: bool = True) -> subprocess.CompletedProcess:
    """Run ``arguments`` (no shell) in ``cwd``; CommandError, naming the command and ``what``
    it was doing, when the program cannot start, runs past ``timeout`` seconds or (with
    ``check``) exits with a status other than 0, quoting the end of its error output."""
    shown = shlex.join(arguments)
    try:
        done = subprocess.run(arguments, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout)
    except FileNotFoundError:
        raise CommandError(f"{what}: program {arguments[0]} not found (command: {shown})") from None
    except PermissionError:
        raise CommandError(f"{what}: program {arguments[0]} cannot be run: no permission to execute it "
                           f"(command: {shown})") from None
    except OSError as error:
        raise CommandError(f"{what}: command {shown} cannot start: {error.strerror or error}") from None
    except subprocess.TimeoutExpired:
        raise CommandError(f"{what}: command {shown} ran past the {timeout:g} s timeout and was stopped "
                           "(raise `timeout` in the codec's description if it needs longer)") from None
    if check and done.returncode != 0:
        raise CommandError(f"{what}: command {shown} failed with exit status {done.returncode}"
                           f"{_quoted_tail(done.stderr or done.stdout)}")
    return done


def output_text(done: subprocess.CompletedProcess) -> str:
    """What a finished command printed, standard output first, as text."""
    return (done.stdout + done.stderr).decode("utf-8", errors="replace")


def _quoted_tail(output: bytes) -> str:
    text = output.decode("utf-8", errors="replace").strip()
    if not text:
        return " and printed nothing"
    lines = [line.strip() for line in text.splitlines() if line.strip()][-OUTPUT_TAIL_LINES:]
    return f"; its output ends: {' | '.join(lines)[-OUTPUT_TAIL_CHARS:]}"
