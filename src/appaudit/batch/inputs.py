"""Which files a batch scans: directories (recursively), APK files and files that list paths.

A PATH on the command line is
- a directory: every ``*.apk``, ``*.apks``, ``*.xapk`` and ``*.apkm`` below it (any case,
  symlinked directories not followed), in sorted order;
- a file that starts like a zip: an APK, whatever its name;
- any other file: a list of paths, one per line (blank lines and lines
  starting with ``#`` ignored; relative paths are relative to the list's
  folder); each listed path may be an APK or a directory;
- a URL, or a URL line of a list file: see :mod:`appaudit.batch.remote`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from appaudit.batch.remote import RemoteObject, expand_url
from appaudit.errors import InputError
from appaudit.urls import is_url, redact

#: The names ``scan`` accepts as an APK or a split bundle (apk/bundle.py reads all four).
APK_SUFFIXES = (".apk", ".apks", ".xapk", ".apkm")
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


@dataclass(frozen=True, slots=True, kw_only=True)
class InputProblem:
    """A listed input that cannot be scanned at all (it has no content to key a result by)."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Inputs:
    """The files found, in order, without duplicates, and the listed paths that do not exist."""

    files: tuple[str, ...]
    problems: tuple[InputProblem, ...] = ()
    remote: tuple[RemoteObject, ...] = ()
    """The URLs among ``files``, with the size and version tag their listing gave (``batch.remote``)."""


def _looks_like_zip(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(4) in _ZIP_MAGIC
    except OSError:
        return False


def _walk(directory: Path) -> list[str]:
    found: list[str] = []
    for root, _dirs, names in os.walk(directory, followlinks=False):
        found.extend(os.path.join(root, n) for n in names if n.lower().endswith(APK_SUFFIXES))
    return sorted(found)


def _list_file(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(str(path), "neither an APK (zip) nor a text file listing paths") from exc
    except OSError as exc:
        raise InputError(str(path), f"cannot be read: {exc.strerror or exc}") from exc
    entries = (line.strip() for line in text.splitlines())
    return [e if is_url(e) else str(path.parent / e) for e in entries if e and not e.startswith("#")]


def collect_inputs(paths: Sequence[str]) -> Inputs:
    """Expand the command-line PATHs. A PATH given on the command line that does not exist is an InputError."""
    files: list[str] = []
    problems: list[InputProblem] = []
    remote: dict[str, RemoteObject] = {}

    def add(entry: str, *, listed: bool) -> None:
        if is_url(entry):
            found = expand_url(entry, APK_SUFFIXES, listed=listed)
            files.extend(o.url for o in found.objects)
            remote.update((o.url, o) for o in found.objects)
            problems.extend(InputProblem(path=redact(x.url), reason=x.reason) for x in found.problems)
            return
        p = Path(entry)
        if p.is_dir():
            files.extend(_walk(p))
        elif p.is_file():
            if p.name.lower().endswith(APK_SUFFIXES) or _looks_like_zip(p) or listed:
                files.append(entry)
            else:
                for item in _list_file(p):
                    add(item, listed=True)
        elif listed:
            problems.append(InputProblem(path=entry, reason="no such file"))
        else:
            raise InputError(entry, "no such file or directory")

    for path in paths:
        add(path, listed=False)
    seen: set[str] = set()
    unique = []
    for f in files:
        key = f if is_url(f) else os.path.realpath(f)
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return Inputs(files=tuple(unique), problems=tuple(problems), remote=tuple(remote[f] for f in unique if f in remote))


@dataclass(frozen=True, slots=True, kw_only=True)
class HashedFile:
    """A file with its content hash (or why it could not be read)."""

    path: str
    size: int
    mtime_ns: int
    sha256: str | None
    error: str | None = None


def _hash(path: str) -> HashedFile:
    try:
        st = os.stat(path)
        with open(path, "rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError as exc:
        return HashedFile(path=path, size=0, mtime_ns=0, sha256=None, error=f"cannot be read: {exc.strerror or exc}")
    return HashedFile(path=path, size=st.st_size, mtime_ns=st.st_mtime_ns, sha256=digest)


def hash_files(paths: Iterable[str], threads: int) -> list[HashedFile]:
    """SHA-256 of each file, in order (hashlib releases the GIL, so threads overlap the reads)."""
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        return list(pool.map(_hash, paths))
