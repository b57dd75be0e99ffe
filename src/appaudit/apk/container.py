"""A zip reader for hostile input: in memory, bounded, tolerant the way Android is.

Why not ``zipfile`` or apkInspector: both inflate an entry without a bound (a
zip bomb costs all the memory there is), both keep one entry per name (a
duplicate name hides the other copy), ``zipfile`` refuses entries with the
encryption flag or an unknown compression method, and apkInspector logs
through the root logger. Android's own reader (libziparchive) works from the
central directory, ignores the encryption flag and inflates every entry whose
method is not STORED; this reader does the same, and

* never writes anything anywhere (entry names, ``../`` included, are only
  strings; the unsafe ones are listed in :attr:`ZipContainer.unsafe_names`),
* keeps every central-directory entry, duplicates included,
* bounds every read by :class:`~appaudit.apk.limits.Limits`: the entry's
  uncompressed size, its compression ratio (zip bombs) and the total read
  from one input (:class:`Budget`),
* treats an unknown compression method as STORED when the sizes agree, else
  as DEFLATE (what apkInspector and Android do with such tricks).

Reference: PKWARE APPNOTE 6.3.9; AOSP system/libziparchive/zip_archive.cc.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections import Counter
from dataclasses import dataclass

from appaudit.apk.limits import Limits

_EOCD = b"PK\x05\x06"
_CDH = b"PK\x01\x02"
_LFH = b"PK\x03\x04"
_EOCD_SIZE = 22
_CDH_STRUCT = struct.Struct("<4s6H3I5H2I")
_MAX_COMMENT = 0xFFFF
STORED = 0
DEFLATED = 8
FLAG_ENCRYPTED = 0x1
_DRIVE = re.compile(r"[A-Za-z]:")


class ZipError(Exception):
    """The container as a whole cannot be read (no central directory, ...)."""


class EntryError(Exception):
    """One entry cannot be read. ``code`` is a coverage reason code; the message is ``name: reason``."""

    def __init__(self, code: str, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.code = code
        self.name = name
        self.reason = reason


class Budget:
    """Uncompressed bytes still allowed for one input (shared by its nested containers)."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.used = 0

    @property
    def remaining(self) -> int:
        return max(0, self.limits.max_total_size - self.used)


@dataclass(frozen=True, slots=True)
class Entry:
    """One central-directory record."""

    name: str
    index: int
    """Position in the central directory (duplicates have different indices)."""
    method: int
    flags: int
    compressed_size: int
    uncompressed_size: int
    header_offset: int


def is_unsafe_name(name: str) -> bool:
    """A name that would escape an extraction folder (absolute, ``..``, backslash, drive, NUL)."""
    return (
        name.startswith("/")
        or "\\" in name
        or "\x00" in name
        or bool(_DRIVE.match(name))
        or any(part == ".." for part in name.split("/"))
    )


