import pytest

from rdpbench.bitstream import (
    Bitstream,
    BitstreamError,
    bits_per_pixel,
    decode_varint,
    encode_varint,
    join_chunks,
    split_chunks,
)


@pytest.mark.parametrize(
    "value, encoded",
    [(0, b"\x00"), (127, b"\x7f"), (128, b"\x80\x01"), (300, b"\xac\x02"), (16384, b"\x80\x80\x01")],
)
def test_varint_matches_leb128_examples(value, encoded):
    assert encode_varint(value) == encoded
    assert decode_varint(encoded, 0) == (value, len(encoded))


def test_header_layout_is_the_documented_one():
    stream = Bitstream("jpeg", "10", 512, 768, b"PAYLOAD")
    expected_header = b"RDPB" + b"\x01" + b"\x04jpeg" + b"\x0210" + b"\x80\x04" + b"\x80\x06"
    assert stream.to_bytes() == expected_header + b"PAYLOAD"
    assert len(expected_header) == 17


def test_container_round_trips():
    stream = Bitstream("msh", "3", 70, 52, bytes(range(256)))
    assert Bitstream.from_bytes(stream.to_bytes()) == stream


def test_chunks_round_trip_including_empty_ones():
    chunks = [b"", b"z" * 200, b"yy"]
    assert split_chunks(join_chunks(chunks), 3) == chunks


@pytest.mark.parametrize("data", [b"", b"JUNK0000", b"RDPB\x02", b"RDPB\x01\x09ab"])
def test_malformed_bytes_raise_bitstream_error(data):
    with pytest.raises(BitstreamError):
        Bitstream.from_bytes(data)


def test_bpp_counts_bytes_over_pixels():
    assert bits_per_pixel(1000, 100, 80) == 8 * 1000 / 8000
