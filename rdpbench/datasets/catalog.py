"""The image sets rdpbench can download and check, as data: each set's archives with their
published size and sha256, where that checksum was published, the image count, licence and
home page. Adding a set touches this table only.

The hosts publish no checksums of these archives themselves. The sha256 values below are the
ones TensorFlow Datasets records for the same URLs, which its downloader checks
(``tensorflow_datasets/url_checksums/clic.txt`` and
``tensorflow_datasets/datasets/div2k/checksums.tsv`` in the tensorflow/datasets repository).
An archive with ``sha256=None`` has no published checksum: its first download records the
archive's sha256 and every image's pixel hash, and the set counts as unverified.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UnknownNameError

_TFDS_CLIC = "TensorFlow Datasets, tensorflow_datasets/url_checksums/clic.txt"
_TFDS_DIV2K = "TensorFlow Datasets, tensorflow_datasets/datasets/div2k/checksums.tsv"
_CLIC_TERMS = "challenge data of CLIC 2020 (hosted by ETH Zurich's Computer Vision Lab); no licence ships with it"


@dataclass(frozen=True)
class Archive:
    """One downloadable archive of a set."""

    url: str
    #: Published sha256 of the archive; None where none is published.
    sha256: str | None
    #: Published size in bytes; None where unknown.
    size: int | None
    #: Where ``sha256`` (and ``size``) were published.
    checksum_source: str | None

    @property
    def file_name(self) -> str:
        return self.url.rsplit("/", 1)[1]


@dataclass(frozen=True)
class CatalogEntry:
    """A registered image set: its archives, how many images they hold, and its terms."""

    name: str
    #: One line: what the set is (shown by ``rdpbench list datasets``).
    title: str
    archives: tuple[Archive, ...]
    n_images: int
    licence: str
    homepage: str
    #: Approximate download size, for sets whose archives' sizes are unpublished.
    size_note: str | None = None

    @property
    def checksums_published(self) -> bool:
        return all(archive.sha256 for archive in self.archives)

    @property
    def download_bytes(self) -> int | None:
        sizes = [archive.size for archive in self.archives]
        return None if None in sizes else sum(sizes)

    def describe_size(self) -> str:
        total = self.download_bytes
        return f"{total / 1e6:,.0f} MB" if total is not None else (self.size_note or "size unknown")


_CLIC_PRO_TEST = Archive(
    "https://data.vision.ee.ethz.ch/cvl/clic/test/CLIC2020Professional_test.zip",
    "857df244fc2bfa5da28d4c66bf0db16ee99bfc79eb807be8afa89cd507852884", 891_643_809, _TFDS_CLIC)
_CLIC_MOBILE_TEST = Archive(
    "https://data.vision.ee.ethz.ch/cvl/clic/test/CLIC2020Mobile_test.zip",
    "2025f07a6c652270e534640de4271feef3b3dd3260beed4ac4821064837aa732", 721_789_976, _TFDS_CLIC)

CATALOG: dict[str, CatalogEntry] = {entry.name: entry for entry in (
    CatalogEntry(
        "clic2020-test", "CLIC 2020 test set, professional (250) and mobile (178) images",
        (_CLIC_PRO_TEST, _CLIC_MOBILE_TEST), 428, _CLIC_TERMS, "https://www.compression.cc/"),
    CatalogEntry(
        "clic2020-pro-test", "CLIC 2020 professional test set", (_CLIC_PRO_TEST,), 250, _CLIC_TERMS,
        "https://www.compression.cc/"),
    CatalogEntry(
        "clic2020-mobile-test", "CLIC 2020 mobile test set", (_CLIC_MOBILE_TEST,), 178, _CLIC_TERMS,
        "https://www.compression.cc/"),
    CatalogEntry(
        "clic2020-pro-valid", "CLIC 2020 professional validation set",
        (Archive("https://data.vision.ee.ethz.ch/cvl/clic/professional_valid_2020.zip",
                 "00be38092ade2ab5163b65f7f6523d46c7bca147007f559adbb02c0afc236b7d", 134_834_429, _TFDS_CLIC),),
        41, _CLIC_TERMS, "https://www.compression.cc/"),
    CatalogEntry(
        "clic2020-mobile-valid", "CLIC 2020 mobile validation set",
        (Archive("https://data.vision.ee.ethz.ch/cvl/clic/mobile_valid_2020.zip",
                 "ff0280382eeb32fdceb28c81a7f47ac9ad86d933ebe901680845635d04e47a10", 236_556_531, _TFDS_CLIC),),
        61, _CLIC_TERMS, "https://www.compression.cc/"),
    CatalogEntry(
        "div2k-valid", "DIV2K validation set, high-resolution images (DIV2K_valid_HR)",
        (Archive("https://data.vision.ee.ethz.ch/cvl/DIV2K/DIV2K_valid_HR.zip",
                 "20dd31fd84d777bc1cf5d6b7654a3f569c0aec74458ae094122ad1d0489900fc", 448_993_893, _TFDS_DIV2K),),
        100, "DIV2K (NTIRE 2017, Agustsson & Timofte): for academic research; cite the NTIRE 2017 paper",
        "https://data.vision.ee.ethz.ch/cvl/DIV2K/"),
    CatalogEntry(
        "clic2022-valid", "CLIC 2022 image validation set (longer side 2048)",
        # The task page links this archive without a checksum, and it was replaced once
        # (300 images cut to 30 on 3 March 2022), so none is recorded here.
        (Archive("https://storage.googleapis.com/clic2022_public/validation_sets/images.zip", None, None, None),),
        30, "Unsplash licence (the CLIC 2022 task page)", "https://clic.compression.cc/2022/tasks/",
        size_note="about 250 MB"),
)}


def catalog_entry(name: str) -> CatalogEntry:
    """The registered downloadable set ``name``; an unknown name raises an error listing them."""
    if name not in CATALOG:
        raise UnknownNameError("downloadable dataset", name, list(CATALOG))
    return CATALOG[name]
