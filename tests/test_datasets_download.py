"""Registered downloadable datasets: download from a local HTTP server (with Range, dropped
connections and servers that ignore Range), checksums, hostile archives, imports by hand,
mirrors, the manifest of pixel hashes, and the ``rdpbench datasets`` commands.

Each test swaps the catalogue entry ``div2k-valid`` for one whose archive the test builds
from small generated photos and serves itself; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import io
import json
import os
import shutil
import signal
import stat
import tarfile
import threading
import urllib.parse
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import invoke, make_photo
from PIL import Image

from rdpbench.datasets import archives, get_dataset, inspect, published_content_sha256
from rdpbench.datasets import download as downloads
from rdpbench.datasets.archives import UnsafeArchiveError, extract_images
from rdpbench.datasets.catalog import CATALOG, Archive
from rdpbench.datasets.install import (
    MANIFEST_FILE,
    download_set,
    import_set,
    install_state,
    set_folder,
    verify_set,
)
from rdpbench.errors import RdpbenchError

NAME = "div2k-valid"


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files`` (by unescaped path); honours Range unless ``server.ignore_range``,
    answering from ``server.range_shift`` bytes before the asked start; on the first request of
    a file named in ``server.drop_at`` sends only that many bytes and hangs up; sends no
    Content-Length with ``server.no_length``. With ``server.hold_s``, the first request waits
    that long, or until a second request comes, before it is answered."""

    def do_GET(self):
        name, server = urllib.parse.unquote(self.path.lstrip("/")), self.server
        asked = self.headers.get("Range")
        server.requests.append((name, asked))
        if server.hold_s:
            if len(server.requests) == 1:
                server.second_request.wait(server.hold_s)
            else:
                server.second_request.set()
        if name not in server.files:
            self.send_error(404)
            return
        data, start = server.files[name], 0
        if asked and not server.ignore_range:
            start = int(asked.removeprefix("bytes=").split("-")[0]) - server.range_shift
            if start >= len(data):
                self.send_response(416)
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        if not server.no_length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[:server.drop_at.pop(name, len(body))])

    def log_message(self, *args):
        pass


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.requests, httpd.drop_at, httpd.ignore_range = {}, [], {}, False
    httpd.range_shift, httpd.no_length, httpd.hold_s, httpd.second_request = 0, False, 0, threading.Event()
    httpd.url = lambda name="": f"http://127.0.0.1:{httpd.server_port}/{name}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def data_home(tmp_path, monkeypatch) -> Path:
    """An empty dataset cache, and no mirror from the environment."""
    monkeypatch.setenv("RDPBENCH_DATA", str(tmp_path / "data"))
    monkeypatch.delenv(downloads.MIRROR_VARIABLE, raising=False)
    return tmp_path / "data"


def photos(count: int, first_seed: int = 0) -> dict[str, np.ndarray]:
    return {f"img{i}.png": make_photo(12, 16, seed=first_seed + i) for i in range(count)}


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def tar_bytes(members: dict[str, bytes], links: dict[str, tuple[bytes, str]] | None = None) -> bytes:
    """A tar.gz of ``members`` plus ``links``: name -> (tar member type, link target)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for name, (kind, target) in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, target
            archive.addfile(info)
    return buffer.getvalue()


def set_archive(images: dict[str, np.ndarray], extra: dict[str, bytes] | None = None) -> bytes:
    """A zip of the images as PNGs inside a folder, plus ``extra`` members."""
    return zip_bytes({**{f"DIV2K_valid_HR/{name}": png(pixels) for name, pixels in images.items()}, **(extra or {})})


def use_entry(monkeypatch, archives: list[Archive], n_images: int = 3):
    """Make the catalogue entry NAME stand for ``archives`` holding ``n_images``."""
    entry = dataclasses.replace(CATALOG[NAME], archives=tuple(archives), n_images=n_images)
    monkeypatch.setitem(CATALOG, NAME, entry)
    return entry


def published(url: str, data: bytes) -> Archive:
    return Archive(url, hashlib.sha256(data).hexdigest(), len(data), "the test")


def expected_pixel_hashes(images: dict[str, np.ndarray]) -> dict[str, str]:
    """sha256 of each image's H x W x 3 bytes, keyed by stem (computed without rdpbench)."""
    return {Path(name).stem: hashlib.sha256(pixels.tobytes()).hexdigest() for name, pixels in images.items()}


