"""The results schema, defined once: the columns of images.csv and points.csv, the name of the
default sampler, and the schema version that run.json and exported files carry."""

from __future__ import annotations

import math

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
#: Runs with ``--complexity`` only (points.csv; :mod:`rdpbench.complexity`), measured once per rate
#: point and sampler on the first image: thousands of multiply-accumulates per pixel of the encode
#: and of the decode, per step of a diffusion sampler (and how many steps ran), the parameters of
#: the modules that ran, and the peak CUDA memory of the decode in MB. ``complexity_note`` says why
#: cells are empty (a codec that is not a torch network, memory not measured on the CPU).
COMPLEXITY_COLUMNS = ["enc_kmac_per_px", "dec_kmac_per_px", "dec_step_kmac_per_px", "dec_steps",
                      "enc_params", "dec_params", "dec_peak_mb"]
COMPLEXITY_NOTE = "complexity_note"
#: Runs at target rates (``--target-bpp``) only: ``quality`` holds the target's label
#: (``bpp0.15``, see :func:`target_label`), ``setting`` the codec setting the search chose for
#: the image (a ``--quality`` value), ``target_status`` whether the target was met
#: (:data:`TARGET_STATUSES`). Absent from other runs' files.
TARGET_COLUMNS = ["setting", "target_status"]
#: ``met``: the chosen setting's rate is the highest at or below the target; ``below_lowest_rate``:
#: even the lowest setting's rate is above the target (the row has that setting, above the
#: target); ``above_highest_rate``: even the highest setting's rate is below the target.
TARGET_STATUSES = ("met", "below_lowest_rate", "above_highest_rate")
TARGET_PREFIX = "bpp"
#: Columns that hold text; every other column of a results CSV holds numbers.
TEXT_COLUMNS = set(KEY_COLUMNS + TARGET_COLUMNS + [COMPLEXITY_NOTE])
#: Columns that readers of several runs add: where a row came from and which image set it is on.
ORIGIN_COLUMNS = ["run", "source", "dataset", "dataset_sha256", "patch_protocol"]
#: Every column of a results table that is not a metric's value (cards add label and citation).
NOT_METRICS = frozenset(KEY_COLUMNS + RATE_COLUMNS + TARGET_COLUMNS + TIME_COLUMNS + COMPLEXITY_COLUMNS
                        + ORIGIN_COLUMNS + [COMPLEXITY_NOTE, "n_images", "label", "citation"])


def image_columns(metric_names: list[str], targets: bool = False) -> list[str]:
    """Column order of images.csv for the given per-image metrics (with the target-rate
    columns for a ``--target-bpp`` run)."""
    return KEY_COLUMNS + RATE_COLUMNS + (TARGET_COLUMNS if targets else []) + metric_names + TIME_COLUMNS


def target_label(bpp: float) -> str:
    """The ``quality`` label of a target rate: 0.15 -> ``bpp0.15``."""
    return f"{TARGET_PREFIX}{bpp:g}"


def target_of(label: str) -> float | None:
    """The target rate a ``quality`` label names (``bpp0.15`` -> 0.15), None for a codec setting."""
    if not label.startswith(TARGET_PREFIX):
        return None
    try:
        bpp = float(label[len(TARGET_PREFIX):])
    except ValueError:
        return None
    return bpp if math.isfinite(bpp) and bpp > 0 and target_label(bpp) == label else None


def curve_label(codec: str, sampler: str, joiner: str = " ({})") -> str:
    """A curve's name: the codec alone for its default sampler, else the codec and sampler
    joined by ``joiner`` ("ours (ddim10)", or "ours@ddim10" with ``joiner="@{}"``)."""
    return codec if sampler == DEFAULT_SAMPLER else codec + joiner.format(sampler)
