"""``ext:PATH.toml``: an encoder and a decoder that are programs, described by a TOML file.

The description names the commands (templates with ``{input}``, ``{output}``, ``{quality}``
and the other placeholders below), the rate points and how pixels are handed over; rdpbench
writes the image into a temporary folder, runs the encoder there, takes the bytes it wrote as
the payload of an rdpbench bitstream, and decodes by writing those bytes back and running the
decoder. Commands never go through a shell (see :mod:`.commands`).

Descriptions of VTM, BPG and cjxl ship in ``rdpbench/data/external_codecs/``: ``ext:vtm`` (or
the registered name ``vtm``) uses the shipped one, ``ext:my/vtm.toml`` a file.
"""

from __future__ import annotations

import math
import os
import re
import shlex
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch

from ..bitstream import Bitstream
from ..errors import ImageError, RdpbenchError
from ..images import load_image, save_png
from .base import Codec, RateKnob
from .cards import tomllib
from .commands import CommandError, CommandTemplate, find_program, output_text, run_command
from .raw_pixels import read_planes, write_planes
from .registry import CODECS, register_codec

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
VERSION_TIMEOUT_S = 60.0

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
    if name in CODECS and not issubclass(CODECS.get(name), ExternalCodec):
        raise RdpbenchError(f"{where}: name {name!r} is a built-in codec's; choose another")
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
    if rate and not all(_same_number(point, point) for point in points):
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


