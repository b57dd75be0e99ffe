"""Bounds on the declaration files a user supplies (they may be hostile)."""

from __future__ import annotations

import os

#: Largest Data safety CSV or declaration form read (a real export is about 20 KB).
MAX_DECLARATION_BYTES = 1 << 20
#: Largest privacy policy file read (text, HTML or PDF).
MAX_POLICY_BYTES = 16 << 20
#: Characters of policy text kept; the rest of a longer policy is not searched (said in the report).
MAX_POLICY_CHARS = 1_000_000
#: PDF pages whose text is extracted; later pages are not searched (said in the report).
MAX_PDF_PAGES = 300


def read_bounded(path: str, what: str, limit: int = MAX_DECLARATION_BYTES) -> bytes:
    """The bytes of ``path``; InputError (exit 3) when it is missing, not a file or larger than ``limit``."""
    from appaudit.errors import InputError

    try:
        size = os.stat(path).st_size
        if not os.path.isfile(path):
            raise InputError(path, f"{what}: not a regular file")
        if size > limit:
            raise InputError(path, f"{what}: {size} bytes, more than the limit of {limit} bytes")
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise InputError(path, f"{what}: cannot be read: {exc.strerror or exc}") from exc
    if len(data) > limit:  # grew while being read
        raise InputError(path, f"{what}: more than the limit of {limit} bytes")
    return data
