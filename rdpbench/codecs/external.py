"""``ext:PATH.toml``: an encoder and a decoder that are programs, described by a TOML file.

The description names the commands (templates with ``{input}``, ``{output}``, ``{quality}``
and the other placeholders of :mod:`.external_description`), the rate points and how pixels are handed over; rdpbench
writes the image into a temporary folder, runs the encoder there, takes the bytes it wrote as
the payload of an rdpbench bitstream, and decodes by writing those bytes back and running the
decoder. Commands never go through a shell (see :mod:`.commands`).

Descriptions of VTM, BPG and cjxl ship in ``rdpbench/data/external_codecs/``: ``ext:vtm`` (or
the registered name ``vtm``) uses the shipped one, ``ext:my/vtm.toml`` a file.
"""

from __future__ import annotations

import os
import shlex
import tempfile
from pathlib import Path
from typing import Any, ClassVar

import torch

from ..bitstream import Bitstream
from ..errors import ImageError, RdpbenchError
from ..images import load_image, save_png
from .base import Codec, RateKnob
from .commands import CommandError, CommandTemplate, find_program, output_text, run_command
from .external_description import description_path, load_description, same_number, shipped_descriptions
from .raw_pixels import read_planes, write_planes
from .registry import CODECS, register_codec

VERSION_TIMEOUT_S = 60.0


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
        if self.spec.name in CODECS and not issubclass(CODECS.get(self.spec.name), ExternalCodec):
            raise RdpbenchError(f"{self.spec.path}: name {self.spec.name!r} is a built-in codec's; choose another")
        self.name = self.spec.name
        self.points = self.spec.points
        self.default_points = self.spec.default_points
        self._version: str | None = None

    def check_point(self, point: str) -> str:
        """``point`` as the description lists it; a number matches a listed number of the same
        value (``2`` matches ``2.0``)."""
        point = str(point)
        if point not in self.points:
            same = [listed for listed in self.points if same_number(listed, point)]
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
