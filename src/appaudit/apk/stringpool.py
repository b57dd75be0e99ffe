"""A ``ResStringPool`` chunk (binary XML, resources.arsc), read lazily and tolerantly, noting what is irregular.

Strings are decoded on first use, by their length prefix (UTF-8: two lengths,
UTF-16: one), bounded by the chunk; an index outside the pool reads as the
empty string. What a well-formed pool (as aapt and aapt2 write it) would never
have is collected in ``irregular``: a string count its offsets do not match, a
string that runs past the string data or lacks its terminator, a UTF-16 string
that starts with a byte-order mark. The binary-XML reader hands a manifest
with any of these to androguard's parser as well (see :mod:`~appaudit.apk.manifest`).
Reference: ``ResStringPool`` in AOSP frameworks/base/libs/androidfw/ResourceTypes.cpp.
"""

from __future__ import annotations

import struct

_UTF8 = 0x100
#: The ``ResStringPool_header`` size aapt and aapt2 write.
HEADER_SIZE = 28
_BOMS = ("\ufeff", "\ufffe")
#: Irregularities kept per pool (the first ones say enough; a hostile pool may have millions).
MAX_NOTES = 20


class StringPool:
    """The strings of one pool chunk at ``start`` (header ``header_size`` bytes, chunk ``size`` bytes)."""

    def __init__(self, data: bytes, start: int, header_size: int, size: int) -> None:
        self.data = data
        self.end = start + size
        count, styles, flags, strings_start, styles_start = struct.unpack_from("<5I", data, start + 8)
        offsets_at = start + header_size
        self.irregular: list[str] = []
        self.problems = 0
        """How many irregularities were found (``irregular`` keeps the first ``MAX_NOTES``)."""
        if header_size != HEADER_SIZE or (count and strings_start != header_size + 4 * (count + styles)):
            self._note("string pool header sizes do not match its counts")
        capped = min(count, max(0, (self.end - offsets_at) // 4))
        self.offsets = struct.unpack_from(f"<{capped}I", data, offsets_at)
        self.base = start + strings_start
        # Where the string data ends: the styles when there are any, else the chunk (what androguard reads).
        self.strings_end = start + styles_start if styles and styles_start > strings_start else self.end
        if self.strings_end > self.end or capped < count:
            self._note("string pool larger than its chunk")
        self.utf8 = bool(flags & _UTF8)
        self._cache: dict[int, str] = {}
        self._bad: set[int] = set()

    def _note(self, what: str) -> None:
        self.problems += 1
        if len(self.irregular) < MAX_NOTES:
            self.irregular.append(what)

    def __len__(self) -> int:
        return len(self.offsets)

    def get(self, idx: int) -> str:
        """String ``idx``; the empty string for an index outside the pool or bytes outside the chunk."""
        if not 0 <= idx < len(self.offsets):
            return ""
        cached = self._cache.get(idx)
        if cached is None:
            noted = self.problems
            try:
                cached = self._decode(self.base + self.offsets[idx])
            except (IndexError, struct.error):
                self._note(f"string {idx} lies outside the pool")
                cached = ""
            self._cache[idx] = cached
            if self.problems > noted:
                self._bad.add(idx)
        return cached

    def strict(self, idx: int) -> str:
        """String ``idx`` when it is well formed (inside the string data, terminated), else the empty
        string: what Android's ``ResStringPool::stringAt`` (and androguard) give."""
        text = self.get(idx)
        return "" if idx in self._bad else text

    def _decode(self, pos: int) -> str:
        if self.utf8:
            return self._decode8(pos)
        data = self.data
        (n,) = struct.unpack_from("<H", data, pos)
        pos += 2
        if n & 0x8000:
            (low,) = struct.unpack_from("<H", data, pos)
            n = ((n & 0x7FFF) << 16) | low
            pos += 2
        stop = pos + 2 * n
        if stop + 2 > self.strings_end or data[stop : stop + 2] != b"\x00\x00":
            self._note(f"UTF-16 string at {pos} is not terminated inside the pool")
        text = data[pos : min(stop, self.end)].decode("utf-16-le", "replace")
        if text.startswith(_BOMS):
            self._note(f"UTF-16 string at {pos} starts with a byte-order mark")
        return text

    def _decode8(self, pos: int) -> str:
        data = self.data
        pos += 2 if data[pos] & 0x80 else 1  # length in UTF-16 units, unused
        n = data[pos]
        if n & 0x80:
            n = ((n & 0x7F) << 8) | data[pos + 1]
            pos += 1
        pos += 1
        stop = pos + n
        if stop >= self.strings_end or data[stop] != 0:
            self._note(f"UTF-8 string at {pos} is not terminated inside the pool")
        return data[pos : min(stop, self.end)].decode("utf-8", "replace")