def assert_nothing_in_place(data_home: Path) -> None:
    """No set folder, no half-filled staging folder, no archive or partial download left."""
    assert not set_folder(NAME).exists()
    left = [p.name for p in data_home.rglob("*") if p.is_file() and not p.name.endswith(".lock")]
    assert left == [], left
    assert not list(data_home.glob(f".{NAME}.installing-*"))


def test_a_good_archive_installs_verified_and_runs_check_its_pixels(server, monkeypatch):
    images = photos(3)
    server.files["set.zip"] = set_archive(images, {"DIV2K_valid_HR/readme.txt": b"hi",
                                                   "__MACOSX/DIV2K_valid_HR/._img0.png": b"\x00\x05\x16\x07"})
    use_entry(monkeypatch, [published(server.url("set.zip"), server.files["set.zip"])])

    notes = download_set(CATALOG[NAME], progress=False)

    assert any("readme.txt" in note for note in notes) and any("macOS" in note for note in notes)
    assert install_state(NAME) == "verified"
    dataset = get_dataset(NAME)
    assert [item.name for item in dataset.images] == ["img0", "img1", "img2"]
    assert dataset.pixel_hashes == expected_pixel_hashes(images)
    assert dataset.verified and inspect(dataset).verified
    lines = "".join(f"{name} {digest}\n" for name, digest in expected_pixel_hashes(images).items())
    content = hashlib.sha256(lines.encode()).hexdigest()
    assert inspect(dataset).content_sha256 == content
    assert published_content_sha256()[content] == NAME
    assert not (set_folder(NAME).parent / ".downloads" / "set.zip").exists()  # the archive is not kept


def test_a_run_finds_an_image_whose_pixels_changed_after_installing(server, monkeypatch):
    server.files["set.zip"] = set_archive(photos(3))
    use_entry(monkeypatch, [published(server.url("set.zip"), server.files["set.zip"])])
    download_set(CATALOG[NAME], progress=False)
    Image.fromarray(make_photo(12, 16, seed=99)).save(set_folder(NAME) / "img1.png")

    with pytest.raises(RdpbenchError, match="img1.png: pixels differ") as error:
        inspect(get_dataset(NAME))
    assert "rdpbench datasets download div2k-valid" in str(error.value)


@pytest.mark.parametrize("damage", ["corrupted", "truncated"])
def test_a_damaged_download_is_refused_by_its_checksum_and_nothing_stays(server, monkeypatch, data_home, damage):
    good = set_archive(photos(3))
    use_entry(monkeypatch, [published(server.url("set.zip"), good)])
    middle = len(good) // 2
    server.files["set.zip"] = (good[:middle] + bytes([good[middle] ^ 1]) + good[middle + 1:]
                               if damage == "corrupted" else good[:middle])

    with pytest.raises(RdpbenchError, match=r"set\.zip: the downloaded file's sha256 .* not the published file"):
        download_set(CATALOG[NAME], progress=False)
    assert_nothing_in_place(data_home)



def test_a_published_archive_python_cannot_read_says_to_unpack_it_elsewhere(server, monkeypatch, data_home):
    stored = bytearray(zip_bytes({f"DIV2K_valid_HR/{name}": png(pixels) for name, pixels in photos(3).items()}))
    for header, method_at in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):  # local and central headers
        at = stored.find(header)
        while at >= 0:
            stored[at + method_at:at + method_at + 2] = (9).to_bytes(2, "little")  # Deflate64
            at = stored.find(header, at + 1)
    server.files["set.zip"] = bytes(stored)
    use_entry(monkeypatch, [published(server.url("set.zip"), bytes(stored))])

    with pytest.raises(RdpbenchError) as error:
        download_set(CATALOG[NAME], progress=False)
    message = str(error.value)
    assert "its sha256 matches" in message and "fetch it again" not in message
    assert f"rdpbench datasets import {NAME} FOLDER --unverified" in message
    assert_nothing_in_place(data_home)

