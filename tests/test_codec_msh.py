import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn.functional as F

from rdpbench.bitstream import Bitstream, bits_per_pixel
from rdpbench.codecs import get_codec
from rdpbench.codecs.msh import padding
from rdpbench.errors import MissingWeightsError
from rdpbench.images import to_float

from conftest import make_photo


@pytest.fixture
def photo() -> torch.Tensor:
    return torch.from_numpy(make_photo(70, 90, seed=5)).permute(2, 0, 1).contiguous()


def test_msh_round_trips_through_bytes_in_a_fresh_process(msh_weights, torch_home, photo, tmp_path):
    codec = get_codec("msh")
    data = codec.encode(photo, "1")
    (tmp_path / "stream.rdpb").write_bytes(data)
    torch.save(codec.decode(data), tmp_path / "here.pt")
    script = textwrap.dedent(
        f"""
        import torch
        from rdpbench.codecs import get_codec
        data = open({str(tmp_path / "stream.rdpb")!r}, "rb").read()
        torch.save(get_codec("msh").decode(data), {str(tmp_path / "there.pt")!r})
        """
    )
    env = {"TORCH_HOME": str(torch_home), "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=300)
    decoded_there = torch.load(tmp_path / "there.pt")
    assert decoded_there.shape == photo.shape and decoded_there.dtype == torch.uint8
    assert torch.equal(decoded_there, torch.load(tmp_path / "here.pt"))


def test_msh_bpp_is_the_byte_count_of_header_and_entropy_coded_strings(msh_weights, photo):
    codec = get_codec("msh")
    data = codec.encode(photo, "1")
    model = codec.model("1")
    pad, _ = padding(70, 90)
    with torch.inference_mode():
        strings = model.compress(F.pad(to_float(photo), pad))["strings"]
    string_bytes = sum(len(s[0]) for s in strings)
    header = len(Bitstream("msh", "1", 70, 90, b"").to_bytes())
    z_length_prefix = 1 if len(strings[1][0]) < 128 else 2
    assert len(data) == header + z_length_prefix + string_bytes
    assert bits_per_pixel(len(data), 70, 90) == 8 * len(data) / (70 * 90)


def test_msh_decode_equals_compressais_own_decompress(msh_weights, photo):
    codec = get_codec("msh")
    data = codec.encode(photo, "1")
    model = codec.model("1")
    pad, unpad = padding(70, 90)
    with torch.inference_mode():
        out = model.compress(F.pad(to_float(photo), pad))
        reference = model.decompress(out["strings"], out["shape"])["x_hat"]
    expected = F.pad(reference, unpad).squeeze(0).mul(255).round().to(torch.uint8)
    assert torch.equal(codec.decode(data), expected)


def test_msh_pads_to_64_and_crops_back(msh_weights):
    codec = get_codec("msh")
    for height, width in [(1, 1), (65, 33), (64, 128)]:
        image = torch.full((3, height, width), 128, dtype=torch.uint8)
        assert codec.decode(codec.encode(image, "1")).shape == (3, height, width)


def test_missing_msh_weights_name_the_file_its_place_and_the_command(torch_home, photo):
    with pytest.raises(MissingWeightsError) as error:
        get_codec("msh").encode(photo, "2")
    message = str(error.value)
    assert "mbt2018-mean-2-e54a039d.pth.tar" in message
    assert str(torch_home / "hub" / "checkpoints") in message
    assert "rdpbench weights download mbt2018-mean-2-e54a039d.pth.tar" in message