class ZipContainer:
    """The entries of one zip held in memory; :meth:`read` inflates one within the limits."""

    def __init__(self, raw: bytes, *, limits: Limits, budget: Budget) -> None:
        self.raw = raw
        self.limits = limits
        self.budget = budget
        self._shift = 0
        self.entries = self._parse()
        self._by_name: dict[str, list[Entry]] = {}
        for entry in self.entries:
            self._by_name.setdefault(entry.name, []).append(entry)
        counts = Counter(e.name for e in self.entries)
        self.duplicates = tuple(sorted(n for n, c in counts.items() if c > 1))
        """Names that occur more than once (Android 8+ refuses to install such an APK)."""
        self.unsafe_names = tuple(sorted({e.name for e in self.entries if is_unsafe_name(e.name)}))
        self.encrypted = tuple(sorted({e.name for e in self.entries if e.flags & FLAG_ENCRYPTED}))
        """Names with the encryption flag set: Android ignores it, and so does this reader."""
        self.odd_methods = tuple(sorted({e.name for e in self.entries if e.method not in (STORED, DEFLATED)}))
        """Names with a compression method other than STORED or DEFLATE."""

    # ----------------------------------------------------------------- parsing
    def _parse(self) -> tuple[Entry, ...]:
        raw = self.raw
        size = len(raw)
        floor = max(0, size - _EOCD_SIZE - _MAX_COMMENT)
        pos = raw.rfind(_EOCD, floor)
        problem = "no end of central directory record"
        while pos >= 0:
            if pos + _EOCD_SIZE <= size:
                found = self._central_directory(pos)
                if isinstance(found, tuple):
                    return found
                problem = found
            pos = raw.rfind(_EOCD, floor, pos)
        raise ZipError(problem)

    def _central_directory(self, eocd: int) -> tuple[Entry, ...] | str:
        """The entries the end record at ``eocd`` points to, or why it points nowhere."""
        raw = self.raw
        _sig, _disk, _cd_disk, _n_here, _n_total, cd_size, cd_offset, _clen = struct.unpack_from("<4s4H2IH", raw, eocd)
        if cd_offset == 0xFFFFFFFF or cd_size == 0xFFFFFFFF:
            return "zip64 archives are not supported"
        if cd_size == 0:
            return "the central directory lists no entries"
        start = cd_offset
        if raw[start : start + 4] != _CDH:
            # Data prepended to the zip shifts every offset (as zipfile allows).
            start = eocd - cd_size
            if start < 0 or raw[start : start + 4] != _CDH:
                return "central directory not found where the end record says"
            self._shift = start - cd_offset
        entries: list[Entry] = []
        pos = start
        end = eocd
        while pos + _CDH_STRUCT.size <= end and raw[pos : pos + 4] == _CDH:
            if len(entries) >= self.limits.max_entries:
                raise ZipError(f"more than {self.limits.max_entries} entries (limit max_entries)")
            (_s, _vm, _vn, flags, method, _t, _d, _crc, csize, usize, nlen, elen, clen, _dk, _ia, _ea, off) = (
                _CDH_STRUCT.unpack_from(raw, pos)
            )
            name_end = pos + _CDH_STRUCT.size + nlen
            if name_end > end:
                break
            name = raw[pos + _CDH_STRUCT.size : name_end].decode("utf-8", "replace")
            entries.append(Entry(name, len(entries), method, flags, csize, usize, off))
            pos = name_end + elen + clen
        if not entries:
            return "the central directory lists no entries"
        return tuple(entries)

    # ----------------------------------------------------------------- lookups
    def names(self) -> list[str]:
        """Every distinct entry name, in central-directory order."""
        return list(self._by_name)

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    def get(self, name: str) -> Entry | None:
        """The first entry called ``name``."""
        found = self._by_name.get(name)
        return found[0] if found else None

    def all(self, name: str) -> list[Entry]:
        """Every entry called ``name`` (more than one only in a tampered zip)."""
        return list(self._by_name.get(name, ()))

    # ----------------------------------------------------------------- reading
    def _data_span(self, entry: Entry) -> tuple[int, int]:
        """(start, length in the file) of the entry's stored bytes."""
        raw = self.raw
        lho = entry.header_offset + self._shift
        if lho < 0 or lho + 30 > len(raw) or raw[lho : lho + 4] != _LFH:
            raise EntryError("entry_unreadable", entry.name, "local header missing")
        nlen, elen = struct.unpack_from("<HH", raw, lho + 26)
        start = lho + 30 + nlen + elen
        length = entry.uncompressed_size if self._is_stored(entry) else entry.compressed_size
        if start + length > len(raw):
            raise EntryError("entry_unreadable", entry.name, "data runs past the end of the file")
        return start, length

    @staticmethod
    def _is_stored(entry: Entry) -> bool:
        return entry.method == STORED or (entry.method != DEFLATED and entry.compressed_size == entry.uncompressed_size)

    def peek(self, entry: Entry, n: int) -> bytes:
        """The first ``n`` bytes of the entry's content (cheap; for magic numbers)."""
        start, length = self._data_span(entry)
        view = memoryview(self.raw)[start : start + length]
        if self._is_stored(entry):
            return bytes(view[:n])
        try:
            return zlib.decompressobj(-15).decompress(view, n)
        except zlib.error:
            return b""

    def read(self, entry: Entry | str) -> bytes:
        """The entry's content. Raises EntryError (with a coverage reason code) when it may not be read."""
        if isinstance(entry, str):
            found = self.get(entry)
            if found is None:
                raise EntryError("entry_unreadable", entry, "no such entry")
            entry = found
        limits = self.limits
        start, length = self._data_span(entry)
        cap = min(limits.max_entry_size, self.budget.remaining)
        if self._is_stored(entry):
            if length > cap:
                raise self._too_large(entry, cap)
            data = self.raw[start : start + length]
        else:
            ratio_cap = max(limits.ratio_floor, limits.max_ratio * max(length, 1))
            allowed = min(cap, ratio_cap)
            inflater = zlib.decompressobj(-15)
            try:
                data = inflater.decompress(memoryview(self.raw)[start : start + length], allowed + 1)
            except zlib.error as exc:
                raise EntryError("entry_unreadable", entry.name, f"corrupt compressed data ({exc})") from None
            if len(data) > allowed:
                if ratio_cap < cap:
                    raise EntryError(
                        "zip_bomb",
                        entry.name,
                        f"inflates beyond {limits.max_ratio}:1 from {length} bytes (limit max_ratio)",
                    )
                raise self._too_large(entry, cap)
        self.budget.used += len(data)
        return data

    def _too_large(self, entry: Entry, cap: int) -> EntryError:
        if cap < self.limits.max_entry_size:
            return EntryError(
                "size_limit",
                entry.name,
                f"the input's total uncompressed size would pass {self.limits.max_total_size} bytes "
                "(limit max_total_size)",
            )
        return EntryError(
            "entry_too_large",
            entry.name,
            f"larger than {self.limits.max_entry_size} bytes uncompressed (limit max_entry_size)",
        )