def test_an_archive_that_is_not_the_set_is_refused_and_nothing_stays(server, monkeypatch, data_home):
    server.files["set.zip"] = set_archive(photos(2))  # the published file, but of two images
    use_entry(monkeypatch, [published(server.url("set.zip"), server.files["set.zip"])], n_images=3)

    with pytest.raises(RdpbenchError, match="set.zip: 2 images, where div2k-valid has 3"):
        download_set(CATALOG[NAME], progress=False)
    assert_nothing_in_place(data_home)


def test_an_undecodable_image_is_named_and_nothing_stays(server, monkeypatch, data_home):
    server.files["set.zip"] = set_archive(photos(2), {"DIV2K_valid_HR/broken.png": b"\x89PNG\r\n\x1a\nnot really"})
    use_entry(monkeypatch, [published(server.url("set.zip"), server.files["set.zip"])])

    with pytest.raises(RdpbenchError, match="broken.png: not a readable image") as error:
        download_set(CATALOG[NAME], progress=False)
    assert ".installing-" not in str(error.value)  # not the staging folder, which is gone
    assert_nothing_in_place(data_home)


@pytest.mark.parametrize("ignore_range", [False, True])
def test_a_dropped_connection_resumes_or_restarts(server, monkeypatch, ignore_range):
    images = photos(3)
    server.files["set.zip"] = set_archive(images)
    server.drop_at["set.zip"], server.ignore_range = 700, ignore_range
    use_entry(monkeypatch, [published(server.url("set.zip"), server.files["set.zip"])])

    download_set(CATALOG[NAME], progress=False)

    assert server.requests == [("set.zip", None), ("set.zip", "bytes=700-")]
    assert get_dataset(NAME).pixel_hashes == expected_pixel_hashes(images)


def test_an_interrupted_download_resumes_in_the_next_command(server, monkeypatch, data_home):
    server.files["set.zip"] = set_archive(photos(3))
    server.drop_at["set.zip"] = 500
    use_entry(monkeypatch, [published(server.url("set.zip"), server.files["set.zip"])])
    monkeypatch.setattr(downloads, "ATTEMPTS", 1)

    with pytest.raises(RdpbenchError, match="run the same command again to resume"):
        download_set(CATALOG[NAME], progress=False)
    partial = data_home / ".downloads" / "set.zip.partial"
    assert partial.stat().st_size == 500 and not set_folder(NAME).exists()

    download_set(CATALOG[NAME], progress=False)
    assert server.requests[-1] == ("set.zip", "bytes=500-")
    assert install_state(NAME) == "verified" and not partial.exists()


@pytest.mark.parametrize("left", ["shorter", "longer"])
def test_a_partial_download_of_another_file_is_fetched_again_from_zero(server, monkeypatch, data_home, left):
    server.files["set.zip"] = set_archive(photos(3))
    use_entry(monkeypatch, [published(server.url("set.zip"), server.files["set.zip"])])
    other = set_archive(photos(3, first_seed=10))
    partial = data_home / ".downloads" / "set.zip.partial"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(other[:500] if left == "shorter" else other + b"x" * len(server.files["set.zip"]))

    download_set(CATALOG[NAME], progress=False)
    assert server.requests[0][1] is not None and server.requests[-1] == ("set.zip", None)
    assert install_state(NAME) == "verified" and not partial.exists()


