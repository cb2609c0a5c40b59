"""The results schema, defined once: the columns of images.csv and points.csv, the name of the
default sampler, and the schema version that run.json and exported files carry."""

from __future__ import annotations

SCHEMA_VERSION = 1

#: The sampler of codecs that have only one way to decode.
DEFAULT_SAMPLER = "default"

#: What identifies a row of images.csv, and a row of points.csv.
KEY_COLUMNS = ["codec", "quality", "sampler", "image"]
POINT_KEY = ["codec", "quality", "sampler"]
#: bpp counts the real bytes; bpp_est is the codec's own likelihood estimate (learned codecs only;
#: absent from files written before it existed).
RATE_COLUMNS = ["height", "width", "bytes", "bpp", "bpp_est"]
TIME_COLUMNS = ["encode_s", "decode_s"]
#: Columns that hold text; every other column of a results CSV holds numbers.
TEXT_COLUMNS = set(KEY_COLUMNS)
#: Columns that readers of several runs add: where a row came from and which image set it is on.
ORIGIN_COLUMNS = ["run", "source", "dataset", "dataset_sha256", "patch_protocol"]
#: Every column of a results table that is not a metric's value (cards add label and citation).
NOT_METRICS = frozenset(KEY_COLUMNS + RATE_COLUMNS + TIME_COLUMNS + ORIGIN_COLUMNS + ["n_images", "label", "citation"])


def image_columns(metric_names: list[str]) -> list[str]:
    """Column order of images.csv for the given per-image metrics."""
    return KEY_COLUMNS + RATE_COLUMNS + metric_names + TIME_COLUMNS


def curve_label(codec: str, sampler: str, joiner: str = " ({})") -> str:
    """A curve's name: the codec alone for its default sampler, else the codec and sampler
    joined by ``joiner`` ("ours (ddim10)", or "ours@ddim10" with ``joiner="@{}"``)."""
    return codec if sampler == DEFAULT_SAMPLER else codec + joiner.format(sampler)
