"""URLs as inputs: which strings are URLs, how they look when shown or stored, and their fsspec filesystem.

Shared by the loader (``apk.source`` opens them), the library entry point and
the batch (listing, the store). fsspec is imported only by :func:`filesystem`,
so nothing here costs a local scan anything.

``redact(url)`` is what any URL looks like in a report, an error message or
the results store: without user info, query or fragment (a presigned URL's
signature is in its query).
"""

from __future__ import annotations

import importlib
import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from appaudit.errors import ConfigError

#: ``scheme://`` with a scheme of two or more characters (so ``C:\\x`` is a path, not a URL).
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+://")
#: Bytes asked of a remote file per read: one ranged GET each (S3, GCS, Azure), a chunk of the body (HTTP).
CHUNK = 8 * 1024 * 1024
CLOUD_EXTRA = "python3 -m pip install 'appaudit[cloud]'"
#: The package a user adds for the schemes the cloud extra does not bring.
_BACKENDS = {"gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs", "abfs": "adlfs", "abfss": "adlfs", "s3": "s3fs"}


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


def scrub(text: str, url: str) -> str:
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
        raise ConfigError(f"{redact(url)}: {scrub(str(exc), url)}") from exc