def _unsafe_archives() -> dict[str, tuple[bytes, str]]:
    picture = png(make_photo(8, 8, seed=0))
    symlink = zipfile.ZipInfo("link.png")
    symlink.external_attr = (stat.S_IFLNK | 0o777) << 16
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("ok.png", picture)
        archive.writestr(symlink, "/etc/passwd")
    return {
        "dotdot": (zip_bytes({"ok.png": picture, "../evil.png": picture}), "../evil.png (a path with '..')"),
        "absolute": (zip_bytes({"ok.png": picture, "/abs/evil.png": picture}), "/abs/evil.png (an absolute path)"),
        "zip symlink": (buffer.getvalue(), "link.png (a symbolic link)"),
        "tar symlink": (tar_bytes({"ok.png": picture}, {"link.png": (tarfile.SYMTYPE, "/etc/passwd")}),
                        "link.png (a symbolic link)"),
        "tar hard link": (tar_bytes({"ok.png": picture}, {"hard.png": (tarfile.LNKTYPE, "ok.png")}),
                          "hard.png (a hard link)"),
        "tar device": (tar_bytes({"ok.png": picture}, {"dev.png": (tarfile.CHRTYPE, "")}),
                       "dev.png (a device or other special file)"),
    }


@pytest.mark.parametrize("kind", list(_unsafe_archives()))
def test_an_archive_with_an_unsafe_member_is_refused_whole(tmp_path, kind):
    data, named = _unsafe_archives()[kind]
    archive, into = tmp_path / "hostile.archive", tmp_path / "into"
    archive.write_bytes(data)
    into.mkdir()

    with pytest.raises(UnsafeArchiveError) as error:
        extract_images(archive, into)
    assert named in str(error.value)
    assert list(into.iterdir()) == []  # not even the safe member


def test_a_download_with_an_unsafe_member_leaves_nothing(server, monkeypatch, data_home):
    data, _ = _unsafe_archives()["dotdot"]
    server.files["set.zip"] = data
    use_entry(monkeypatch, [published(server.url("set.zip"), data)], n_images=1)

    with pytest.raises(UnsafeArchiveError, match=r"\.\./evil\.png"):
        download_set(CATALOG[NAME], progress=False)
    assert_nothing_in_place(data_home)
    assert not (data_home.parent / "evil.png").exists()


def test_a_set_of_two_archives_zip_and_tar_installs_as_one(server, monkeypatch):
    first, second = photos(2), photos(1, first_seed=5)
    second = {"other.png": second["img0.png"]}
    server.files["a.zip"] = set_archive(first)
    server.files["b.tar.gz"] = tar_bytes({f"mobile/{n}": png(p) for n, p in second.items()})
    use_entry(monkeypatch, [published(server.url("a.zip"), server.files["a.zip"]),
                            published(server.url("b.tar.gz"), server.files["b.tar.gz"])])

    download_set(CATALOG[NAME], progress=False)

    assert get_dataset(NAME).pixel_hashes == expected_pixel_hashes({**first, **second})


def test_an_archive_without_a_published_checksum_is_recorded_and_not_verified(server, monkeypatch):
    server.files["set.zip"] = set_archive(photos(3))
    use_entry(monkeypatch, [Archive(server.url("set.zip"), None, None, None)])

    download_set(CATALOG[NAME], progress=False)

    manifest = json.loads((set_folder(NAME) / MANIFEST_FILE).read_text())
    assert manifest["archives"][0]["sha256"] == hashlib.sha256(server.files["set.zip"]).hexdigest()
    assert manifest["archives"][0]["published_sha256"] is None and manifest["verified"] is False
    assert install_state(NAME) == "installed"
    dataset = get_dataset(NAME)
    assert not dataset.verified and any("no published checksum" in note for note in dataset.notes)
    assert inspect(dataset).content_sha256 not in published_content_sha256()


def test_a_set_that_is_not_installed_names_the_command_that_installs_it():
    with pytest.raises(RdpbenchError, match="rdpbench datasets download div2k-valid") as error:
        get_dataset(NAME)
    assert "rdpbench datasets import div2k-valid PATH" in str(error.value)


def test_import_of_an_archive_copied_by_hand(tmp_path, monkeypatch):
    images = photos(3)
    copy = tmp_path / "DIV2K_valid_HR.zip"
    copy.write_bytes(set_archive(images))
    use_entry(monkeypatch, [published("https://unreachable.invalid/DIV2K_valid_HR.zip", copy.read_bytes())])

    result = invoke("datasets", "import", NAME, copy)

    assert result.exit_code == 0, result.output
    assert "(verified)" in result.output
    assert get_dataset(NAME).pixel_hashes == expected_pixel_hashes(images)
    assert copy.is_file()  # the user's copy is left alone


