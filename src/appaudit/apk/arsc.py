"""String resources by id from resources.arsc: the app's label, and ``getString(int)`` constants.

Why hand-written: androguard's ``ARSCParser`` parses every entry of every type
and configuration of the table up front, with its logging, to answer one
lookup: about 60 ms per app on the corpus, 13 % of the whole scan (4.4 s of
34 s under cProfile), the largest cost outside the analysis. This reader walks
the chunk headers once (an index of type chunks by package and type id) and
then reads only the entries of the ids asked for, decoding only their strings.
androguard's parser stays the oracle in the tests (tests/test_manifest_oracle.py).

What a lookup gives is what androguard's ``get_resolved_res_configs`` gives
first: the values of the id in every configuration, in the order the table
first lists each configuration (aapt writes the default first), a reference
followed to the values of its target, empty strings skipped. Where they
differ, on hostile tables only: a complex entry (a bag: style, plurals, array)
is no string here (androguard prints it as a Python list); a compact entry's
value is read by its type (androguard reads it as a string index whatever its
type); a malformed string reads as empty (as Android's ``stringAt`` returns
none; androguard raises on a UTF-16 one); an entry read past the table, or
anything but the entries asked for, costs only that entry here (androguard
rejects the whole table); a reference loop is an error here only when the
first value is behind it (androguard resolves every configuration first).

Hostile tables are bounded: at most ``MAX_CHUNKS`` chunk headers are walked and
references are followed ``MAX_REFERENCE_DEPTH`` deep (AssetManager2 stops at
20 too); beyond either, or on a table with no valid header, :class:`ArscError`
with a one-line message. Reference: AOSP frameworks/base/libs/androidfw/LoadedArsc.cpp.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from appaudit.apk.resvalue import TYPE_REFERENCE, TYPE_STRING, format_value
from appaudit.apk.stringpool import HEADER_SIZE, StringPool

_TABLE = 0x0002
_STRING_POOL = 0x0001
_PACKAGE = 0x0200
_TYPE = 0x0201
_COMPLEX = 0x0001
_COMPACT = 0x0008
_SPARSE = 0x01
_OFFSET16 = 0x02
_NO_ENTRY = 0xFFFFFFFF
#: Chunk headers walked at most in one table (real tables have a few thousand type chunks).
MAX_CHUNKS = 200_000
#: References followed at most from one id (AssetManager2's limit too).
MAX_REFERENCE_DEPTH = 20
#: ``ResTable_config`` fields (offset, present when the config is at least this long) that tell two
#: configurations apart: androguard's key (locale script and variant are not part of it).
_CONFIG_FIELDS = ((4, 8), (8, 12), (12, 16), (16, 20), (20, 24), (24, 28), (28, 32), (32, 36), (48, 52))


class ArscError(Exception):
    """The resource table cannot be read (one line, for a report error entry)."""


class _TypeChunk:
    """One ``ResTable_type`` chunk: a type's entries in one configuration."""

    __slots__ = ("config", "count", "entries_at", "flags", "offsets_at", "pos", "end")

    def __init__(self, data: bytes, pos: int, header_size: int, end: int) -> None:
        self.pos, self.end = pos, end
        flags, count, entries_start = struct.unpack_from("<xBxxII", data, pos + 8)
        self.flags: int = flags
        self.count: int = count
        self.entries_at: int = pos + entries_start
        self.offsets_at = pos + header_size
        config_at = pos + 20
        (size,) = struct.unpack_from("<I", data, config_at)
        self.config = tuple(
            struct.unpack_from("<I", data, config_at + at)[0] if size >= least and config_at + at + 4 <= end else 0
            for at, least in _CONFIG_FIELDS
        )

    def entry(self, data: bytes, index: int) -> int | None:
        """Where entry ``index`` starts, or None when this configuration has none."""
        if self.flags & _SPARSE:
            return self._sparse(data, index)
        if index >= self.count:
            return None
        if self.flags & _OFFSET16:
            at = self.offsets_at + 2 * index
            if at + 2 > self.end:
                return None
            (off16,) = struct.unpack_from("<H", data, at)
            return None if off16 == 0xFFFF else self.entries_at + 4 * off16
        at = self.offsets_at + 4 * index
        if at + 4 > self.end:
            return None
        (offset,) = struct.unpack_from("<I", data, at)
        return None if offset == _NO_ENTRY else self.entries_at + offset

    def _sparse(self, data: bytes, index: int) -> int | None:
        lo, hi = 0, min(self.count, max(0, (self.end - self.offsets_at) // 4))
        while lo < hi:  # sparse entries are sorted by index
            mid = (lo + hi) // 2
            idx, off = struct.unpack_from("<HH", data, self.offsets_at + 4 * mid)
            if idx == index:
                return self.entries_at + 4 * int(off)
            lo, hi = (mid + 1, hi) if idx < index else (lo, mid)
        return None


class ResourceTable:
    """The string values of a resources.arsc, looked up by resource id (``0x7F0B001C``)."""

    def __init__(self, data: bytes) -> None:
        """Index the table's type chunks; ArscError when it has no valid table header."""
        self.data = data
        if len(data) < 12:
            raise ArscError("resources.arsc is shorter than its header")
        ctype, header_size, size = struct.unpack_from("<HHI", data, 0)
        if ctype != _TABLE or header_size < 12 or size > len(data):
            raise ArscError(f"resources.arsc has no valid table header (type 0x{ctype:04x}, size {size})")
        self.pool: StringPool | None = None
        self.types: dict[tuple[int, int], list[_TypeChunk]] = {}
        self._walked = 0
        for pos, ctype, chsize, end in self._chunks(header_size, size):
            if ctype == _STRING_POOL and self.pool is None and chsize >= HEADER_SIZE:
                self.pool = StringPool(data, pos, chsize, end - pos)
            elif ctype == _PACKAGE and chsize >= 12:
                self._package(pos, chsize, end)

    def _chunks(self, pos: int, end: int) -> Iterator[tuple[int, int, int, int]]:
        """(start, type, header size, end) of each chunk from ``pos`` to ``end``, stopping at one that does
        not fit."""
        data = self.data
        while pos + 8 <= end:
            self._walked += 1
            if self._walked > MAX_CHUNKS:
                raise ArscError(f"resources.arsc has more than {MAX_CHUNKS} chunks (limit MAX_CHUNKS)")
            ctype, chsize, csize = struct.unpack_from("<HHI", data, pos)
            if csize < 8 or chsize < 8 or chsize > csize or pos + csize > end:
                return
            yield pos, ctype, chsize, pos + csize
            pos += csize

    def _package(self, pos: int, header_size: int, end: int) -> None:
        (package_id,) = struct.unpack_from("<I", self.data, pos + 8)
        for at, ctype, chsize, chunk_end in self._chunks(pos + header_size, end):
            if ctype == _TYPE and chsize >= 24 and at + 24 <= chunk_end:
                chunk = _TypeChunk(self.data, at, chsize, chunk_end)
                type_id = self.data[at + 8]
                self.types.setdefault((package_id & 0xFF, type_id), []).append(chunk)

    def string(self, res_id: int) -> str | None:
        """The first non-empty value of ``res_id`` (module docstring), or None when it has none.

        ArscError when its references run deeper than ``MAX_REFERENCE_DEPTH``.
        """
        return next((text for _config, text in self._values(res_id, 0) if text), None)

    def default_string(self, res_id: int) -> str | None:
        """The non-empty value of ``res_id`` in the default configuration (no qualifier), else the first
        in any configuration (as :meth:`string`); None when it has none. ArscError as :meth:`string`."""
        first = None
        for config, text in self._values(res_id, 0):
            if text and not any(config):
                return text
            first = first or text or None
        return first

    def _values(self, res_id: int, depth: int) -> Iterator[tuple[tuple[int, ...], str]]:
        """(configuration, text) of every value of ``res_id``, references followed (module docstring)."""
        if depth > MAX_REFERENCE_DEPTH:
            raise ArscError(f"resource 0x{res_id:08X}: references deeper than {MAX_REFERENCE_DEPTH}")
        chunks = self.types.get((res_id >> 24, (res_id >> 16) & 0xFF), [])
        latest: dict[tuple[int, ...], tuple[int, int]] = {}  # a configuration listed again replaces its entry
        for chunk in chunks:
            at = chunk.entry(self.data, res_id & 0xFFFF)
            if at is not None:
                latest[chunk.config] = (at, chunk.end)
        for config, (at, end) in latest.items():
            yield from self._entry(config, at, end, res_id, depth)

    def _entry(
        self, config: tuple[int, ...], at: int, end: int, res_id: int, depth: int
    ) -> Iterator[tuple[tuple[int, ...], str]]:
        """The values of the entry at ``at`` (in a chunk ending at ``end``: Android reads no entry past it)."""
        data = self.data
        if at + 8 > end:
            return
        size, flags, key = struct.unpack_from("<HHI", data, at)
        if flags & _COMPLEX:
            return
        if flags & _COMPACT:
            value_type, value = flags >> 8, key
        else:
            value_at = at + max(size, 8)
            if value_at + 8 > end:
                return
            value_type, value = data[value_at + 3], struct.unpack_from("<I", data, value_at + 4)[0]
        if value_type == TYPE_REFERENCE:
            if value and value != res_id:  # androguard skips a self-reference; a longer loop hits the depth limit
                yield from self._values(value, depth + 1)
            return
        if value_type == TYPE_STRING and self.pool is None:
            return
        yield config, format_value(value_type, value, self.pool.strict if self.pool is not None else _no_string)


def _no_string(_index: int) -> str:
    return ""


def string_resources(arsc: bytes) -> ResourceTable:
    """The string lookup of a resources.arsc (``.string(res_id)``, ``.default_string(res_id)``); ArscError
    when it has no table header. For any reader of resource ids (the app's label, ``getString(int)``
    constants in code); build it once per table: the constructor walks the chunk headers."""
    return ResourceTable(arsc)


def resolve_label(label: str | None, arsc: bytes | None) -> str | None:
    """The app's label: a literal as is; a ``@ID`` reference resolved through resources.arsc (None when
    it cannot be: no table, an unreadable one, no such id, a framework ``@android:`` reference)."""
    if not label or not label.startswith("@"):
        return label
    if arsc is None:
        return None
    try:
        res_id = int(label[1:], 16)
    except ValueError:
        return None
    if not res_id:
        return None
    try:
        return ResourceTable(arsc).string(res_id)
    except ArscError:
        return None
