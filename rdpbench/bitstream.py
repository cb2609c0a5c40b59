"""The bitstream container: every byte a decoder needs, and nothing passed around it.

Layout, version 1 (all of it counts towards bpp)::

    b"RDPB"            4 bytes, magic
    version            1 byte
    codec name         1 byte length + ASCII
    rate point         1 byte length + ASCII
    height, width      unsigned LEB128 varints (original size, before any padding)
    payload            the codec's own bytes, to the end

For ``jpeg`` at quality 10 on a 768x512 image the header is 17 bytes; the payload is exactly
the file Pillow writes. Codecs whose payload holds several byte strings (an entropy-coded
latent and hyper-latent, say) join them with :func:`join_chunks`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import RdpbenchError

MAGIC = b"RDPB"
VERSION = 1


class BitstreamError(RdpbenchError):
    """Bytes that are not a valid rdpbench bitstream."""


@dataclass(frozen=True)
class Bitstream:
    codec: str
    point: str
    height: int
    width: int
    payload: bytes

    def to_bytes(self) -> bytes:
        return b"".join(
            [
                MAGIC,
                bytes([VERSION]),
                _short_string(self.codec),
                _short_string(self.point),
                encode_varint(self.height),
                encode_varint(self.width),
                self.payload,
            ]
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> "Bitstream":
        if data[:4] != MAGIC:
            raise BitstreamError("not an rdpbench bitstream (bad magic bytes)")
        if len(data) < 5 or data[4] != VERSION:
            raise BitstreamError(f"unsupported bitstream version {data[4:5]!r}")
        position = 5
        codec, position = _read_short_string(data, position)
        point, position = _read_short_string(data, position)
        height, position = decode_varint(data, position)
        width, position = decode_varint(data, position)
        return cls(codec, point, height, width, bytes(data[position:]))


def bits_per_pixel(n_bytes: int, height: int, width: int) -> float:
    """bpp = 8 * bytes / (H * W), the rate of a bitstream of ``n_bytes`` for an H x W image."""
    return 8.0 * n_bytes / (height * width)


def join_chunks(chunks: list[bytes]) -> bytes:
    """Concatenate byte strings; each but the last is prefixed by its varint length."""
    parts = [encode_varint(len(chunk)) + chunk for chunk in chunks[:-1]]
    return b"".join(parts + [chunks[-1]])


def split_chunks(data: bytes, count: int) -> list[bytes]:
    """Inverse of :func:`join_chunks` for ``count`` chunks."""
    chunks, position = [], 0
    for _ in range(count - 1):
        length, position = decode_varint(data, position)
        if position + length > len(data):
            raise BitstreamError("truncated bitstream payload")
        chunks.append(bytes(data[position : position + length]))
        position += length
    chunks.append(bytes(data[position:]))
    return chunks


def encode_varint(value: int) -> bytes:
    """Unsigned LEB128: 7 bits per byte, high bit set on all but the last byte."""
    if value < 0:
        raise ValueError("varint must be non-negative")
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def decode_varint(data: bytes, position: int) -> tuple[int, int]:
    """Read an unsigned LEB128 at ``position``; return (value, position after it)."""
    value, shift = 0, 0
    while True:
        if position >= len(data):
            raise BitstreamError("truncated bitstream header")
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, position


def _short_string(text: str) -> bytes:
    raw = text.encode("ascii")
    if len(raw) > 255:
        raise ValueError(f"header string too long: {text!r}")
    return bytes([len(raw)]) + raw


def _read_short_string(data: bytes, position: int) -> tuple[str, int]:
    if position >= len(data):
        raise BitstreamError("truncated bitstream header")
    length = data[position]
    end = position + 1 + length
    if end > len(data):
        raise BitstreamError("truncated bitstream header")
    return data[position + 1 : end].decode("ascii"), end