def test_import_of_a_different_archive_is_refused(tmp_path, monkeypatch, data_home):
    copy = tmp_path / "DIV2K_valid_HR.zip"
    copy.write_bytes(set_archive(photos(3)))
    use_entry(monkeypatch, [published("https://unreachable.invalid/DIV2K_valid_HR.zip", set_archive(photos(3, 7)))])

    result = invoke("datasets", "import", NAME, copy)

    assert result.exit_code == 1
    assert f"{copy}: sha256" in result.output and "not the published DIV2K_valid_HR.zip" in result.output
    assert not set_folder(NAME).exists()


def test_import_of_a_loose_folder_needs_the_unverified_flag(tmp_path, monkeypatch):
    images = photos(3)
    folder = tmp_path / "by_hand"
    folder.mkdir()
    for name, pixels in images.items():
        Image.fromarray(pixels).save(folder / name)
    use_entry(monkeypatch, [published("https://unreachable.invalid/DIV2K_valid_HR.zip", b"the archive")])

    refused = invoke("datasets", "import", NAME, folder)
    assert refused.exit_code == 1 and "--unverified" in refused.output
    assert not set_folder(NAME).exists()

    accepted = invoke("datasets", "import", NAME, folder, "--unverified")
    assert accepted.exit_code == 0, accepted.output
    assert install_state(NAME) == "unverified"
    dataset = get_dataset(NAME)
    assert not dataset.verified and dataset.pixel_hashes == expected_pixel_hashes(images)
    assert inspect(dataset).content_sha256 not in published_content_sha256()


def test_an_unverified_folder_must_hold_the_whole_set(tmp_path, monkeypatch):
    folder = tmp_path / "by_hand"
    folder.mkdir()
    Image.fromarray(make_photo(12, 16, seed=0)).save(folder / "only.png")
    use_entry(monkeypatch, [published("https://unreachable.invalid/DIV2K_valid_HR.zip", b"the archive")])

    with pytest.raises(RdpbenchError, match="1 images, where div2k-valid has 3"):
        import_set(CATALOG[NAME], folder, unverified=True)


@pytest.mark.parametrize("kind", ["folder", "url"])
def test_a_mirror_replaces_the_official_host_with_the_same_checksums(server, tmp_path, monkeypatch, kind):
    data = set_archive(photos(3))
    use_entry(monkeypatch, [published("http://127.0.0.1:9/official/set.zip", data)])  # never contacted
    if kind == "folder":
        (tmp_path / "mirror").mkdir()
        (tmp_path / "mirror" / "set.zip").write_bytes(data)
        monkeypatch.setenv(downloads.MIRROR_VARIABLE, str(tmp_path / "mirror"))
    else:
        server.files["set.zip"] = data
        monkeypatch.setenv(downloads.MIRROR_VARIABLE, server.url())

    download_set(CATALOG[NAME], progress=False)

    assert install_state(NAME) == "verified"
    assert server.requests == ([] if kind == "folder" else [("set.zip", None)])


def test_a_mirror_copy_that_differs_is_refused(tmp_path, monkeypatch):
    (tmp_path / "mirror").mkdir()
    (tmp_path / "mirror" / "set.zip").write_bytes(set_archive(photos(3)))
    use_entry(monkeypatch, [published("http://127.0.0.1:9/set.zip", set_archive(photos(3, 4)))])

    result = invoke("datasets", "download", NAME, "--mirror", tmp_path / "mirror")

    assert result.exit_code == 1 and "set.zip: sha256" in result.output
    assert not set_folder(NAME).exists()


def test_datasets_list_shows_each_set_and_whether_it_is_in_place(server, monkeypatch):
    server.files["set.zip"] = set_archive(photos(3))
    use_entry(monkeypatch, [published(server.url("set.zip"), server.files["set.zip"])])

    before = invoke("datasets", "list").output
    assert invoke("datasets", "download", NAME).exit_code == 0
    after = invoke("datasets", "list").output

    row = next(line for line in before.splitlines() if f" {NAME} " in line)
    assert row.startswith("missing") and "3 images" in row
    assert next(line for line in after.splitlines() if f" {NAME} " in line).startswith("verified")
    assert "clic2022-valid" in after and "checksum: unpublished" in after
    assert server.url("set.zip") in after


