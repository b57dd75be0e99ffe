"""Where an input's bytes come from: a local file, or a URL opened through fsspec.

``read_input(path_or_url, limits) -> bytes`` is the one way the loader gets
its input. A URL (``s3://``, ``gs://``, ``az://``/``abfs://``, ``http(s)://``,
any scheme fsspec knows) is streamed in chunks into memory and never past
``limits.max_input_size``; nothing is written to a temporary file (no fsspec
``simplecache``/``open_local``). fsspec is imported only when a URL is opened,
so a local scan never pays for it. Credentials come only from each backend's
standard configuration (environment, profiles, instance roles).

``redact(url)`` is what any URL looks like in a report, an error message or
the results store: without user info, query or fragment (a presigned URL's
signature is in its query).
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import os
import re
import stat
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from appaudit.apk.limits import Limits
from appaudit.errors import ConfigError, InputError

#: ``scheme://`` with a scheme of two or more characters (so ``C:\\x`` is a path, not a URL).
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+://")
#: Bytes asked of a remote file per read: one ranged GET each (S3, GCS, Azure), a chunk of the body (HTTP).
CHUNK = 8 * 1024 * 1024
CLOUD_EXTRA = "python3 -m pip install 'appaudit[cloud]'"
#: The package a user adds for the schemes the cloud extra does not bring.
_BACKENDS = {"gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs", "abfs": "adlfs", "abfss": "adlfs", "s3": "s3fs"}

_supplied: contextvars.ContextVar[tuple[str, bytes] | None] = contextvars.ContextVar("appaudit_supplied", default=None)


def is_url(path: str) -> bool:
    """True when ``path`` is a URL (``scheme://...``) rather than a local path."""
    return _URL.match(path) is not None


def redact(path: str) -> str:
    """``path`` fit to show and store: a URL loses its user info, query and fragment; a local path is unchanged."""
    if not is_url(path):
        return path
    parts = urlsplit(path)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _scrub(text: str, url: str) -> str:
    """``text`` (a backend's error message) with the full URL and its secret parts replaced by the redacted URL."""
    shown = redact(url)
    text = text.replace(url, shown)
    parts = urlsplit(url)
    for secret in (parts.query, parts.netloc.rpartition("@")[0]):
        if secret:
            text = text.replace(secret, "…")
    return text


def scheme(url: str) -> str:
    return url.split("://", 1)[0].lower()


def filesystem(url: str) -> tuple[Any, str]:
    """(fsspec filesystem, path within it) for ``url``; ConfigError when fsspec or the backend is not installed."""
    try:
        core: Any = importlib.import_module("fsspec.core")  # optional and untyped: imported only for a URL
    except ImportError as exc:
        raise ConfigError(f"{scheme(url)}:// inputs need fsspec: {CLOUD_EXTRA}") from exc
    try:
        fs, inner = core.url_to_fs(url)
        return fs, str(inner)
    except ImportError as exc:
        package = _BACKENDS.get(scheme(url))
        hint = f"python3 -m pip install {package}" if package else CLOUD_EXTRA
        raise ConfigError(f"{scheme(url)}:// inputs need a backend that is not installed: {hint}") from exc
    except ValueError as exc:  # "Protocol not known"
        raise ConfigError(f"{redact(url)}: {_scrub(str(exc), url)}") from exc


def read_input(path: str, limits: Limits) -> bytes:
    """The bytes of the input at ``path`` (a local path or a URL), at most ``limits.max_input_size``.

    Raises InputError (missing, unreadable, a directory, over the limit) naming
    the path as :func:`redact` shows it; ConfigError when a URL's backend is absent.
    """
    given = _supplied.get()
    if given is not None and given[0] == path:
        return given[1]
    return _read_url(path, limits) if is_url(path) else _read_local(path, limits)


@contextlib.contextmanager
def supplied(path: str, raw: bytes) -> Iterator[None]:
    """Within the block, :func:`read_input` of ``path`` returns ``raw`` (bytes already fetched and hashed)."""
    token = _supplied.set((path, raw))
    try:
        yield
    finally:
        _supplied.reset(token)


def _read_local(path: str, limits: Limits) -> bytes:
    if not os.path.exists(path):
        raise InputError(path, "no such file")
    if os.path.isdir(path):
        raise InputError(path, "is a directory, not an APK file")
    try:
        with open(path, "rb") as fh:
            info = os.fstat(fh.fileno())
            if stat.S_ISREG(info.st_mode):
                if info.st_size > limits.max_input_size:
                    raise InputError(
                        path, f"is {info.st_size} bytes, over the {limits.max_input_size}-byte limit (max_input_size)"
                    )
                raw = fh.read()
            else:  # a pipe or device: read in chunks, never past the limit
                raw = _bounded(fh, limits.max_input_size)
    except OSError as exc:
        raise InputError(path, f"cannot be read ({exc.strerror or exc})") from exc
    if len(raw) > limits.max_input_size:  # a pipe or device, or a file that grew since it was measured
        raise InputError(path, f"is larger than the {limits.max_input_size}-byte limit (max_input_size)")
    return raw


def _bounded(fh: Any, limit: int, chunk: int = 1 << 20) -> bytes:
    """Read ``fh`` to its end or to one chunk past ``limit``, whichever comes first."""
    buf = bytearray()
    while len(buf) <= limit and (data := fh.read(chunk)):
        buf += data
    return bytes(buf)


def _read_url(url: str, limits: Limits) -> bytes:
    shown = redact(url)
    fs, inner = filesystem(url)
    http = scheme(url) in ("http", "https")
    try:
        # HTTP: one streamed GET (block_size 0), so servers without range requests work too.
        # Object stores: ranged GETs of CHUNK bytes, no read-ahead cache beyond them.
        options: dict[str, Any] = {"block_size": 0} if http else {"block_size": CHUNK, "cache_type": "none"}
        with fs.open(inner, "rb", **options) as fh:
            size = getattr(fh, "size", None)
            if isinstance(size, int) and size > limits.max_input_size:
                raise InputError(
                    shown, f"is {size} bytes, over the {limits.max_input_size}-byte limit (max_input_size)"
                )
            raw = _bounded(fh, limits.max_input_size, CHUNK)
    except InputError:
        raise
    except FileNotFoundError:
        raise InputError(shown, "no such object") from None
    except IsADirectoryError:
        raise InputError(shown, "is a directory (prefix), not an APK object") from None
    except PermissionError as exc:
        raise InputError(shown, f"access denied ({_scrub(str(exc), url)})"[:500]) from None
    except Exception as exc:  # backends raise their own types (botocore, aiohttp, azure): all mean unreadable
        raise InputError(shown, f"cannot be read ({type(exc).__name__}: {_scrub(str(exc), url)})"[:500]) from None
    if len(raw) > limits.max_input_size:
        raise InputError(shown, f"is larger than the {limits.max_input_size}-byte limit (max_input_size)")
    return raw
