"""Batch inputs given as URLs: object-store prefixes, single objects and list files, expanded on the client.

A URL PATH (or a URL line of a list file) is
- a prefix (``s3://bucket/apks/``, or any URL fsspec reports as a directory):
  every object below it whose name ends in an APK suffix, in sorted order,
  with the size and version tag (ETag) the listing gives for free;
- an object named like an APK (``…/app.apk``), or any object listed in a list
  file: an APK (one metadata request, no download);
- any other object (``https://…/list.txt``): read (at most
  ``MAX_LIST_SIZE``) — an APK when it starts like a zip, else a list of URLs,
  one per line (``#`` comments; relative lines are relative to the list).

Nothing is downloaded here but list files: the worker that scans an APK
fetches it itself. The (URL, size, version tag) of each object is what the
batch plans and caches by, since its sha256 is known only once a worker has
read it (see docs/batch.md, "Inputs by URL").
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from appaudit.errors import InputError
from appaudit.urls import CHUNK, filesystem, redact, scheme

#: A list file larger than this is refused (a million URLs of 100 characters is 100 MB).
MAX_LIST_SIZE = 256 * 1024 * 1024
#: Concurrent metadata requests (HEAD) for the objects a list file names.
INFO_THREADS = 16
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
#: Listing fields that change whenever an object's content does, best first (S3/HTTP, GCS, Azure).
_TAG_FIELDS = ("ETag", "etag", "md5Hash", "generation", "VersionId")


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteObject:
    """One object to scan, as the listing described it."""

    url: str
    """As given or listed (may carry a query, e.g. a presigned URL): what the worker opens."""
    size: int | None
    tag: str | None
    """The backend's version tag (ETag, GCS md5/generation); None when it gives none (then never cached)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteProblem:
    """A listed URL that cannot be scanned (no such object, no access)."""

    url: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Expanded:
    objects: tuple[RemoteObject, ...]
    problems: tuple[RemoteProblem, ...] = ()


def _tag(info: dict[str, Any]) -> str | None:
    for name in _TAG_FIELDS:
        value = info.get(name)
        if value:
            return str(value).strip('"')
    return None


def _size(info: dict[str, Any]) -> int | None:
    size = info.get("size")
    return int(size) if isinstance(size, int) else None


def _failure(url: str, exc: Exception) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such object"
    if isinstance(exc, PermissionError):
        return "access denied"
    return f"cannot be read ({type(exc).__name__})"


def _absolute(fs: Any, name: str, like: str) -> str:
    """The URL of a listed object name (``bucket/key``), in the scheme the user wrote."""
    if scheme(like) in ("http", "https"):
        return name
    return f"{scheme(like)}://{name.lstrip('/')}"


def _prefix(fs: Any, inner: str, url: str, suffixes: tuple[str, ...]) -> list[RemoteObject]:
    found = fs.find(inner, detail=True)
    objects = [
        RemoteObject(url=_absolute(fs, name, url), size=_size(info), tag=_tag(info))
        for name, info in found.items()
        if info.get("type", "file") != "directory" and name.lower().endswith(suffixes)
    ]
    return sorted(objects, key=lambda o: o.url)


def _listing(fs: Any, inner: str, url: str, suffixes: tuple[str, ...], *, listed: bool) -> Expanded:
    try:
        return Expanded(objects=tuple(_prefix(fs, inner, url, suffixes)))
    except Exception as exc:  # as in _head
        if listed:
            return Expanded(objects=(), problems=(RemoteProblem(url=url, reason=_failure(url, exc)),))
        raise InputError(redact(url), f"cannot be listed: {_failure(url, exc)}") from None


def _entries(url: str, text: str) -> list[str]:
    lines = (line.strip() for line in text.splitlines())
    out = []
    for e in lines:
        if not e or e.startswith("#"):
            continue
        if "://" in e:
            out.append(e)
        elif scheme(url) in ("http", "https"):
            out.append(urljoin(url, e))
        else:
            base = url.split("?", 1)[0].rsplit("/", 1)[0]
            slash = "/" if e.endswith("/") else ""  # a prefix stays a prefix
            out.append(f"{base}/{posixpath.normpath(e).lstrip('/')}{slash}")
    return out


def _head(fs: Any, inner: str, url: str) -> tuple[dict[str, Any] | None, Exception | None]:
    try:
        return fs.info(inner), None
    except Exception as exc:  # backends raise their own types; all mean this one object is unusable
        return None, exc


def expand_url(url: str, suffixes: tuple[str, ...], *, listed: bool) -> Expanded:
    """The APK objects ``url`` stands for. InputError when a URL given on the command line is unusable."""
    fs, inner = filesystem(url)
    shown = redact(url)
    http = scheme(url) in ("http", "https")
    if url.endswith("/") and not http:
        return _listing(fs, inner, url, suffixes, listed=listed)
    info, exc = _head(fs, inner, url)
    if info is None:
        assert exc is not None
        if listed:
            return Expanded(objects=(), problems=(RemoteProblem(url=url, reason=_failure(url, exc)),))
        raise InputError(shown, _failure(url, exc))
    if info.get("type") == "directory" and not http:
        return _listing(fs, inner, url, suffixes, listed=listed)
    obj = RemoteObject(url=url, size=_size(info), tag=_tag(info))
    if listed or inner.lower().endswith(suffixes):
        return Expanded(objects=(obj,))
    head, text = _read_list(fs, inner, url)
    if head in _ZIP_MAGIC:
        return Expanded(objects=(obj,))
    return expand_entries(_entries(url, text), suffixes)


def _read_list(fs: Any, inner: str, url: str) -> tuple[bytes, str]:
    """(first 4 bytes, the text) of a list file; only the 4 bytes when it starts like a zip."""
    shown = redact(url)
    options: dict[str, Any] = {"block_size": 0} if scheme(url) in ("http", "https") else {}
    try:
        with fs.open(inner, "rb", **options) as fh:
            head = fh.read(4)
            if head in _ZIP_MAGIC:
                return head, ""
            buf = bytearray(head)
            while len(buf) <= MAX_LIST_SIZE and (data := fh.read(CHUNK)):
                buf += data
    except Exception as exc:  # as in _head
        raise InputError(shown, _failure(url, exc)) from None
    if len(buf) > MAX_LIST_SIZE:
        raise InputError(shown, f"list file larger than {MAX_LIST_SIZE} bytes (MAX_LIST_SIZE)")
    try:
        return bytes(buf[:4]), buf.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(shown, "neither an APK (zip) nor a text file listing URLs") from None


def expand_entries(urls: Iterable[str], suffixes: tuple[str, ...]) -> Expanded:
    """Expand listed URLs: prefixes are listed, the rest get one metadata request each (in threads)."""
    urls = list(urls)
    work: Callable[[str], Expanded] = lambda u: expand_url(u, suffixes, listed=True)  # noqa: E731
    with ThreadPoolExecutor(max_workers=INFO_THREADS) as pool:
        parts = list(pool.map(work, urls))
    return Expanded(
        objects=tuple(o for p in parts for o in p.objects),
        problems=tuple(x for p in parts for x in p.problems),
    )