def test_datasets_verify_names_each_differing_or_missing_file(server, monkeypatch):
    server.files["set.zip"] = set_archive(photos(3))
    use_entry(monkeypatch, [published(server.url("set.zip"), server.files["set.zip"])])
    download_set(CATALOG[NAME], progress=False)
    assert invoke("datasets", "verify", NAME).exit_code == 0
    assert verify_set(NAME) == []

    Image.fromarray(make_photo(12, 16, seed=42)).save(set_folder(NAME) / "img0.png")
    (set_folder(NAME) / "img2.png").unlink()
    result = invoke("datasets", "verify", NAME)

    assert result.exit_code == 1
    assert "img0.png: pixels differ" in result.output and "img2.png: missing" in result.output
    assert "1 of 3 images match" in result.output


@pytest.mark.parametrize("how", ["verified download", "unverified folder"])
def test_only_a_verified_set_gets_the_codec_cards_published_curves(server, tmp_path, monkeypatch, how):
    """The cards publish curves for div2k-valid; results on the same pixels get them beside
    only when the set was installed from its published archive."""
    import pandas as pd

    from rdpbench.codecs.cards import published_beside

    images = photos(3)
    server.files["set.zip"] = set_archive(images)
    use_entry(monkeypatch, [published(server.url("set.zip"), server.files["set.zip"])])
    if how == "verified download":
        download_set(CATALOG[NAME], progress=False)
    else:
        folder = tmp_path / "by_hand"
        folder.mkdir()
        for name, pixels in images.items():
            Image.fromarray(pixels).save(folder / name)
        import_set(CATALOG[NAME], folder, unverified=True)
    points = pd.DataFrame({"codec": ["msillm"], "dataset_sha256": [inspect(get_dataset(NAME)).content_sha256]})

    beside = published_beside(points)

    assert set(beside.dataset) == ({NAME} if how == "verified download" else set())


def test_a_run_on_a_registered_set_needs_it_installed_then_uses_it(server, tmp_path, monkeypatch):
    server.files["set.zip"] = set_archive(photos(3))
    use_entry(monkeypatch, [published(server.url("set.zip"), server.files["set.zip"])])
    run = ("run", "--codec", "jpeg", "--quality", "50", "--dataset", NAME, "--out", tmp_path / "results",
           "--device", "cpu", "--no-progress")

    missing = invoke(*run)
    assert missing.exit_code == 1 and "rdpbench datasets download div2k-valid" in missing.output
    assert server.requests == []  # a run never downloads a large set by itself

    download_set(CATALOG[NAME], progress=False)
    done = invoke(*run)
    assert done.exit_code == 0, done.output
    manifest = json.loads(next((tmp_path / "results").glob("*/run.json")).read_text())
    assert manifest["dataset"]["source"] == NAME and manifest["dataset"]["n_images"] == 3


def test_a_range_answer_from_elsewhere_in_the_file_restarts_the_download(server, monkeypatch):
    images = photos(3)
    server.files["set.zip"] = set_archive(images)
    server.drop_at["set.zip"], server.range_shift = 700, 100  # asked from 700, answers from 600
    use_entry(monkeypatch, [published(server.url("set.zip"), server.files["set.zip"])])

    download_set(CATALOG[NAME], progress=False)

    assert server.requests == [("set.zip", None), ("set.zip", "bytes=700-"), ("set.zip", None)]
    assert get_dataset(NAME).pixel_hashes == expected_pixel_hashes(images)


@pytest.mark.parametrize("announced", [True, False])
def test_a_download_longer_than_the_published_file_is_stopped_and_deleted(server, monkeypatch, data_home, announced):
    good = set_archive(photos(3))
    server.files["set.zip"], server.no_length = good + bytes(50_000), not announced
    use_entry(monkeypatch, [published(server.url("set.zip"), good)])

    with pytest.raises(RdpbenchError, match=f"more than the published file's {len(good)} bytes"):
        download_set(CATALOG[NAME], progress=False)
    assert_nothing_in_place(data_home)


