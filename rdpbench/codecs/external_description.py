"""The TOML description of an ``ext:`` codec: reading it, and checking every key before any
program runs (commands, rate points, pixel hand-over, variables, timeout)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import RdpbenchError
from .cards import tomllib
from .commands import CommandTemplate

SHIPPED_FOLDER = Path(__file__).resolve().parents[1] / "data" / "external_codecs"

#: Placeholders every command may use; the keys of ``[variables]`` add to them.
BUILT_IN_PLACEHOLDERS = {"input", "output", "quality", "width", "height", "here"}
#: Pixel hand-overs: a PNG file, or raw planar 4:4:4 samples.
FORMATS = ("png", "yuv444")
#: Sample planes of a yuv444 file: full-range BT.709 Y, Cb, Cr (CompressAI's conversion) or R, G, B.
COLOURS = ("ycbcr-bt709", "rgb")
#: How the rate follows the quality value, for runs at target rates: more bits as it grows
#: (a quality) or fewer (a QP, a distance).
RATE_ORDERS = ("increasing", "decreasing")

_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
_KEYS = {"name", "description", "install", "encode", "decode", "version", "points", "default_points", "suffix",
         "format", "colour", "bit_depth", "timeout", "variables", "environment", "rate"}


@dataclass(frozen=True)
class ExternalDescription:
    """A codec description file, checked; ``source`` is the file's content as parsed."""

    path: Path
    source: dict
    name: str
    encode: CommandTemplate
    decode: CommandTemplate
    version: CommandTemplate
    points: list[str]
    default_points: list[str]
    description: str = ""
    install: str = ""
    suffix: str = ".bin"
    format: str = "png"
    colour: str = "ycbcr-bt709"
    bit_depth: int = 8
    timeout: float = 3600.0
    variables: dict[str, str] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    #: One of RATE_ORDERS, or "" when not declared (then no runs at target rates).
    rate: str = ""


def shipped_descriptions() -> dict[str, Path]:
    """The descriptions that ship with rdpbench, by name."""
    return {path.stem: path for path in sorted(SHIPPED_FOLDER.glob("*.toml"))}


def description_path(argument: str) -> Path:
    """The file ``ext:ARGUMENT`` names: a path to a TOML file, or the name of a shipped one."""
    path = Path(argument).expanduser()
    if path.is_file():
        return path
    shipped = shipped_descriptions()
    if argument in shipped:
        return shipped[argument]
    if path.exists():
        raise RdpbenchError(f"ext:{argument}: {path} is not a file; give the path of a codec description (.toml)")
    raise RdpbenchError(f"ext:{argument}: no such file, and no shipped description of that name "
                        f"(shipped: {', '.join(shipped)}); give the path of a codec description (.toml)")


