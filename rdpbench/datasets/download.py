"""Fetching one file over HTTP(S) so that an interruption costs nothing: bytes arrive in
``FILE.partial`` beside the target; a dropped connection is resumed with an HTTP Range request
(or restarted from zero when the server ignores Range), in this call and in the next one; the
file is checked against its published sha256 before it takes its name, and a file that differs
is deleted, as is one that grows past its published size (a host that never stops sending).
Progress goes to stderr when stderr is a terminal.

Archives may come from a mirror instead of their official host
(``RDPBENCH_DATASET_MIRROR``, or ``--mirror``): a base URL, or a local folder, holding the
archives under their official file names; the same checksums apply. A mirror's path is taken
literally: spaces, ``#`` and ``?`` are part of a folder's name (percent-escapes are kept).
"""

from __future__ import annotations

import http.client
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from tqdm import tqdm

from .. import __version__
from ..errors import RdpbenchError
from ..file_hash import sha256_of

MIRROR_VARIABLE = "RDPBENCH_DATASET_MIRROR"
#: Dropped connections resumed within one call before giving up (the .partial file stays).
ATTEMPTS = 3
TIMEOUT_S = 60
_CHUNK = 1 << 20
#: Characters left as they are in a mirror URL's path: RFC 3986's path characters and "%".
_PATH_SAFE = "/%:@!$&'()*+,;=~"


class DownloadError(RdpbenchError):
    """A file that could not be fetched whole, or that is not the published file."""


class _ConnectionDropped(Exception):
    """Fewer bytes arrived than the server announced."""


class _TooLong(Exception):
    """More bytes arrived, or were announced, than the file's published size."""


def mirror_source(file_name: str, mirror: str | None) -> str | Path | None:
    """Where ``file_name`` is found in ``mirror`` (else ``$RDPBENCH_DATASET_MIRROR``): a URL, a
    local path, or None when no mirror is set."""
    mirror = mirror or os.environ.get(MIRROR_VARIABLE)
    if not mirror:
        return None
    # Not urlsplit: it would read "#" and "?" in a folder's name as a fragment and a query.
    url = re.fullmatch(r"([A-Za-z][A-Za-z0-9+.-]+):(?://([^/]*))?(.*)", mirror, re.DOTALL)
    if url is None:
        return Path(mirror).expanduser() / file_name
    scheme, authority, path = url[1].lower(), url[2] or "", url[3].rstrip("/")
    if scheme in ("http", "https"):
        return f"{scheme}://{authority}{urllib.parse.quote(path, safe=_PATH_SAFE)}/{urllib.parse.quote(file_name)}"
    if scheme == "file":
        return Path(urllib.request.url2pathname(path)) / file_name
    raise RdpbenchError(f"mirror {mirror!r}: neither an http(s):// or file:// URL nor a folder; give the base URL "
                        f"or the folder that holds {file_name}")


def fetch_file(url: str, target: Path, sha256: str | None, progress: bool | None = None,
               size: int | None = None) -> str:
    """Fetch ``url`` into ``target`` and return the file's sha256. With ``sha256`` given, a file
    that differs is deleted and DownloadError says so; a file already at ``target`` that matches
    is kept. With ``size`` given, a download that would grow past it is stopped and deleted.
    Dropped connections are resumed; what arrived stays in ``target.partial`` when the last
    attempt fails, for the next call to resume."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_file():
        if sha256 is None or sha256_of(target) == sha256:
            return sha256_of(target)
        target.unlink()
    partial = target.with_name(target.name + ".partial")
    show = sys.stderr.isatty() if progress is None else progress
    earlier = partial.is_file() and partial.stat().st_size > 0
    _fetch_with_retries(url, partial, show, size)
    digest = sha256_of(partial)
    if sha256 is not None and digest != sha256 and earlier:
        # The .partial this call resumed may hold the start of another file (an older version,
        # another mirror): fetch the whole file once more before calling it wrong.
        partial.unlink()
        _fetch_with_retries(url, partial, show, size)
        digest = sha256_of(partial)
    if sha256 is not None and digest != sha256:
        partial.unlink()
        raise DownloadError(
            f"{url}: the downloaded file's sha256 is {digest}, the published file's {sha256}: it is not the "
            "published file (deleted). The host or a proxy serves another file: fetch it elsewhere, or use "
            "a mirror")
    os.replace(partial, target)
    return digest


def _fetch_with_retries(url: str, partial: Path, progress: bool, size: int | None) -> None:
    """Fetch ``url`` into ``partial``, resuming after a dropped connection up to ATTEMPTS
    times; errors as DownloadError."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            _fetch(url, partial, progress, size)
            return
        except urllib.error.HTTPError as error:
            raise DownloadError(f"cannot download {url}: HTTP {error.code} {error.reason}") from None
        except urllib.error.URLError as error:
            raise DownloadError(f"cannot reach {url} ({error.reason})") from None
        except _TooLong as error:
            partial.unlink(missing_ok=True)
            raise DownloadError(f"{url}: {error}, more than the published file's {size} bytes: it is not the "
                                "published file (deleted). Fetch it elsewhere, or use a mirror") from None
        except ValueError as error:  # a URL that http.client refuses (a space or control character)
            raise DownloadError(f"cannot download {url!r}: {error}") from None
        except (_ConnectionDropped, http.client.IncompleteRead, ConnectionError, TimeoutError) as error:
            if attempt == ATTEMPTS:
                raise DownloadError(
                    f"{url}: the connection broke {ATTEMPTS} times (last: {error}); {partial} keeps what arrived, "
                    "run the same command again to resume") from None


def _fetch(url: str, partial: Path, progress: bool, size: int | None) -> None:
    """One request: resume ``partial`` from its length, or write it from the start when it is
    empty or the server ignores Range. Raises _ConnectionDropped on a short body, _TooLong
    when the file would grow past ``size``."""
    have = partial.stat().st_size if partial.is_file() else 0
    headers = {"User-Agent": f"rdpbench/{__version__}"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S)
    except urllib.error.HTTPError as error:
        if error.code == 416 and have:  # nothing after what we have: the file is whole; its hash decides
            return
        raise
    with response:
        resumed = have > 0 and response.status == 206 and _range_start(response) == have
        if response.status == 206 and _range_start(response) != have:  # bytes from elsewhere: start again from zero
            partial.unlink(missing_ok=True)
            raise _ConnectionDropped(f"asked for the bytes from {have} on, the server sent {_range_start(response)} on")
        length = response.headers.get("Content-Length")
        expected = int(length) if length and length.isdigit() else None
        start = have if resumed else 0
        if size is not None and expected is not None and start + expected > size:
            raise _TooLong(f"the server announces {start + expected} bytes")
        received = 0
        with open(partial, "ab" if resumed else "wb") as handle, tqdm(
            total=None if expected is None else start + expected, initial=start,
            unit="B", unit_scale=True, desc=url.rsplit("/", 1)[-1], disable=not progress, leave=False,
        ) as bar:
            while chunk := response.read(_CHUNK):
                handle.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
                if size is not None and start + received > size:
                    raise _TooLong(f"{start + received} bytes arrived")
    if expected is not None and received < expected:
        raise _ConnectionDropped(f"{received} of {expected} bytes arrived")


def _range_start(response) -> int | None:
    """The first byte a 206 response holds (``Content-Range: bytes START-END/TOTAL``)."""
    content_range = response.headers.get("Content-Range", "")
    start = content_range.removeprefix("bytes ").split("-", 1)[0]
    return int(start) if start.isdigit() else None
