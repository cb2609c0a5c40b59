import urllib.error
import urllib.request
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rdpbench import datasets
from rdpbench.datasets import get_dataset, inspect
from rdpbench.errors import ImageError, RdpbenchError
from rdpbench.images import load_image, pixel_sha256


def _write_16_bit_rgb_png(path: Path, pixels: np.ndarray) -> None:
    """A 48-bit PNG, written with OpenCV (Pillow cannot write 16-bit RGB)."""
    import cv2

    assert cv2.imwrite(str(path), pixels[..., ::-1])


def test_rgb_png_loads_unchanged_as_uint8_chw(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    image, note = load_image(tmp_path / "a.png")
    assert note is None and image.dtype.is_floating_point is False
    assert image.shape == (3, 5, 7)
    assert np.array_equal(image.permute(1, 2, 0).numpy(), pixels)


def test_grayscale_becomes_rgb_with_a_note(tmp_path):
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    Image.fromarray(gray, mode="L").save(tmp_path / "g.png")
    image, note = load_image(tmp_path / "g.png")
    assert "grayscale" in note
    for channel in image:
        assert np.array_equal(channel.numpy(), gray)


def test_rgba_drops_alpha_and_keeps_colour(tmp_path):
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 10
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "t.png")
    image, note = load_image(tmp_path / "t.png")
    assert "alpha" in note
    assert image[0].eq(200).all() and image[1:].eq(0).all()


def test_palette_image_becomes_its_rgb_colours(tmp_path):
    palette_image = Image.new("P", (3, 2))
    palette_image.putpalette([10, 20, 30] + [0, 0, 0] * 255)
    palette_image.save(tmp_path / "p.png")
    image, note = load_image(tmp_path / "p.png")
    assert "palette" in note
    assert image[:, 0, 0].tolist() == [10, 20, 30]


