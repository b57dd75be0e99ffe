"""A lean DEX reader: tables on demand (:mod:`~appaudit.apk.dex.tables`), references found by byte search.

Why hand-written: androguard parses every class and instruction up front and
builds cross-references for all of them (seconds and hundreds of MB on a large
DEX), yet still gives no reference for a read of an SDK constant such as
``ContactsContract.CommonDataKinds.Phone.CONTENT_URI``. A scan needs only a few
dozen references, so this reader

1. reads the header and the id tables as flat arrays (no per-item objects),
2. looks up the string, type, field and method indices a rule names by binary
   search (the tables are sorted by the format's rules),
3. finds candidate uses in a per-DEX table of the code units that carry each
   kind of opcode, sorted by the index in the unit after (an index is the second
   code unit of ``invoke-*``, ``sget*``, ``const-string``), built once with
   C-speed byte slicing, and
4. confirms each candidate by walking its method's instructions from the start,
   so a match inside a payload or an operand is never reported.

Reference: https://source.android.com/docs/core/runtime/dex-format
"""

from __future__ import annotations

import bisect
import re
import struct
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from appaudit import deadline
from appaudit.apk.dex.code import instruction_starts
from appaudit.apk.dex.encoding import class_data_methods
from appaudit.apk.dex.tables import CHECK_EVERY, DexTables
from appaudit.errors import DexFormatError

#: opcodes whose second code unit is a method index (invoke-*, incl. /range)
INVOKE_OPS = frozenset((*range(0x6E, 0x73), *range(0x74, 0x79), 0xFA, 0xFB))
#: opcodes whose second code unit is a field index for a static read (sget*)
SGET_OPS = frozenset(range(0x60, 0x67))
CONST_STRING = 0x1A
CONST_STRING_JUMBO = 0x1B
#: A fill-array-data table of 1-byte elements: identifier 0x0300, element width 1.
_BYTE_ARRAY_TABLE = b"\x00\x03\x01\x00"
#: Opcodes whose second code unit is a 16-bit pool index: new-instance, const-class, sget*, sput*,
#: invoke-* (the queries :meth:`DexFile.find_sites` answers); then const-string/jumbo's 32-bit one.
_REF_OPS = frozenset((CONST_STRING, 0x1C, 0x22, *range(0x60, 0x6E), *INVOKE_OPS))
_REF_UNITS = bytes(1 if op in _REF_OPS else 0 for op in range(256))
_WIDE_REF_OPS = frozenset((CONST_STRING_JUMBO,))
_WIDE_REF_UNITS = bytes(1 if op in _WIDE_REF_OPS else 0 for op in range(256))
#: A flagged code unit in those opcode maps.
_FLAGGED = re.compile(b"\x01")


@dataclass(frozen=True, slots=True)
class CodeSpan:
    """Where one method's instructions lie in the DEX file."""

    start: int
    """Absolute byte offset of the insns array."""
    end: int
    """Absolute byte offset one past the insns array."""
    method_idx: int
    class_def_idx: int


@dataclass(frozen=True, slots=True)
class Site:
    """A confirmed use of a constant-pool item inside a method."""

    span: CodeSpan
    offset: int
    """Byte offset of the instruction from the start of the method's insns."""
    index: int
    """The pool index it uses."""