def load_description(path: Path) -> ExternalDescription:
    """Read and check the codec description at ``path``; RdpbenchError naming the file and
    the key at fault."""
    try:
        source = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise RdpbenchError(f"cannot read codec description {path}: {getattr(error, 'strerror', None) or error}") from None
    except tomllib.TOMLDecodeError as error:
        raise RdpbenchError(f"{path}: not valid TOML ({error})") from None
    where = str(path)
    unknown = sorted(set(source) - _KEYS)
    if unknown:
        raise RdpbenchError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_KEYS))}")
    name = _text(source, "name", where, required=True)
    if not _LABEL.fullmatch(name) or len(name) > 64:
        raise RdpbenchError(f"{where}: name {name!r} must be up to 64 letters, digits and . _ + - "
                            "(it names result folders and bitstreams)")
    variables = _table(source, "variables", where)
    clashes = sorted(set(variables) & BUILT_IN_PLACEHOLDERS)
    bad = [key for key in variables if not key.isidentifier()]
    if clashes or bad:
        raise RdpbenchError(f"{where}: [variables] {', '.join(clashes + bad)}: variable names are identifiers "
                            f"other than {', '.join(sorted(BUILT_IN_PLACEHOLDERS))}")
    allowed = BUILT_IN_PLACEHOLDERS | set(variables)
    points = _points(source, "points", where, required=True)
    default_points = _points(source, "default_points", where) or points
    outside = [point for point in default_points if point not in points]
    if outside:
        raise RdpbenchError(f"{where}: default_points {', '.join(outside)} are not among points")
    format_ = _choice(source, "format", FORMATS, where)
    if format_ == "png" and ({"colour", "bit_depth"} & set(source)):
        raise RdpbenchError(f"{where}: colour and bit_depth apply to format = \"yuv444\" only (a PNG is 8-bit RGB)")
    bit_depth = source.get("bit_depth", 8)
    if type(bit_depth) is not int or not 8 <= bit_depth <= 16:
        raise RdpbenchError(f"{where}: bit_depth {bit_depth!r} must be an integer from 8 to 16")
    timeout = source.get("timeout", 3600)
    if type(timeout) not in (int, float) or not (math.isfinite(timeout) and timeout > 0):
        raise RdpbenchError(f"{where}: timeout {timeout!r} must be a number of seconds above 0")
    suffix = _text(source, "suffix", where) or ".bin"
    if not re.fullmatch(r"\.[A-Za-z0-9]{1,16}", suffix):
        raise RdpbenchError(f"{where}: suffix {suffix!r} must be a dot and up to 16 letters or digits (\".bpg\")")
    rate = _text(source, "rate", where)
    if rate and rate not in RATE_ORDERS:
        raise RdpbenchError(f"{where}: rate {rate!r} must be \"increasing\" (more bits as the quality value grows) "
                            "or \"decreasing\" (fewer bits, as for a QP)")
    if rate and not all(same_number(point, point) for point in points):
        raise RdpbenchError(f"{where}: rate is declared, so every one of points must be a number")
    return ExternalDescription(
        path=path.resolve(), source=source, name=name, rate=rate,
        encode=CommandTemplate.parse("encode", _text(source, "encode", where, required=True), allowed,
                                     {"input", "output", "quality"}, where),
        decode=CommandTemplate.parse("decode", _text(source, "decode", where, required=True), allowed,
                                     {"input", "output"}, where),
        version=CommandTemplate.parse("version", _text(source, "version", where, required=True),
                                      {"here"} | set(variables), set(), where),
        points=points, default_points=default_points,
        description=_text(source, "description", where), install=_text(source, "install", where),
        suffix=suffix, format=format_, colour=_choice(source, "colour", COLOURS, where), bit_depth=bit_depth,
        timeout=float(timeout), variables=variables, environment=_table(source, "environment", where),
    )


def same_number(listed: str, given: str) -> bool:
    """Whether two quality values are the same number (``2`` and ``2.0``)."""
    try:
        return float(listed) == float(given)
    except ValueError:
        return False


def _text(source: dict, key: str, where: str, required: bool = False) -> str:
    if key not in source:
        if required:
            raise RdpbenchError(f"{where}: the key {key} is missing")
        return ""
    value = source[key]
    if not isinstance(value, str) or (required and not value.strip()):
        raise RdpbenchError(f"{where}: {key} must be a non-empty string, not {value!r}")
    return value


def _choice(source: dict, key: str, choices: tuple[str, ...], where: str) -> str:
    value = source.get(key, choices[0])
    if value not in choices:
        raise RdpbenchError(f"{where}: {key} {value!r} is not one of {', '.join(choices)}")
    return value


def _table(source: dict, key: str, where: str) -> dict[str, str]:
    table = source.get(key, {})
    if not isinstance(table, dict) or not all(isinstance(value, str) for value in table.values()):
        raise RdpbenchError(f"{where}: [{key}] must be a table of strings (NAME = \"value\")")
    return dict(table)


def _points(source: dict, key: str, where: str, required: bool = False) -> list[str]:
    """A list of rate points as strings; each one names folders of saved images, so it is a
    plain label (letters, digits, . _ + -)."""
    if key not in source:
        if required:
            raise RdpbenchError(f"{where}: the key {key} is missing (the quality values, e.g. points = [47, 42, 37])")
        return []
    values = source[key]
    if not isinstance(values, list) or not values:
        raise RdpbenchError(f"{where}: {key} must be a non-empty list of quality values")
    points = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise RdpbenchError(f"{where}: {key}: {value!r} is not a quality value (a number or a string)")
        point = str(value)
        if not _LABEL.fullmatch(point) or len(point) > 64:
            raise RdpbenchError(f"{where}: {key}: {point!r} must be up to 64 letters, digits and . _ + -")
        if point in points:
            raise RdpbenchError(f"{where}: {key}: {point} is listed twice")
        points.append(point)
    return points
