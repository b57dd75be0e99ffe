"""Where an input's bytes come from: a local file, or a URL opened through fsspec.

``read_input(path_or_url, limits) -> bytes`` is the one way the loader gets
its input. A URL (``s3://``, ``gs://``, ``az://``/``abfs://``, ``http(s)://``,
any scheme fsspec knows; see :mod:`appaudit.urls`) is streamed in chunks into
memory and never past ``limits.max_input_size``; nothing is written to a
temporary file (no fsspec ``simplecache``/``open_local``). Credentials come
only from each backend's standard configuration (environment, profiles,
instance roles). Errors name a URL as :func:`appaudit.urls.redact` shows it.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import stat
from collections.abc import Iterator
from typing import Any

from appaudit.apk.limits import Limits
from appaudit.errors import InputError
from appaudit.urls import CHUNK, filesystem, is_url, redact, scheme, scrub

_supplied: contextvars.ContextVar[tuple[str, bytes] | None] = contextvars.ContextVar("appaudit_supplied", default=None)


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
        raise InputError(shown, f"access denied ({scrub(str(exc), url)})"[:500]) from None
    except Exception as exc:  # backends raise their own types (botocore, aiohttp, azure): all mean unreadable
        raise InputError(shown, f"cannot be read ({type(exc).__name__}: {scrub(str(exc), url)})"[:500]) from None
    if len(raw) > limits.max_input_size:
        raise InputError(shown, f"is larger than the {limits.max_input_size}-byte limit (max_input_size)")
    return raw
