"""Results on disk: reading and writing the files of run folders (their layout:
:mod:`rdpbench.paths`; their columns: :mod:`rdpbench.schema`), aggregation to rate points,
CompressAI's JSON format, and collecting every run under a folder.

JSON files are strict JSON: a NaN is written as null, an infinity as the string "inf" or
"-inf" (a lossless image's PSNR, say). Readers check what they read: an empty, cut or
malformed file raises :class:`DamagedResultsError` naming it, and a CSV row without its line
end (cut while being copied) is never taken as data.
"""

from __future__ import annotations

import csv
import io
import json
import math
import numbers
import warnings
from pathlib import Path

import pandas as pd

from .atomic import atomic_write
from .errors import DamagedResultsError, DamagedResultsWarning
from .paths import IMAGES_CSV, MANIFEST, POINTS_CSV, RunFolder, is_hidden
from .schema import DEFAULT_SAMPLER, KEY_COLUMNS, POINT_KEY, RATE_COLUMNS, SCHEMA_VERSION, TEXT_COLUMNS, TIME_COLUMNS

# CompressAI's result keys for the metrics both projects compute.
_COMPRESSAI_NAMES = {"psnr": "psnr-rgb", "ms_ssim": "ms-ssim-rgb"}


def in_run_order(rows: pd.DataFrame, points: list[str], images: list[str], samplers: list[str]) -> pd.DataFrame:
    """``rows`` of images.csv in the order a run writes them: rate point, then image (the
    set's order), then sampler; values not listed go last, in the order they came."""
    ranks = {
        column: rows[column].map({value: i for i, value in enumerate(values)}).fillna(len(values))
        for column, values in (("quality", points), ("image", images), ("sampler", samplers))
    }
    order = pd.DataFrame(ranks).sort_values(list(ranks), kind="stable").index
    return rows.loc[order].reset_index(drop=True)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` so that ``path`` holds either its old or its new content, never a mix."""
    atomic_write(path, lambda handle: handle.write(text))


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    atomic_write_text(path, frame.to_csv(index=False))


def write_json(data: dict, path: Path) -> None:
    """Write ``data`` as strict JSON (see the module docstring for NaN and infinities)."""
    text = json.dumps(json_safe(data), indent=2, default=str, allow_nan=False)
    atomic_write_text(path, text + "\n")


def json_safe(value):
    """``value`` with every NaN replaced by None and every infinity by "inf" / "-inf"."""
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        value = float(value)
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
    return value


def read_results_csv(path: Path, required: list[str], drop_cut_row: bool = False) -> pd.DataFrame:
    """A results CSV after checking it: not empty, the ``required`` columns present, every row
    complete, numbers where numbers belong. A last row without its line end was cut while
    being written or copied: with ``drop_cut_row`` it is left out with a warning, else the
    file is refused. Raises DamagedResultsError naming the file and the line."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")  # a byte-order mark from a spreadsheet is fine
    except OSError as error:
        raise DamagedResultsError(f"{path} cannot be read ({error.strerror or error})") from None
    except UnicodeDecodeError:
        raise DamagedResultsError(f"{path} is damaged: not a text file") from None
    lines = text.splitlines(keepends=True)
    if not "".join(lines).strip():
        raise DamagedResultsError(f"{path} is empty")
    if not lines[-1].endswith(("\n", "\r")):
        message = f"{path}: its last line (line {len(lines)}) is cut short"
        if len(lines) == 1:
            raise DamagedResultsError(f"{path} is damaged: it ends inside its header line")
        if not drop_cut_row:
            raise DamagedResultsError(message)
        warnings.warn(f"{message}; that row is left out", DamagedResultsWarning, stacklevel=2)
        lines = lines[:-1]
    reader = csv.reader(lines)
    header = next(reader)
    missing = [column for column in required if column not in header]
    if missing:
        raise DamagedResultsError(f"{path} is damaged: no column {', '.join(missing)} in its header")
    for row in reader:
        if len(row) != len(header):
            raise DamagedResultsError(
                f"{path}, line {reader.line_num}: {len(row)} fields where the header has {len(header)}"
            )
    frame = pd.read_csv(
        io.StringIO("".join(lines)),
        dtype={column: str for column in TEXT_COLUMNS},
        # an image called "nan", "NA" or "null" is a name; only an empty number is missing
        keep_default_na=False,
        na_values={column: [""] for column in header if column not in TEXT_COLUMNS},
        float_precision="round_trip",
    )
    for column in frame.columns.difference(list(TEXT_COLUMNS)):
        numbers_only = pd.to_numeric(frame[column], errors="coerce")
        bad = frame[column].notna() & numbers_only.isna()
        if bad.any():
            line = int(bad.to_numpy().argmax()) + 2
            raise DamagedResultsError(
                f"{path}, line {line}: {column} is {frame[column][bad].iloc[0]!r}, not a number"
            )
        frame[column] = numbers_only
    return frame


def read_images(path: Path, drop_cut_row: bool = False) -> pd.DataFrame:
    """Read and check an images.csv, keeping rate points and image names as text."""
    return read_results_csv(path, KEY_COLUMNS + RATE_COLUMNS[:-1], drop_cut_row)


def read_points(path: Path, drop_cut_row: bool = False) -> pd.DataFrame:
    """Read and check a points.csv, keeping rate points as text."""
    return read_results_csv(path, POINT_KEY + ["bpp"], drop_cut_row)


def read_manifest(path: Path) -> dict:
    """A run.json, after checking it is a run manifest; DamagedResultsError if not."""
    path = Path(path)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise DamagedResultsError(f"{path} cannot be read ({error.strerror or error})") from None
    except (UnicodeDecodeError, ValueError) as error:
        reason = "it is empty" if not path.read_bytes().strip() else f"not valid JSON ({error})"
        raise DamagedResultsError(f"{path} is damaged: {reason}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("dataset"), dict):
        raise DamagedResultsError(f"{path} is damaged: not an rdpbench run manifest")
    problems = [key for key in ("points", "samplers", "metrics", "notes")
                if not _list_of(manifest.get(key, []), str)]
    if not _list_of(manifest.get("weights", []), dict) or any("file" not in w for w in manifest.get("weights", [])):
        problems.append("weights")
    if not isinstance(manifest["dataset"].get("content_sha256", ""), (str, type(None))):
        problems.append("dataset.content_sha256")
    if problems:
        raise DamagedResultsError(f"{path} is damaged: {', '.join(problems)} not as rdpbench writes them")
    return manifest


def _list_of(value, kind: type) -> bool:
    return isinstance(value, list) and all(isinstance(item, kind) for item in value)


def aggregate_points(
    images: pd.DataFrame, metric_names: list[str], dataset_metrics: dict | None = None
) -> pd.DataFrame:
    """Rows of points.csv: per codec, quality and sampler, ``n_images``, the mean bpp and the
    mean of every per-image metric, then any dataset-level metrics (``dataset_metrics`` maps
    a (codec, quality, sampler) tuple to {metric: value}).

    A mean is empty when any image lacks the value, so a partial rate is never reported.
    """
    rows = []
    for key, group in images.groupby(POINT_KEY, sort=False):
        row = dict(zip(POINT_KEY, key))
        row["n_images"] = len(group)
        for column in ["bpp", "bpp_est", *metric_names, *TIME_COLUMNS]:
            if column in group:
                row[column] = pd.to_numeric(group[column]).mean(skipna=False)
        row.update((dataset_metrics or {}).get(tuple(key), {}))
        rows.append(row)
    return pd.DataFrame(rows)


def to_compressai_json(points: pd.DataFrame, name: str, description: str, meta: dict) -> dict:
    """One curve in CompressAI's results format, plus ``schema_version`` and ``meta``."""
    results = {}
    for column in points.columns:
        if column in POINT_KEY or column in TEXT_COLUMNS or column == "n_images":
            continue
        values = [None if _missing(v) else float(v) for v in points[column]]
        results[_COMPRESSAI_NAMES.get(column, column)] = values
    results["quality"] = list(points["quality"])
    return {
        "name": name,
        "description": description,
        "schema_version": SCHEMA_VERSION,
        "meta": meta,
        "results": results,
    }


def read_compressai_json(path: Path) -> pd.DataFrame | None:
    """Rate points from a CompressAI results JSON file, with our column names and the metrics
    derived from them (``ms_ssim_db`` from ``ms-ssim-rgb``); None when the file is valid JSON
    of some other kind. Raises DamagedResultsError when it is not valid JSON, or when its
    ``results`` lists differ in length."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise DamagedResultsError(f"{path} is damaged: not valid JSON ({error})") from None
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, dict) or "bpp" not in results:
        return None
    meta = data.get("meta")
    dataset = meta.get("dataset") if isinstance(meta, dict) else None
    dataset = dataset if isinstance(dataset, dict) else {"name": dataset} if isinstance(dataset, str) else {}
    lengths = {key: len(values) if isinstance(values, list) else None for key, values in results.items()}
    if len(set(lengths.values())) != 1 or None in lengths.values():
        raise DamagedResultsError(f"{path} is damaged: its results are not lists of one length ({lengths})")
    from_compressai = {v: k for k, v in _COMPRESSAI_NAMES.items()}
    qualities = results.get("quality") or [str(i + 1) for i in range(lengths["bpp"])]
    frame = pd.DataFrame(
        {
            "codec": str(data.get("name", path.stem)),
            "quality": [str(q) for q in qualities],
            "sampler": DEFAULT_SAMPLER,
            "dataset": dataset.get("name"),
            "dataset_sha256": dataset.get("content_sha256"),
        }
    )
    for key, values in results.items():
        if key != "quality":
            frame[from_compressai.get(key, key)] = pd.to_numeric(pd.Series(values), errors="coerce")
    from .metrics import with_derived_columns  # published ms-ssim-rgb gets its dB form, as measured points do

    return with_derived_columns(frame)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _results_files(folder: Path, pattern: str) -> list[Path]:
    """Files named ``pattern`` under ``folder``, sorted, leaving out hidden files and every
    file under a hidden folder below ``folder`` (the per-rank parts of a torchrun)."""
    root = Path(folder)
    return sorted(path for path in root.rglob(pattern) if not is_hidden(path, root))


def run_folders(folder: Path) -> list[Path]:
    """Every run folder (one holding run.json) under ``folder``, sorted; hidden folders are
    not results."""
    return sorted(path.parent for path in _results_files(folder, MANIFEST))


def readable_runs(folder: Path, table: str = IMAGES_CSV, read=None) -> list[tuple[Path, dict, pd.DataFrame]]:
    """(run folder, manifest, table) of every run under ``folder`` whose manifest and
    ``table`` file (images.csv by default, read by ``read``, default :func:`read_images`) read
    cleanly; each one that does not is named in a warning and skipped."""
    read = read or read_images
    runs = []
    for run in run_folders(folder):
        try:
            manifest = read_manifest(RunFolder(run).manifest)
            if not (run / table).is_file():
                if manifest.get("status") == "complete":
                    warnings.warn(f"{run}: run.json says complete but {table} is missing; skipped",
                                  DamagedResultsWarning, stacklevel=3)
                continue  # a run that has not finished a first pass yet
            runs.append((run, manifest, read(run / table, drop_cut_row=True)))
        except DamagedResultsError as error:
            warnings.warn(f"{error}; skipped {run}", DamagedResultsWarning, stacklevel=3)
    return runs


def _dataset_columns(frame: pd.DataFrame, manifest: dict) -> None:
    dataset = manifest.get("dataset", {})
    frame["dataset"] = dataset.get("name")
    frame["dataset_sha256"] = dataset.get("content_sha256")
    frame["patch_protocol"] = ((manifest.get("metric_protocol") or {}).get("patches") or {}).get("patch_protocol")


def collect_points(folder: Path) -> pd.DataFrame:
    """Rate points of every run under ``folder``, plus any CompressAI JSON file there that is
    not a run's own export (hidden files and folders left out); column ``source`` tells
    "measured" from "compressai-json", and ``dataset`` / ``dataset_sha256`` say which image
    set each point was measured on.

    A damaged file is named in a DamagedResultsWarning and skipped; the rest is returned."""
    frames = []
    runs = readable_runs(folder, POINTS_CSV, read_points)
    for run, manifest, frame in runs:
        frame["source"], frame["run"] = "measured", run.name
        _dataset_columns(frame, manifest)
        frames.append(frame)
    run_paths = set(run_folders(folder))
    for path in _results_files(folder, "*.json"):
        if path.name == MANIFEST or path.parent in run_paths:
            continue
        try:
            frame = read_compressai_json(path)
        except DamagedResultsError as error:
            warnings.warn(f"{error}; skipped", DamagedResultsWarning, stacklevel=2)
            continue
        if frame is None:
            continue  # some other JSON file
        frame["source"], frame["run"] = "compressai-json", path.stem
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=POINT_KEY)


def dataset_groups(points: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """(dataset label, its points) for every image set in ``points``, told apart by content
    (``dataset_sha256``) where known, else by name. Two sets that share a name get the first
    8 characters of their content hash appended; results without any dataset are "unknown".
    Each set's points hold its label in their ``dataset`` column."""
    names = points.get("dataset", pd.Series(index=points.index, dtype=object)).fillna("unknown")
    hashes = points.get("dataset_sha256", pd.Series(index=points.index, dtype=object))
    keys = hashes.where(hashes.notna(), "name:" + names.astype(str))
    labels = {}
    for key, name in dict.fromkeys(zip(keys, names)):
        shared = len({k for k, n in zip(keys, names) if n == name}) > 1
        labels[key] = f"{name}-{key[:8]}" if shared and not key.startswith("name:") else name
    return [(labels[key], points[keys == key].assign(dataset=labels[key])) for key in dict.fromkeys(keys)]


def runs_apart(points: pd.DataFrame) -> pd.DataFrame:
    """``points`` where a codec and sampler measured at the same rate point by several runs
    (two patch protocols, two seeds) become one curve per run: the run's name is added to the
    sampler in brackets ("default [jpeg-grid]"), so no line joins points of different runs."""
    if "run" not in points or points.empty:
        return points
    points = points.copy()
    for (codec, sampler), group in points.groupby(["codec", "sampler"], sort=False):
        if group.quality.duplicated().any():
            points.loc[group.index, "sampler"] = [f"{sampler} [{run}]" for run in group.run]
    return points


def collect_metric_variants(folder: Path) -> dict[str, dict[str, list[str]]]:
    """{metric: {variant as compact JSON: [run names]}} over the readable runs under
    ``folder``: more than one variant of a metric means its numbers are not comparable."""
    variants: dict[str, dict[str, list[str]]] = {}
    for run in run_folders(folder):
        try:
            manifest = read_manifest(RunFolder(run).manifest)
        except DamagedResultsError:
            continue  # named by collect_points
        for metric, variant in manifest.get("metric_protocol", {}).get("variants", {}).items():
            text = json.dumps(variant, sort_keys=True)
            variants.setdefault(metric, {}).setdefault(text, []).append(run.name)
    return variants


def collect_images(folder: Path) -> pd.DataFrame:
    """Per-image rows of every run under ``folder`` (column ``run`` names the run); damaged
    files are named in a DamagedResultsWarning and skipped."""
    frames = []
    for run, manifest, frame in readable_runs(folder, IMAGES_CSV, read_images):
        frame["run"] = run.name
        _dataset_columns(frame, manifest)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=KEY_COLUMNS)