@pytest.mark.parametrize("kind", ["url", "file url"])
def test_a_mirror_path_with_a_space_and_a_hash_is_taken_literally(server, tmp_path, monkeypatch, kind):
    data = set_archive(photos(3))
    use_entry(monkeypatch, [published("http://127.0.0.1:9/official/set.zip", data)])  # never contacted
    if kind == "url":
        server.files["my mirror#1/set.zip"] = data
        mirror = server.url("my mirror#1")
    else:
        (tmp_path / "my mirror#1").mkdir()
        (tmp_path / "my mirror#1" / "set.zip").write_bytes(data)
        mirror = f"file://{tmp_path}/my mirror#1"

    download_set(CATALOG[NAME], mirror=mirror, progress=False)

    assert install_state(NAME) == "verified"
    assert server.requests == ([("my mirror#1/set.zip", None)] if kind == "url" else [])


def test_a_mirror_of_another_scheme_is_refused_by_name():
    with pytest.raises(RdpbenchError, match="'ftp://host/sets': neither an http"):
        downloads.mirror_source("set.zip", "ftp://host/sets")


def test_sets_that_share_an_archive_install_one_after_the_other(server, monkeypatch):
    """Two processes installing clic2020-test and clic2020-pro-test fetch the same archive into
    the same place; the second waits for the first instead of writing the same file."""
    images = photos(3)
    server.files["set.zip"], server.hold_s = set_archive(images), 0.5
    use_entry(monkeypatch, [published(server.url("set.zip"), server.files["set.zip"])])
    other = dataclasses.replace(CATALOG[NAME], name="clic2022-valid")
    monkeypatch.setitem(CATALOG, other.name, other)
    failures = []

    def install(entry):
        try:
            download_set(entry, progress=False)
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            failures.append(error)

    threads = [threading.Thread(target=install, args=(entry,)) for entry in (CATALOG[NAME], other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert get_dataset(NAME).pixel_hashes == get_dataset(other.name).pixel_hashes == expected_pixel_hashes(images)


def test_a_staging_folder_left_by_a_killed_install_is_removed_by_the_next(server, monkeypatch, data_home):
    server.files["set.zip"] = set_archive(photos(3))
    use_entry(monkeypatch, [published(server.url("set.zip"), server.files["set.zip"])])
    left = data_home / ".clic2020-test.installing-0123456789ab"
    left.mkdir(parents=True)
    (left / "img0.png").write_bytes(b"half a set")

    download_set(CATALOG[NAME], progress=False)

    assert not left.exists() and install_state(NAME) == "verified"


def test_sigterm_during_an_install_stops_it_like_ctrl_c_and_leaves_no_staging(server, monkeypatch, data_home):
    server.files["set.zip"] = set_archive(photos(3))
    use_entry(monkeypatch, [published(server.url("set.zip"), server.files["set.zip"])])
    monkeypatch.setattr(archives, "_write", lambda *args: os.kill(os.getpid(), signal.SIGTERM))

    class Unhandled(Exception):
        pass

    def unhandled(*args):
        raise Unhandled  # what this test process does with a SIGTERM the command leaves to it

    previous = signal.signal(signal.SIGTERM, unhandled)
    try:
        result = invoke("datasets", "download", NAME, "--no-progress")
    finally:
        signal.signal(signal.SIGTERM, previous)

    assert result.exit_code == 143 and "stopped by SIGTERM" in result.output, result.output
    assert not list(data_home.glob(f".{NAME}.installing-*")) and not set_folder(NAME).exists()


def test_an_archive_whose_images_do_not_fit_on_the_disk_is_refused_before_writing(tmp_path, monkeypatch):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:  # 2 MB of zeros in a few kB
        archive.writestr("big.png", bytes(2_000_000))
        archive.writestr("ok.png", png(make_photo(8, 8, seed=0)))
    path, into = tmp_path / "set.zip", tmp_path / "into"
    path.write_bytes(buffer.getvalue())
    into.mkdir()
    one_mb_free = SimpleNamespace(total=10**9, used=10**9 - 10**6, free=10**6)
    monkeypatch.setattr(shutil, "disk_usage", lambda folder: one_mb_free)

    with pytest.raises(RdpbenchError, match=r"declare 2\.0 MB unpacked, more than the 1\.0 MB free"):
        extract_images(path, into)
    assert list(into.iterdir()) == []


def test_a_zip_folder_entry_without_a_trailing_slash_is_skipped_as_a_folder(tmp_path):
    folder = zipfile.ZipInfo("set/photos.png")
    folder.external_attr = (stat.S_IFDIR | 0o755) << 16
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(folder, b"")
        archive.writestr("set/ok.png", png(make_photo(8, 8, seed=0)))
    path, into = tmp_path / "set.zip", tmp_path / "into"
    path.write_bytes(buffer.getvalue())
    into.mkdir()

    extract_images(path, into)

    assert [item.name for item in into.iterdir()] == ["ok.png"]


@pytest.mark.parametrize("record", [{"pixel_sha256": "0" * 64}, {"file": "../outside.png", "pixel_sha256": "0" * 64},
                                    "img0.png"])
def test_a_manifest_with_a_damaged_image_record_is_named(server, monkeypatch, record):
    server.files["set.zip"] = set_archive(photos(3))
    use_entry(monkeypatch, [published(server.url("set.zip"), server.files["set.zip"])])
    download_set(CATALOG[NAME], progress=False)
    manifest_path = set_folder(NAME) / MANIFEST_FILE
    manifest = json.loads(manifest_path.read_text())
    manifest["images"]["img0"] = record
    manifest_path.write_text(json.dumps(manifest))

    with pytest.raises(RdpbenchError, match=r"\.rdpbench-dataset\.json is damaged \(the record of image 'img0'"):
        get_dataset(NAME)
    result = invoke("datasets", "verify", NAME)
    assert result.exit_code == 1 and "is damaged" in result.output and "Traceback" not in result.output


def test_a_dataset_folder_that_cannot_be_made_is_named(tmp_path, monkeypatch):
    (tmp_path / "a file").write_text("not a folder")
    monkeypatch.setenv("RDPBENCH_DATA", str(tmp_path / "a file" / "data"))
    use_entry(monkeypatch, [published("http://127.0.0.1:9/set.zip", b"never fetched")])

    result = invoke("datasets", "download", NAME)

    assert result.exit_code == 1
    assert f"cannot write the dataset: Not a directory: {tmp_path / 'a file' / 'data'}" in result.output
    assert "RDPBENCH_DATA" in result.output


def test_import_of_a_path_that_does_not_exist_says_so(tmp_path, monkeypatch):
    use_entry(monkeypatch, [published("https://unreachable.invalid/DIV2K_valid_HR.zip", b"the archive")])

    result = invoke("datasets", "import", NAME, tmp_path / "nowhere.zip")

    assert result.exit_code == 1 and f"{tmp_path / 'nowhere.zip'}: no file or folder there" in result.output


def test_a_damaged_manifest_shows_in_the_list_and_verify_names_it(server, monkeypatch):
    server.files["set.zip"] = set_archive(photos(3))
    use_entry(monkeypatch, [published(server.url("set.zip"), server.files["set.zip"])])
    download_set(CATALOG[NAME], progress=False)
    (set_folder(NAME) / MANIFEST_FILE).write_text('{"source": "downl')  # cut short

    listed = invoke("datasets", "list")
    assert listed.exit_code == 0, listed.output
    assert next(line for line in listed.output.splitlines() if f" {NAME} " in line).startswith("damaged")
    verified = invoke("datasets", "verify")
    assert verified.exit_code == 1
    assert f"damaged    {NAME}: {set_folder(NAME) / MANIFEST_FILE} is damaged" in verified.output
    assert f"delete {set_folder(NAME)} and install {NAME} again" in verified.output
