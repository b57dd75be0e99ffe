"""A lean DEX reader: tables on demand (:mod:`~appaudit.apk.dex.tables`), references found by byte search.

Why hand-written: androguard parses every class and instruction up front and
builds cross-references for all of them (seconds and hundreds of MB on a large
DEX), yet still gives no reference for a read of an SDK constant such as
``ContactsContract.CommonDataKinds.Phone.CONTENT_URI``. A scan needs only a few
dozen references, so this reader

1. reads the header and the id tables as flat arrays (no per-item objects),
2. looks up the string, type, field and method indices a rule names by binary
   search (the tables are sorted by the format's rules),
3. finds candidate uses (an index is the second code unit of ``invoke-*``,
   ``sget*``, ``const-string``, ...) in a table per DEX and opcode family of the
   code units that carry one of the family's opcodes, sorted by the index in the
   unit after and built once with C-speed byte slicing when the family is
   asked for more than a few indices (the first few, and 32-bit indices of
   ``const-string/jumbo``, with ``bytes.find`` over the code area), and
4. confirms each candidate by walking its method's instructions from the start,
   so a match inside a payload or an operand is never reported.

Reference: https://source.android.com/docs/core/runtime/dex-format
"""

from __future__ import annotations

import bisect
import operator
import re
import struct
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from appaudit import deadline
from appaudit.apk.dex.code import instruction_starts
from appaudit.apk.dex.encoding import class_code_rows
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
_U32 = struct.Struct("<I").unpack_from
_START = operator.itemgetter(0)
#: Indices of one opcode family searched by a pass over the code each before the family's table is built:
#: a table costs about as much as 3 to 5 passes (measured on the corpus's largest DEX files), and most
#: families are asked for 1 to 3 indices per DEX. The invokes get their table at once: the searches ask
#: for the callers of dozens to hundreds of methods per DEX (median 16 on the corpus).
SCANS_BEFORE_TABLE = 4
#: A flagged code unit in the opcode maps of :meth:`DexFile._index_table`.
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
        self._tables: dict[frozenset[int], tuple[memoryview, array[int]]] = {}
        self._scanned: dict[frozenset[int], int] = {}

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
        return tuple(CodeSpan(*row) for row in self._span_rows)

    @cached_property
    def _span_rows(self) -> list[tuple[int, int, int, int]]:
        """:attr:`code_spans` as plain (start, end, method_idx, class_def_idx) rows: every scan reads the
        class data of every class, and a row costs a fraction of a frozen object (made only for hits)."""
        spans: list[tuple[int, int, int, int]] = []
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
                spans.extend(class_code_rows(data, off, budget, ci))
            except DexFormatError as exc:
                bad.append(f"class #{ci}: {exc}")
        if bad:
            self.damage.append(f"class data of {len(bad)} classes unreadable (their code is not searched): {bad[0]}")
        # A span's end follows from its start (both come from its code item), so sorting by start is
        # sorting by (start, end); the stable sort keeps methods that share a code item in class order.
        spans.sort(key=_START)
        starts = [row[0] for row in spans]
        ends = [row[1] for row in spans]
        # Overlaps are rare (hostile files): found at C speed, cut one by one only when there are any.
        if any(map(operator.lt, starts[1:], ends)):
            for i in range(len(spans) - 1):
                nxt = starts[i + 1]
                start, end, midx, ci = spans[i]
                if start < nxt < end:
                    spans[i] = (start, nxt, midx, ci)
        return spans

    @cached_property
    def _code_area(self) -> tuple[int, int]:
        spans = self._span_rows
        return spans[0][0], max(s[1] for s in spans)

    @cached_property
    def _span_starts(self) -> list[int]:
        return [s[0] for s in self._span_rows]

    def span_at(self, pos: int) -> CodeSpan | None:
        """The method whose instructions contain absolute position ``pos``."""
        i = bisect.bisect_right(self._span_starts, pos) - 1
        if i >= 0:
            row = self._span_rows[i]
            if row[0] <= pos < row[1]:
                return CodeSpan(*row)
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

    def _index_table(self, opcodes: frozenset[int]) -> tuple[memoryview, array[int]]:
        """(the code area as 16-bit units, the position + 1 of every unit whose low byte is one of
        ``opcodes``), the positions sorted by the unit after them (the pool index of a ``21c``/``22c``/
        ``35c``/``3rc`` instruction) and, for one index, in file order: where a use of each index may stand.

        Built once per DEX and opcode family from C-speed steps (the opcode byte of every unit by
        ``translate``, one pass of ``re.finditer``, a sort keyed by a memoryview of the units), so
        finding the uses of an index is a binary search, not a pass over the code: a scan asks for the
        callers of hundreds of methods, and searching the code bytes per query made that its largest
        cost. Candidates still need confirming (a unit inside another instruction's operands looks the
        same). Costs 4 bytes per flagged unit; the units are a view of the DEX, not a copy.
        """
        table = self._tables.get(opcodes)
        if table is not None:
            return table
        lo, hi = self._code_area
        data = self.data
        deadline.check()
        flags = bytes(1 if op in opcodes else 0 for op in range(256))
        units = memoryview(data)[lo : hi - ((hi - lo) & 1)].cast("H")
        # m.end() is the unit after the flagged one (a match is one byte): the index a key reads.
        after = [m.end() for m in _FLAGGED.finditer(data[lo:hi:2].translate(flags))]
        while after and after[-1] >= len(units):  # an instruction cut off by the end of the code
            after.pop()
        after.sort(key=units.__getitem__)  # stable: file order within one index
        table = self._tables[opcodes] = (units, array("I", after))
        return table

    def _table_sites(self, opcodes: frozenset[int], ids: list[int], limit: int | None) -> list[Site]:
        """:meth:`find_sites` for 16-bit indices, from :meth:`_index_table`."""
        lo = self._code_area[0]
        units, after = self._index_table(opcodes)
        key = units.__getitem__
        count = len(after)
        sites: list[Site] = []
        for idx in ids:
            deadline.check()
            if idx > 0xFFFF:
                continue
            i = bisect.bisect_left(after, idx, key=key)
            while i < count and units[after[i]] == idx:
                ins = lo + 2 * (after[i] - 1)
                i += 1
                span = self.span_at(ins)
                if span is not None and ins in self._starts(span):
                    sites.append(Site(span, ins - span.start, idx))
                    if limit is not None and len(sites) >= limit:
                        return sites
        return sites

    def _scanned_sites(self, opcodes: frozenset[int], ids: list[int], wide: bool, limit: int | None) -> list[Site]:
        """:meth:`find_sites` by a ``bytes.find`` pass over the code per index: for 32-bit indices
        (``const-string/jumbo``), and for the first few 16-bit ones of a family (see :data:`SCANS_BEFORE_TABLE`)."""
        lo, hi = self._code_area
        data = self.data
        sites: list[Site] = []
        for idx in ids:
            deadline.check()
            if wide:
                pat = struct.pack("<I", idx)
            elif idx <= 0xFFFF:
                pat = struct.pack("<H", idx)
            else:
                continue
            pos = data.find(pat, lo + 2, hi)
            candidates = 0
            while pos >= 0:
                candidates += 1
                if candidates % CHECK_EVERY == 0:
                    deadline.check()
                ins = pos - 2
                if not ins & 1 and data[ins] in opcodes:
                    span = self.span_at(ins)
                    if span is not None and ins in self._starts(span):
                        sites.append(Site(span, ins - span.start, idx))
                        if limit is not None and len(sites) >= limit:
                            return sites
                pos = data.find(pat, pos + 1, hi)
        return sites

    def _scan_first(self, opcodes: frozenset[int], count: int) -> bool:
        """Whether ``count`` more indices of the family ``opcodes`` are searched by passes over the code
        rather than from its table: while the family has been asked for no more than
        :data:`SCANS_BEFORE_TABLE` indices, and it has no table yet."""
        if opcodes in self._tables or opcodes == INVOKE_OPS:  # callers are asked for by the dozen: table at once
            return False
        asked = self._scanned.get(opcodes, 0) + count
        self._scanned[opcodes] = asked
        return asked <= SCANS_BEFORE_TABLE

    def find_sites(
        self, opcodes: frozenset[int], indices: Iterable[int], wide: bool = False, limit: int | None = None
    ) -> list[Site]:
        """Confirmed uses of any of ``indices`` by an instruction in ``opcodes``, in file order.

        ``wide`` selects a 32-bit index (const-string/jumbo) instead of 16-bit;
        ``limit`` stops after that many sites (the indices taken in the order given, each one's sites in
        file order).
        """
        ids = list(indices)
        if not ids or not self._span_rows:
            return []
        if wide or self._scan_first(opcodes, len(ids)):
            sites = self._scanned_sites(opcodes, ids, wide, limit)
        else:
            sites = self._table_sites(opcodes, ids, limit)
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
