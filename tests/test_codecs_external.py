"""JPEG XL and HEVC intra through their Python bindings, and codecs made of external commands
(``ext:PATH.toml``), checked against independent decoders and the built-in ``jpeg``."""

import io
import json
import shlex
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from rdpbench.bitstream import Bitstream, encode_varint
from rdpbench.codecs import get_codec
from rdpbench.codecs.cards import tomllib
from rdpbench.codecs.external_description import shipped_descriptions
from rdpbench.codecs.raw_pixels import planes_to_rgb, rgb_to_planes
from rdpbench.errors import RdpbenchError, UnknownNameError
from rdpbench.results import read_manifest

from conftest import invoke, make_image_folder, photo_tensor, run_once

SCRIPT = Path(__file__).with_name("external_codec_script.py")


def header_bytes(codec: str, point: str, height: int, width: int) -> int:
    """The container's bytes before the payload, counted from the layout in bitstream.py."""
    return 4 + 1 + 1 + len(codec) + 1 + len(point) + len(encode_varint(height)) + len(encode_varint(width))


@pytest.fixture
def photo() -> torch.Tensor:
    return photo_tensor(48, 80, seed=5)


# --- JPEG XL and HEVC intra through their bindings ---------------------------------------


def test_jpegxl_payload_is_a_codestream_that_imagecodecs_decodes_to_the_codecs_pixels(photo):
    import imagecodecs

    codec = get_codec("jpegxl")
    data = codec.encode(photo, "2")
    payload = Bitstream.from_bytes(data).payload
    assert payload[:2] == b"\xff\x0a"  # a bare JPEG XL codestream
    assert len(data) == header_bytes("jpegxl", "2", 48, 80) + len(payload)
    independent = torch.from_numpy(imagecodecs.jpegxl_decode(payload)).permute(2, 0, 1)
    decoded = codec.decode(data)
    assert torch.equal(decoded, independent)
    error = (decoded.double() - photo.double()).abs().mean().item()
    assert 0 < error < 20


def test_jpegxl_distance_is_the_rate_knob_and_is_checked(photo):
    codec = get_codec("jpegxl")
    assert codec.check_point("2.0") == "2" and codec.check_point("0.5") == "0.5"
    assert len(codec.encode(photo, "8")) < len(codec.encode(photo, "1"))
    for bad in ("0", "30", "nan", "high"):
        with pytest.raises(UnknownNameError, match="0.05..25"):
            codec.check_point(bad)


def test_hevc_payload_is_a_444_heif_that_pillow_heif_decodes_to_the_codecs_pixels(photo):
    import pillow_heif

    codec = get_codec("hevc")
    data = codec.encode(photo, "32")
    payload = Bitstream.from_bytes(data).payload
    assert len(data) == header_bytes("hevc", "32", 48, 80) + len(payload)
    heif = pillow_heif.open_heif(io.BytesIO(payload), convert_hdr_to_8bit=False)
    assert heif.info["chroma"] == 444 and heif.info["bit_depth"] == 8 and heif.size == (80, 48)
    independent = torch.from_numpy(np.array(heif)).permute(2, 0, 1)
    decoded = codec.decode(data)
    assert torch.equal(decoded, independent)
    error = (decoded.double() - photo.double()).abs().mean().item()
    assert 0 < error < 20


def test_hevc_lower_qp_spends_more_bytes_and_describes_its_encoder(photo):
    codec = get_codec("hevc")
    assert len(codec.encode(photo, "22")) > len(codec.encode(photo, "42"))
    described = codec.describe()
    assert "x265" in described["encoder"] and described["chroma"] == "4:4:4"
    with pytest.raises(UnknownNameError, match="0..51"):
        codec.check_point("52")


def test_a_run_counts_every_byte_of_the_bitstream(tmp_path):
    folder = make_image_folder(tmp_path / "images", [(48, 80), (40, 40)])
    for name, point in (("jpegxl", "4"), ("hevc", "37")):
        run = run_once(folder, tmp_path / "out", codec=name, points=[point], save_bitstreams=True)
        rows = pd.read_csv(run / "images.csv", dtype={"quality": str})
        for row in rows.itertuples():
            saved = (run / "bitstreams" / point / f"{row.image}.rdpb").read_bytes()
            assert row.bytes == len(saved)
            assert row.bpp == pytest.approx(8 * len(saved) / (row.height * row.width))


def test_missing_binding_stops_the_run_at_preflight_naming_the_pip_command(tmp_path, monkeypatch):
    from rdpbench.codecs import classical

    monkeypatch.setitem(sys.modules, "imagecodecs", None)  # makes `import imagecodecs` fail
    classical._imagecodecs.cache_clear()
    folder = make_image_folder(tmp_path / "images", [(24, 24)])
    with pytest.raises(RdpbenchError, match=r"jpegxl needs the Python package imagecodecs.*pip install"):
        run_once(folder, tmp_path / "out", codec="jpegxl", points=["2"])
    assert not (tmp_path / "out").exists()
    classical._imagecodecs.cache_clear()