def test_16_bit_grayscale_keeps_the_high_byte(tmp_path):
    values = np.array([[0, 256, 65535]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "g16.png")
    image, note = load_image(tmp_path / "g16.png")
    assert "16-bit" in note
    assert image[0, 0].tolist() == [0, 1, 255]


def test_16_bit_rgb_is_noted_and_keeps_the_high_byte(tmp_path):
    values = np.array([[[0, 512, 65535]]], dtype=np.uint16)
    _write_16_bit_rgb_png(tmp_path / "c16.png", values)
    image, note = load_image(tmp_path / "c16.png")
    assert "16-bit RGB" in note
    assert image[:, 0, 0].tolist() == [0, 2, 255]


def test_unreadable_file_is_named(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(ImageError, match="broken.png"):
        load_image(tmp_path / "broken.png")


def test_folder_dataset_skips_non_image_files_with_a_note(image_folder):
    (image_folder / "README.txt").write_text("not an image")
    (image_folder / "rates.csv").write_text("image,bpp\n")
    dataset = get_dataset(str(image_folder))
    assert [item.name for item in dataset.images] == ["img0", "img1", "img2"]
    assert "README.txt" in dataset.notes[0] and "rates.csv" in dataset.notes[0]
    inspect(dataset)  # nothing left to trip over


def test_image_with_an_unusual_suffix_is_kept(image_folder):
    (image_folder / "img0.png").rename(image_folder / "img0.picture")
    assert "img0" in [item.name for item in get_dataset(str(image_folder)).images]


def test_preflight_names_every_broken_link_and_undecodable_image(image_folder):
    (image_folder / "gone.png").symlink_to(image_folder / "deleted.png")
    data = (image_folder / "img0.png").read_bytes()
    (image_folder / "img0.png").write_bytes(data[: len(data) // 2])  # truncated
    (image_folder / "bad.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ImageError) as raised:
        inspect(get_dataset(str(image_folder)))
    message = str(raised.value)
    assert "gone.png: broken link" in message
    assert "img0.png" in message and "truncated" in message
    assert "bad.jpg" in message
    assert "3 of the images" in message


def test_a_subset_has_its_own_name_and_content(image_folder):
    full = get_dataset(str(image_folder))
    first_two = full.limited(2)
    assert (first_two.display_name, first_two.slug) == ("images[:2]", "images-first2")
    assert full.limited(3).display_name == "images"  # all of them: not a subset
    assert inspect(first_two).content_sha256 != inspect(full).content_sha256


def test_kodak_content_is_known_whatever_the_folder_is_called(tmp_path):
    """The published Kodak identity equals the content hash an independent computation
    gives from the table of pixel hashes (name, space, hash, newline per image)."""
    import hashlib

    lines = "".join(f"{Path(name).stem} {pixels}\n" for name, _, pixels in datasets.kodak_table())
    assert datasets.published_content_sha256() == {hashlib.sha256(lines.encode()).hexdigest(): "kodak"}


def test_portrait_images_stay_portrait(image_folder):
    summary = inspect(get_dataset(str(image_folder)))
    assert summary.sizes["img1"] == (70, 52)


def test_content_hash_depends_on_pixels_not_file_format(image_folder, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in image_folder.iterdir():
        Image.open(path).save(copy / f"{path.stem}.bmp")
    assert inspect(get_dataset(str(copy))).content_sha256 == inspect(
        get_dataset(str(image_folder))
    ).content_sha256


def test_sample_dataset_is_offline_colour_photographs():
    dataset = get_dataset("sample")
    summary = inspect(dataset)
    assert len(dataset.images) == 4
    assert summary.conversions == {}
    assert all(min(size) >= 256 for size in summary.sizes.values())


def test_unknown_dataset_lists_the_named_ones():
    with pytest.raises(RdpbenchError, match="kodak, sample"):
        get_dataset("imagenet-but-not-a-folder")


def test_kodak_offline_says_which_folder_to_fill(tmp_path, monkeypatch):
    monkeypatch.setenv("RDPBENCH_DATA", str(tmp_path))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(RdpbenchError) as error:
        get_dataset("kodak")
    assert str(tmp_path / "kodak") in str(error.value)
    assert "kodim01.png" in str(error.value)


def test_kodak_copy_with_wrong_pixels_is_rejected_by_name(tmp_path, monkeypatch):
    monkeypatch.setenv("RDPBENCH_DATA", str(tmp_path))
    folder = tmp_path / "kodak"
    folder.mkdir()
    for name, _, _ in datasets.kodak_table():
        Image.new("RGB", (8, 8)).save(folder / name)
    with pytest.raises(ImageError, match="kodim01.png"):
        inspect(get_dataset("kodak"))


def test_kodak_table_has_24_images_with_pixel_hashes():
    table = datasets.kodak_table()
    assert [name for name, _, _ in table] == [f"kodim{i:02d}.png" for i in range(1, 25)]
    assert all(len(pixel) == 64 and len(file) == 64 for _, file, pixel in table)


def test_pixel_hash_is_sha256_of_hwc_bytes():
    import hashlib

    import torch

    pixels = np.random.default_rng(1).integers(0, 256, (4, 6, 3), dtype=np.uint8)
    image = torch.from_numpy(pixels).permute(2, 0, 1)
    assert pixel_sha256(image) == hashlib.sha256(pixels.tobytes()).hexdigest()


@pytest.mark.parametrize("limit", [1000, 100])  # 1600 pixels: past the warning; past twice the limit (the error)
def test_an_image_over_pillows_size_limits_is_read_without_warning_or_error(tmp_path, monkeypatch, limit):
    from PIL import Image as PILImage

    pixels = np.random.default_rng(2).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    PILImage.fromarray(pixels).save(tmp_path / "large.png")
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", limit)  # makes a small image count as "large"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image, _ = load_image(tmp_path / "large.png")
        summary = inspect(get_dataset(str(tmp_path)))
    assert np.array_equal(image.permute(1, 2, 0).numpy(), pixels)
    assert summary.sizes == {"large": (40, 40)}
    assert PILImage.MAX_IMAGE_PIXELS == limit  # Pillow's own setting is left as it was


def test_an_image_whose_pixels_cannot_fit_in_memory_is_named_before_decoding(tmp_path, monkeypatch):
    from PIL import ImageFile

    from rdpbench import images
    from rdpbench.memory import AvailableMemory

    Image.new("RGB", (50, 40)).save(tmp_path / "big.png")
    monkeypatch.setattr(images, "available_memory", lambda: AvailableMemory(1000, "a test reading"))
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("pixels decoded"))
    with pytest.raises(ImageError, match=r"big.png: 50x40 pixels need about 16.0 kB to decode, more than the "
                                         r"1.0 kB available \(a test reading\)"):
        load_image(tmp_path / "big.png")


@pytest.mark.parametrize("mode", ["RGB", "L", "P", "RGBA", "I;16"])
def test_images_convert_alike_in_blocks_of_rows(tmp_path, monkeypatch, mode):
    """9 rows of 7 pixels in blocks of 2 rows (the last one short): the same pixels as
    Pillow's own whole-image conversion."""
    from rdpbench import images

    rng = np.random.default_rng(3)
    if mode == "I;16":
        source = Image.fromarray(rng.integers(0, 65536, (9, 7), dtype=np.uint16))
        expected = np.repeat((np.asarray(source) >> 8).astype(np.uint8)[..., None], 3, axis=2)
    else:
        source = Image.fromarray(rng.integers(0, 256, (9, 7, 3), dtype=np.uint8)).convert(mode)
        expected = np.asarray(source.convert("RGB"))
    source.save(tmp_path / "a.png")
    monkeypatch.setattr(images, "BLOCK_PIXELS", 14)
    assert [rows.stop for rows in images.row_blocks(9, 7)] == [2, 4, 6, 8, 9]
    image, _ = load_image(tmp_path / "a.png")
    assert np.array_equal(image.permute(1, 2, 0).numpy(), expected)
    assert np.array_equal(np.asarray(images.to_pil(image)), expected)


def test_pixel_hash_in_blocks_is_the_hash_of_the_whole_image(monkeypatch):
    import hashlib

    import torch

    from rdpbench import images

    pixels = np.random.default_rng(4).integers(0, 256, (9, 7, 3), dtype=np.uint8)
    monkeypatch.setattr(images, "BLOCK_PIXELS", 14)
    image = torch.from_numpy(pixels).permute(2, 0, 1)
    assert pixel_sha256(image) == hashlib.sha256(pixels.tobytes()).hexdigest()


def test_a_folder_whose_images_are_in_a_subfolder_names_the_subfolder(tmp_path):
    (tmp_path / "set" / "HR").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(tmp_path / "set" / "HR" / "a.png")
    with pytest.raises(RdpbenchError, match=r"holds no images \(images in subfolders are not read.*set[/\\]HR\)"):
        get_dataset(str(tmp_path / "set"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(RdpbenchError, match=r"holds no images$"):
        get_dataset(str(tmp_path / "empty"))