@register_codec
class ExternalCodec(Codec):
    """A codec made of commands (encoder, decoder), described by a TOML file or a shipped name (vtm, bpg, cjxl)."""

    name = "ext"
    argument = "PATH.toml"
    #: In rdpbench's process: the PNG or YUV file handed over; the programs' own memory is theirs.
    bytes_per_pixel = 10
    points: list[str] = []
    default_points: list[str] = []

    def __init__(self, description: str, device: str = "cpu"):
        super().__init__(device)
        self.spec = load_description(description_path(description))
        self.name = self.spec.name
        self.points = self.spec.points
        self.default_points = self.spec.default_points
        self._version: str | None = None

    def check_point(self, point: str) -> str:
        """``point`` as the description lists it; a number matches a listed number of the same
        value (``2`` matches ``2.0``)."""
        point = str(point)
        if point not in self.points:
            same = [listed for listed in self.points if _same_number(listed, point)]
            if same:
                return same[0]
        return super().check_point(point)

    def rate_knob(self) -> RateKnob | None:
        """The description's points ordered by rate, when it declares ``rate``."""
        if not self.spec.rate:
            return None
        ordered = sorted(self.points, key=float, reverse=self.spec.rate == "decreasing")
        return RateKnob(tuple(ordered), f"quality value ({self.spec.rate} rate)")

    def check_installed(self) -> None:
        """Raise RdpbenchError naming every unset variable and every program that is not
        there, with what to install; run the version command."""
        problems = []
        values = self._variable_values(problems)
        roles: dict[str, list[str]] = {}
        for template in (self.spec.encode, self.spec.decode, self.spec.version):
            try:
                program = self._program(template.arguments[0].format_map(values))
            except KeyError:  # the program itself is a per-image placeholder: nothing to check
                continue
            roles.setdefault(program, []).append(template.role)
        for program, used_by in roles.items():
            if program and find_program(program, self._environment().get("PATH")) is None:
                problems.append(f"program {program} ({' and '.join(used_by)} command) is not found"
                                + ("" if os.sep in program else " on PATH"))
        if problems:
            install = f"; {self.spec.install}" if self.spec.install else ""
            raise RdpbenchError(f"codec {self.name} ({self.spec.path}): {'; '.join(problems)}{install}")
        self.version()

    def version(self) -> str:
        """The first line the version command prints (its exit status is not checked:
        ``bpgenc -h`` exits with 1)."""
        if self._version is None:
            with tempfile.TemporaryDirectory(prefix="rdpbench-ext-") as folder:
                arguments = self._arguments(self.spec.version, {})
                done = run_command(arguments, f"codec {self.name}: version", Path(folder), self._environment(),
                                   min(self.spec.timeout, VERSION_TIMEOUT_S), check=False)
            lines = [line.strip() for line in output_text(done).splitlines() if line.strip()]
            if not lines:
                raise CommandError(f"codec {self.name}: version command {shlex.join(arguments)} printed nothing; "
                                   f"fix `version` in {self.spec.path}")
            self._version = lines[0]
        return self._version

    def encode_payload(self, image: torch.Tensor, point: str) -> bytes:
        _, height, width = image.shape
        what = f"codec {self.name}: encoding a {height}x{width} image at quality {point}"
        with tempfile.TemporaryDirectory(prefix="rdpbench-ext-") as folder:
            folder = Path(folder)
            source, output = folder / f"input.{self._pixel_suffix}", folder / f"bitstream{self.spec.suffix}"
            self._write_pixels(image, source)
            arguments = self._arguments(self.spec.encode, {"input": source, "output": output, "quality": point,
                                                           "width": width, "height": height})
            run_command(arguments, what, folder, self._environment(), self.spec.timeout)
            payload = output.read_bytes() if output.is_file() else b""
        if not payload:
            raise CommandError(f"{what}: the encoder wrote nothing to {{output}} (command: {shlex.join(arguments)})")
        return payload

    def decode_payload(self, stream: Bitstream, sampler: str, seed: int) -> torch.Tensor:
        height, width = stream.height, stream.width
        what = f"codec {self.name}: decoding a {height}x{width} image at quality {stream.point}"
        with tempfile.TemporaryDirectory(prefix="rdpbench-ext-") as folder:
            folder = Path(folder)
            source, output = folder / f"bitstream{self.spec.suffix}", folder / f"decoded.{self._pixel_suffix}"
            source.write_bytes(stream.payload)
            arguments = self._arguments(self.spec.decode, {"input": source, "output": output, "quality": stream.point,
                                                           "width": width, "height": height})
            run_command(arguments, what, folder, self._environment(), self.spec.timeout)
            command = shlex.join(arguments)
            if not output.is_file():
                raise CommandError(f"{what}: the decoder wrote nothing to {{output}} (command: {command})")
            try:
                image = self._read_pixels(output, height, width)
            except ImageError as error:
                raise CommandError(f"{what}: the decoder's output is unusable: {error} (command: {command})") from None
        return image

    def describe(self) -> dict:
        values = self._variable_values([])
        return {"name": self.name, "version": self.version(), "description": self.spec.source,
                "variables": {name: values[name] for name in self.spec.variables}}

    def describe_points(self) -> str:
        return ", ".join(self.points)

    @property
    def _pixel_suffix(self) -> str:
        return "png" if self.spec.format == "png" else "yuv"

    def _environment(self) -> dict[str, str]:
        return {**os.environ, **self.spec.environment}

    def _variable_values(self, problems: list[str]) -> dict[str, str]:
        """Each variable's value (the environment variable of its name, else the description's
        default) and ``here``; an empty one is added to ``problems``."""
        values = {"here": str(self.spec.path.parent)}
        for name, default in self.spec.variables.items():
            values[name] = os.environ.get(name) or default
            if not values[name]:
                problems.append(f"variable {name} is not set (set the environment variable {name})")
        return values

    def _arguments(self, template: CommandTemplate, values: dict[str, Any]) -> list[str]:
        problems: list[str] = []
        filled = template.fill({**self._variable_values(problems), **{k: str(v) for k, v in values.items()}})
        if problems:
            raise CommandError(f"codec {self.name} ({self.spec.path}): {'; '.join(problems)}")
        return [self._program(filled[0]), *filled[1:]]

    def _program(self, program: str) -> str:
        """``program`` with ``~`` expanded; a relative path is taken from the description's folder."""
        program = os.path.expanduser(program)
        if os.sep in program and not os.path.isabs(program):
            return str(self.spec.path.parent / program)
        return program

    def _write_pixels(self, image: torch.Tensor, path: Path) -> None:
        if self.spec.format == "png":
            save_png(image, path)
        else:
            write_planes(image, path, self.spec.colour, self.spec.bit_depth)

    def _read_pixels(self, path: Path, height: int, width: int) -> torch.Tensor:
        if self.spec.format == "png":
            image, _ = load_image(path)
            found = tuple(image.shape[1:])
            if found != (height, width):
                raise ImageError(f"it is {found[0]}x{found[1]} pixels, the original {height}x{width}")
            return image
        return read_planes(path, height, width, self.spec.colour, self.spec.bit_depth)


class ShippedExternalCodec(ExternalCodec):
    """An external codec whose description ships with rdpbench, registered under its name."""

    argument: ClassVar[str | None] = None

    def __init__(self, device: str = "cpu"):
        super().__init__(str(shipped_descriptions()[self.name]), device)


@register_codec
class VtmCodec(ShippedExternalCodec):
    """VVC intra (VTM reference software, YCbCr 4:4:4) with CompressAI's benchmark settings; needs VTM built."""

    name = "vtm"


@register_codec
class BpgCodec(ShippedExternalCodec):
    """BPG (HEVC intra, x265, YCbCr 4:4:4) with CompressAI's benchmark settings; needs bpgenc and bpgdec."""

    name = "bpg"


@register_codec
class CjxlCodec(ShippedExternalCodec):
    """JPEG XL through libjxl's cjxl and djxl programs, Butteraugli distance as the rate point."""

    name = "cjxl"


def _same_number(listed: str, given: str) -> bool:
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