class DexFile(DexTables):
    """Read-only view of one DEX file: its id tables, where its methods' code lies and where
    that code uses an item of the tables."""

    def __init__(self, data: bytes, name: str) -> None:
        super().__init__(data, name)
        self.damage: list[str] = []
        """Parts of the file found unreadable while it was searched (class data, method code)."""
        self._starts_cache: dict[int, frozenset[int]] = {}
        self._candidate_cache: dict[bool, array[int]] = {}

    @cached_property
    def code_spans(self) -> tuple[CodeSpan, ...]:
        """The instruction spans of every method with code, sorted by position.

        Tolerant of hostile class data: a class whose class_data cannot be read
        is skipped (and listed in :attr:`damage`), class_data shared by several
        classes is read once, the members read in all are bounded by the file
        size (overlapping class_data items cannot make this quadratic), and a
        span that runs into the next method's code is cut there, so that the
        instruction walks of all spans together cover the file at most once.
        """
        spans: list[CodeSpan] = []
        data = self.data
        size = len(data)
        seen: set[int] = set()
        budget = [size]
        bad: list[str] = []
        for ci, cdef in enumerate(self.class_defs):
            off = cdef.class_data_off
            if off == 0 or off in seen:
                continue
            seen.add(off)
            if ci % CHECK_EVERY == 0:
                deadline.check()
            try:
                spans.extend(self._class_spans(data, size, off, ci, budget))
            except DexFormatError as exc:
                bad.append(f"class #{ci}: {exc}")
        if bad:
            self.damage.append(f"class data of {len(bad)} classes unreadable (their code is not searched): {bad[0]}")
        spans.sort(key=lambda s: (s.start, s.end))
        for i in range(len(spans) - 1):
            nxt = spans[i + 1].start
            if spans[i].start < nxt < spans[i].end:
                spans[i] = CodeSpan(spans[i].start, nxt, spans[i].method_idx, spans[i].class_def_idx)
        return tuple(spans)

    def _class_spans(self, data: bytes, size: int, off: int, ci: int, budget: list[int]) -> list[CodeSpan]:
        out: list[CodeSpan] = []
        for midx, _access, code_off in class_data_methods(data, off, budget):
            if code_off == 0 or code_off + 16 > size:
                continue
            (n_units,) = struct.unpack_from("<I", data, code_off + 12)
            start = code_off + 16
            out.append(CodeSpan(start, min(start + 2 * n_units, size), midx, ci))
        return out

    @cached_property
    def _code_area(self) -> tuple[int, int]:
        spans = self.code_spans
        return spans[0].start, max(s.end for s in spans)

    @cached_property
    def _span_starts(self) -> list[int]:
        return [s.start for s in self.code_spans]

    def span_at(self, pos: int) -> CodeSpan | None:
        """The method whose instructions contain absolute position ``pos``."""
        i = bisect.bisect_right(self._span_starts, pos) - 1
        if i >= 0:
            span = self.code_spans[i]
            if span.start <= pos < span.end:
                return span
        return None

    def byte_arrays(self, max_len: int = 256) -> list[tuple[CodeSpan, bytes]]:
        """Byte-array constants (``fill-array-data`` tables of 1-byte elements) of at most ``max_len``
        bytes, with the method holding each, in file order.

        Found by searching the code area for the table's identifier and confirmed by walking the
        method's instructions, so bytes that only look like a table are never returned.
        """
        if not self.class_defs_size:
            return []
        try:
            lo, hi = self._code_area
        except (IndexError, DexFormatError):  # no method has code
            return []
        data = self.data
        found: list[tuple[CodeSpan, bytes]] = []
        pos = data.find(_BYTE_ARRAY_TABLE, lo, hi)
        while pos >= 0:
            span = self.span_at(pos) if pos % 2 == 0 else None
            if span is not None and pos + 8 <= span.end:
                size = int.from_bytes(data[pos + 4 : pos + 8], "little")
                if 0 < size <= max_len and pos + 8 + size <= span.end and pos in self._starts(span):
                    found.append((span, bytes(data[pos + 8 : pos + 8 + size])))
            pos = data.find(_BYTE_ARRAY_TABLE, pos + 2, hi)
        return found

    def class_desc_of(self, span: CodeSpan) -> str:
        """Descriptor of the class defining ``span``'s method."""
        return self.type_desc(self.class_defs[span.class_def_idx].class_idx)

    # ----------------------------------------------------------- instructions
    def _starts(self, span: CodeSpan) -> frozenset[int]:
        cached = self._starts_cache.get(span.start)
        if cached is None:
            cached = frozenset(instruction_starts(self.data, span.start, span.end))
            self._starts_cache[span.start] = cached
        return cached

    def _candidates(self, wide: bool) -> array[int]:
        """``index << 32 | unit`` for every code unit of the code area whose low byte is the opcode of an
        instruction that references the pool (``unit`` counted from the start of the area, ``index`` the
        16-bit unit after it or, ``wide``, the 32 bits after a ``const-string/jumbo``), sorted: where an
        instruction using each index may stand.

        Built once per DEX from C-speed slices (the opcode byte of every unit, one pass of
        ``re.finditer``), so a query is a binary search, not a pass over the code: a scan asks for the
        callers of thousands of methods, and searching the code bytes per query made that its largest
        cost. Candidates still need their opcode checked and confirming (a unit inside another
        instruction's operands looks the same).
        """
        cached = self._candidate_cache.get(wide)
        if cached is not None:
            return cached
        lo, hi = self._code_area
        data = self.data
        flags = data[lo:hi:2].translate(_WIDE_REF_UNITS if wide else _REF_UNITS)
        units = array("H")
        units.frombytes(data[lo : hi - ((hi - lo) & 1)])
        units.extend((0, 0))  # an index cut off by the end of the code is never asked for past the area
        deadline.check()
        starts = [m.start() for m in _FLAGGED.finditer(flags)]
        n = len(units) - 2
        if wide:
            keys = [(units[k + 1] | units[k + 2] << 16) << 32 | k for k in starts if k + 2 < n]
        else:
            keys = [units[k + 1] << 32 | k for k in starts if k + 1 < n]
        keys.sort()
        cached = self._candidate_cache[wide] = array("Q", keys)
        return cached

    def find_sites(
        self, opcodes: frozenset[int], indices: Iterable[int], wide: bool = False, limit: int | None = None
    ) -> list[Site]:
        """Confirmed uses of any of ``indices`` by an instruction in ``opcodes``.

        ``wide`` selects a 32-bit index (const-string/jumbo) instead of 16-bit;
        ``limit`` stops after that many sites (the indices taken in the order given, each one's sites in
        file order). ``opcodes`` must be among those the candidate table holds (ValueError otherwise).
        """
        if not opcodes <= (_WIDE_REF_OPS if wide else _REF_OPS):
            raise ValueError(f"opcodes {sorted(opcodes)} reference no pool index the code tables hold")
        if not self.code_spans:
            return []
        lo = self._code_area[0]
        keys = self._candidates(wide)
        data = self.data
        count = len(keys)
        sites: list[Site] = []
        for idx in indices:
            deadline.check()
            if not wide and idx > 0xFFFF:
                continue
            i = bisect.bisect_left(keys, idx << 32)
            while i < count and keys[i] >> 32 == idx:
                ins = lo + 2 * (keys[i] & 0xFFFFFFFF)
                i += 1
                if data[ins] not in opcodes:
                    continue
                span = self.span_at(ins)
                if span is not None and ins in self._starts(span):
                    sites.append(Site(span, ins - span.start, idx))
                    if limit is not None and len(sites) >= limit:
                        sites.sort(key=lambda s: (s.span.start, s.offset))
                        return sites
        sites.sort(key=lambda s: (s.span.start, s.offset))
        return sites

    def method_sites(self, method_ids: Iterable[int], limit: int | None = None) -> list[Site]:
        """Confirmed ``invoke-*`` instructions calling any of ``method_ids``."""
        return self.find_sites(INVOKE_OPS, method_ids, limit=limit)

    def sget_sites(self, field_ids: Iterable[int]) -> list[Site]:
        """Confirmed ``sget*`` instructions reading any of ``field_ids``."""
        return self.find_sites(SGET_OPS, field_ids)

    def string_sites(self, string_ids: Iterable[int]) -> list[Site]:
        """Confirmed ``const-string`` and ``const-string/jumbo`` loads of ``string_ids``."""
        ids = list(string_ids)
        sites = self.find_sites(frozenset((CONST_STRING,)), ids)
        sites += self.find_sites(frozenset((CONST_STRING_JUMBO,)), ids, wide=True)
        sites.sort(key=lambda s: (s.span.start, s.offset))
        return sites