# --- ext:PATH.toml -------------------------------------------------------------------------


def write_description(folder: Path, name: str = "pyjpeg", encode: str = "encode", decode: str = "decode",
                      **keys) -> Path:
    """A codec description whose commands run the stand-in script in ``mode``s encode and decode."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SCRIPT, folder / SCRIPT.name)
    python = f"{shlex.quote(sys.executable)} {{here}}/{SCRIPT.name}"
    lines = [f"name = {json.dumps(name)}",
             f"version = {json.dumps(python + ' version')}",
             f"encode = {json.dumps(python + ' ' + encode + ' {input} {output} {quality}')}",
             f"decode = {json.dumps(python + ' ' + decode + ' {input} {output}')}",
             "points = [10, 50, 90]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in keys.items()]
    path = folder / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.subprocess
def test_external_jpeg_writes_the_builtin_jpegs_payload_and_decodes_to_its_pixels(tmp_path, photo):
    # a folder name a shell would act on: commands never pass through one
    description = write_description(tmp_path / "codec dir; touch pwned")
    external, builtin = get_codec(f"ext:{description}"), get_codec("jpeg")
    for quality in ("10", "90"):
        data, reference = external.encode(photo, quality), builtin.encode(photo, quality)
        assert Bitstream.from_bytes(data).payload == Bitstream.from_bytes(reference).payload
        assert torch.equal(external.decode(data), builtin.decode(reference))
    assert not list(tmp_path.rglob("pwned"))


@pytest.mark.subprocess
def test_external_run_gives_the_builtin_jpegs_rows(tmp_path):
    folder = make_image_folder(tmp_path / "images", [(48, 80), (70, 52)])
    description = write_description(tmp_path / "codec")
    ours = run_once(folder, tmp_path / "out", codec=f"ext:{description}", points=["10", "50"], save_bitstreams=True)
    theirs = run_once(folder, tmp_path / "out", codec="jpeg", points=["10", "50"], save_bitstreams=True)
    rows = [pd.read_csv(run / "images.csv", dtype={"quality": str}).set_index(["quality", "image"])
            for run in (ours, theirs)]
    assert set(rows[0].codec) == {"pyjpeg"}
    # the same JPEG in each container; only the codec name in the header differs in length
    assert (rows[0].bytes - rows[1].bytes == len("pyjpeg") - len("jpeg")).all()
    assert (rows[0].psnr == rows[1].psnr).all()
    for quality, image in rows[0].index:
        payloads = [Bitstream.from_bytes((run / "bitstreams" / quality / f"{image}.rdpb").read_bytes()).payload
                    for run in (ours, theirs)]
        assert payloads[0] == payloads[1]


@pytest.mark.subprocess
def test_cli_run_records_the_description_and_version_in_run_json(tmp_path):
    folder = make_image_folder(tmp_path / "images", [(32, 40)])
    description = write_description(tmp_path / "codec")
    result = invoke("run", "--codec", f"ext:{description}", "--quality", "50", "--dataset", folder,
                    "--out", tmp_path / "out", "--device", "cpu", "--no-progress")
    assert result.exit_code == 0, result.output
    manifest = read_manifest(tmp_path / "out" / f"pyjpeg-{folder.name}" / "run.json")
    assert manifest["codec"]["name"] == "pyjpeg"
    assert manifest["codec"]["version"] == "stand-in codec 1.0 (tests)"
    assert manifest["codec"]["description"] == tomllib.loads(description.read_text())


@pytest.mark.subprocess
@pytest.mark.parametrize("keys, message", [
    ({"encode": "fail"}, r"exit status 3; its output ends: starting up \| cannot open the frobnicator"),
    ({"encode": "nothing"}, r"the encoder wrote nothing to \{output\}"),
    ({"decode": "half"}, r"it is 24x40 pixels, the original 48x80"),
    ({"encode": "sleep", "timeout": 0.5}, r"ran past the 0.5 s timeout"),
])
def test_a_failing_command_stops_the_run_naming_the_command_and_the_image(tmp_path, keys, message):
    folder = make_image_folder(tmp_path / "images", [(48, 80)])
    description = write_description(tmp_path / "codec", **keys)
    with pytest.raises(RdpbenchError, match=message) as caught:
        run_once(folder, tmp_path / "out", codec=f"ext:{description}", points=["50"])
    assert "image img0" in str(caught.value)
    assert str(tmp_path / "codec" / SCRIPT.name) in str(caught.value)  # the command, as it was run


def test_a_missing_program_is_named_at_preflight_with_what_to_install(tmp_path):
    folder = make_image_folder(tmp_path / "images", [(24, 24)])
    description = tmp_path / "missing.toml"
    description.write_text('name = "missing"\nversion = "no-such-encoder-9 --version"\n'
                           'encode = "no-such-encoder-9 {input} {output} {quality}"\n'
                           'decode = "no-such-decoder-9 {input} {output}"\npoints = [1]\n'
                           'install = "get the encoder from its makers"\n')
    with pytest.raises(RdpbenchError, match=r"no-such-encoder-9 \(encode and version command\) is not found on PATH; "
                                            r"program no-such-decoder-9 .*; get the encoder from its makers"):
        run_once(folder, tmp_path / "out", codec=f"ext:{description}", points=["1"])
    assert not (tmp_path / "out").exists()


@pytest.mark.subprocess
def test_cli_error_is_one_clean_line(tmp_path):
    folder = make_image_folder(tmp_path / "images", [(24, 24)])
    description = write_description(tmp_path / "codec", encode="fail")
    result = invoke("run", "--codec", f"ext:{description}", "--quality", "10", "--dataset", folder,
                    "--out", tmp_path / "out", "--device", "cpu", "--no-progress")
    assert result.exit_code == 1
    assert result.output.startswith("error: run failed at quality 10, image img0: CommandError: ")
    assert "Traceback" not in result.output


@pytest.mark.subprocess
@pytest.mark.parametrize("colour, bit_depth", [("rgb", 8), ("ycbcr-bt709", 16)])
def test_yuv444_hand_over_is_lossless_where_the_samples_allow(tmp_path, photo, colour, bit_depth):
    # the stand-in copies the planar file; 8-bit RGB and 16-bit YCbCr keep every 8-bit pixel
    description = write_description(tmp_path / "codec", encode="copy", decode="copy", format="yuv444",
                                    colour=colour, bit_depth=bit_depth)
    codec = get_codec(f"ext:{description}")
    data = codec.encode(photo, "50")
    assert len(Bitstream.from_bytes(data).payload) == 3 * 48 * 80 * (1 if bit_depth == 8 else 2)
    assert torch.equal(codec.decode(data), photo)


def test_ycbcr_planes_follow_bt709_full_range():
    white_red = torch.tensor([[[255, 255]], [[255, 0]], [[255, 0]]], dtype=torch.uint8)
    planes = rgb_to_planes(white_red, "ycbcr-bt709", 8)
    # red: Y = 0.2126 * 255 = 54.2; Cb = 0.5 - 0.5 * 0.2126 / 0.9278 = 0.3854 -> 98.3; Cr = 1 -> 255
    assert planes[:, 0, :].tolist() == [[255, 54], [128, 98], [128, 255]]
    back = planes_to_rgb(planes, "ycbcr-bt709", 8)
    assert (back.int() - white_red.int()).abs().max() <= 1


@pytest.mark.parametrize("colour, bit_depth", [("ycbcr-bt709", 8), ("ycbcr-bt709", 10), ("rgb", 10)])
def test_planes_converted_in_blocks_of_rows_equal_the_whole_image_at_once(monkeypatch, colour, bit_depth):
    """Each pixel converts on its own, so blocks of 2 rows (the last one short) change nothing."""
    from rdpbench import images

    image = photo_tensor(9, 7, seed=5)
    planes = rgb_to_planes(image, colour, bit_depth)
    back = planes_to_rgb(planes, colour, bit_depth)
    monkeypatch.setattr(images, "BLOCK_PIXELS", 14)
    assert np.array_equal(rgb_to_planes(image, colour, bit_depth), planes)
    assert torch.equal(planes_to_rgb(planes, colour, bit_depth), back)


@pytest.mark.subprocess
def test_a_yuv_decoder_output_of_the_wrong_length_is_named(tmp_path, photo):
    description = write_description(tmp_path / "codec", encode="copy", decode="truncate", format="yuv444")
    codec = get_codec(f"ext:{description}")
    data = codec.encode(photo, "50")
    with pytest.raises(RdpbenchError, match=r"decoding a 48x80 image at quality 50: the decoder's output is "
                                            r"unusable: it holds 5760 bytes; a 48x80 4:4:4 image of 8-bit "
                                            r"samples is 11520 bytes \(command: .*truncate"):
        codec.decode(data)


@pytest.mark.parametrize("text, message", [
    ('name = "x"\nversion = "v"\nencode = "e {input} {output} {qualty}"\ndecode = "d {input} {output}"\n'
     'points = [1]', r"unknown placeholder\(s\) \{qualty\}"),
    ('name = "x"\nversion = "v"\nencode = "e {input} {quality}"\ndecode = "d {input} {output}"\npoints = [1]',
     r"encode command lacks \{output\}"),
    ('name = "jpeg"\nversion = "v"\nencode = "e {input} {output} {quality}"\ndecode = "d {input} {output}"\n'
     'points = [1]', "a built-in codec's"),
    ('name = "x"\nversion = "v"\nencode = "e {input} {output} {quality}"\ndecode = "d {input} {output}"\n'
     'points = ["../up"]', "letters, digits"),
    ('name = "x"\nversion = "v"\nencode = "e {input} {output} {quality}"\ndecode = "d {input} {output}"\n'
     'points = [1]\ncolor = "rgb"', "unknown key"),
])
def test_a_bad_description_is_refused_naming_the_file(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(RdpbenchError, match=message) as caught:
        get_codec(f"ext:{path}")
    assert str(path) in str(caught.value)


@pytest.mark.subprocess
def test_a_relative_program_is_taken_from_the_descriptions_folder(tmp_path, photo):
    folder = tmp_path / "codec"
    folder.mkdir()
    program = folder / "stand-in"
    program.write_text(f"#!{sys.executable}\n" + SCRIPT.read_text())
    program.chmod(0o755)
    description = folder / "rel.toml"
    description.write_text('name = "rel"\nversion = "./stand-in version"\n'
                           'encode = "./stand-in encode {input} {output} {quality}"\n'
                           'decode = "./stand-in decode {input} {output}"\npoints = [50]\n')
    codec = get_codec(f"ext:{description}")
    codec.check_installed()
    reference = get_codec("jpeg").encode(photo, "50")
    assert Bitstream.from_bytes(codec.encode(photo, "50")).payload == Bitstream.from_bytes(reference).payload


def test_templates_split_like_a_shell_and_fill_each_argument_alone():
    from rdpbench.codecs.commands import CommandTemplate

    template = CommandTemplate.parse("encode", "enc --size={width}x{height} '{input}' -o {output} --q {{{quality}}}",
                                     {"input", "output", "quality", "width", "height"}, set(), "test")
    filled = template.fill({"input": "a b; rm -rf c", "output": "$(x)", "quality": "7", "width": "3", "height": "2"})
    assert filled == ["enc", "--size=3x2", "a b; rm -rf c", "-o", "$(x)", "--q", "{7}"]


def test_points_are_the_descriptions_and_numbers_match_by_value(tmp_path):
    codec = get_codec(f"ext:{write_description(tmp_path / 'codec')}")
    assert codec.points == ["10", "50", "90"] and codec.default_points == ["10", "50", "90"]
    assert codec.check_point("50.0") == "50"
    with pytest.raises(UnknownNameError, match="10, 50, 90"):
        codec.check_point("20")


def test_shipped_descriptions_are_reachable_by_name_and_follow_compressais_settings():
    assert set(shipped_descriptions()) == {"vtm", "bpg", "cjxl"}
    for name in ("vtm", "bpg", "cjxl"):
        assert get_codec(name).spec.path == get_codec(f"ext:{name}").spec.path
    vtm, bpg = get_codec("vtm").spec, get_codec("bpg").spec
    assert {"--InputChromaFormat=444", "--InputBitDepth=8", "--ConformanceWindowMode=1"} <= set(vtm.encode.arguments)
    assert (vtm.format, vtm.colour, vtm.bit_depth) == ("yuv444", "ycbcr-bt709", 8)
    assert " -f 444 -e x265 -c ycbcr -b 8 " in bpg.encode.text
    # CompressAI's examples/run-benchmarks.sh: QPs 47 down to 12 in steps of 5
    assert vtm.default_points == bpg.default_points == [str(qp) for qp in range(47, 11, -5)]


def test_vtm_without_its_configuration_names_the_variable_and_where_vtm_comes_from(monkeypatch):
    monkeypatch.delenv("VTM_CFG", raising=False)
    with pytest.raises(RdpbenchError, match=r"variable VTM_CFG is not set.*VVCSoftware_VTM"):
        get_codec("vtm").check_installed()


@pytest.mark.subprocess
@pytest.mark.skipif(shutil.which("cjxl") is None or shutil.which("djxl") is None,
                    reason="libjxl's cjxl and djxl are not installed (apt-get install libjxl-tools)")
def test_shipped_cjxl_round_trips_through_libjxls_programs(photo):
    codec = get_codec("cjxl")
    codec.check_installed()
    data = codec.encode(photo, "2")
    assert Bitstream.from_bytes(data).payload[:2] == b"\xff\x0a"
    decoded = codec.decode(data)
    assert decoded.shape == photo.shape
    assert 0 < (decoded.double() - photo.double()).abs().mean().item() < 20
    assert "cjxl" in codec.version()
