"""A lean DEX reader: tables on demand, references found by byte search.

Why hand-written: androguard parses every class and instruction up front and
builds cross-references for all of them (seconds and hundreds of MB on a large
DEX), yet still gives no reference for a read of an SDK constant such as
``ContactsContract.CommonDataKinds.Phone.CONTENT_URI``. A scan needs only a few
dozen references, so this reader

1. reads the header and the id tables as flat arrays (no per-item objects),
2. looks up the string, type, field and method indices a rule names by binary
   search (the tables are sorted by the format's rules),
3. finds candidate uses with ``bytes.find`` over the code area (an index is the
   second code unit of ``invoke-*``, ``sget*``, ``const-string``), and
4. confirms each candidate by walking its method's instructions from the start,
   so a match inside a payload or an operand is never reported.

Reference: https://source.android.com/docs/core/runtime/dex-format
"""

from __future__ import annotations

import bisect
import re
import struct
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property

from appaudit import deadline
from appaudit.apk.dex.code import Instruction, decode_at, instruction_starts
from appaudit.errors import DexFormatError

_HEADER = struct.Struct("<8sI20s20I")
_ENDIAN_CONSTANT = 0x12345678
NO_INDEX = 0xFFFFFFFF

#: opcodes whose second code unit is a method index (invoke-*, incl. /range)
INVOKE_OPS = frozenset((*range(0x6E, 0x73), *range(0x74, 0x79), 0xFA, 0xFB))
#: opcodes whose second code unit is a field index for a static read (sget*)
SGET_OPS = frozenset(range(0x60, 0x67))
CONST_STRING = 0x1A
CONST_STRING_JUMBO = 0x1B
#: Entries in one type_list: a Java class has at most 65,535 interfaces, a method 255 parameters.
MAX_TYPE_LIST = 0xFFFF
#: Search candidates (or regex matches) between two checks of the scan's time cap.
_CHECK_EVERY = 256
#: A fill-array-data table of 1-byte elements: identifier 0x0300, element width 1.
_BYTE_ARRAY_TABLE = b"\x00\x03\x01\x00"


@dataclass(frozen=True, slots=True)
class MethodRef:
    """A method as referenced from code: declaring class, name and prototype."""

    class_desc: str
    name: str
    proto: str

    def __str__(self) -> str:
        return f"{self.class_desc}->{self.name}{self.proto}"


@dataclass(frozen=True, slots=True)
class FieldRef:
    """A field as referenced from code: declaring class, name and type."""

    class_desc: str
    name: str
    type_desc: str

    def __str__(self) -> str:
        return f"{self.class_desc}->{self.name}:{self.type_desc}"


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
    opcode: int
    index: int


@dataclass(frozen=True, slots=True)
class ClassDef:
    """One class defined in this DEX."""

    class_idx: int
    access_flags: int
    superclass_idx: int
    interfaces_off: int
    source_file_idx: int
    annotations_off: int
    class_data_off: int
    static_values_off: int


def _uleb128(data: bytes, pos: int) -> tuple[int, int]:
    """(value, next position) of the ULEB128 at ``pos``; DexFormatError if it runs off the end."""
    try:
        result = data[pos]
        pos += 1
        if result < 0x80:
            return result, pos
        result &= 0x7F
        shift = 7
        while True:
            b = data[pos]
            pos += 1
            result |= (b & 0x7F) << shift
            if b < 0x80 or shift >= 28:
                return result, pos
            shift += 7
    except IndexError:
        raise DexFormatError(f"a LEB128 value at {pos:#x} runs past the end of the file") from None


def class_data_methods(data: bytes, off: int, budget: list[int]) -> Iterator[tuple[int, int, int]]:
    """(method_idx, access_flags, code_off) of each method of the class_data item at ``off``.

    ``budget`` holds how many more members the file can plausibly hold (its
    size, at most one byte each); a class listing more raises DexFormatError,
    so absurd counts never turn into long loops.
    """
    if off >= len(data):
        raise DexFormatError(f"class_data offset {off:#x} is outside the file")
    n_sf, pos = _uleb128(data, off)
    n_if, pos = _uleb128(data, pos)
    n_dm, pos = _uleb128(data, pos)
    n_vm, pos = _uleb128(data, pos)
    total = n_sf + n_if + n_dm + n_vm
    if total > budget[0]:
        raise DexFormatError("class data lists more members than the file can hold")
    budget[0] -= total
    for _ in range(n_sf + n_if):
        _d, pos = _uleb128(data, pos)
        _a, pos = _uleb128(data, pos)
    for count in (n_dm, n_vm):
        midx = 0
        for _ in range(count):
            diff, pos = _uleb128(data, pos)
            access, pos = _uleb128(data, pos)
            code_off, pos = _uleb128(data, pos)
            midx += diff
            yield midx, access, code_off


def _utf16_key(text: str) -> bytes:
    return text.encode("utf-16-be", "surrogatepass")


def decode_mutf8(raw: bytes) -> str:
    """Decode Modified UTF-8 (DEX strings): 0xC0 0x80 is NUL, surrogates come as pairs."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        fixed = raw.replace(b"\xc0\x80", b"\x00")
        try:
            text = fixed.decode("utf-8", errors="surrogatepass")
        except UnicodeDecodeError:  # not MUTF-8 either: a damaged or hostile string
            return fixed.decode("utf-8", errors="replace")
        return text.encode("utf-16", "surrogatepass").decode("utf-16", errors="replace")


class DexFile:
    """Read-only view of one DEX file; every table is read lazily."""

    def __init__(self, data: bytes, name: str) -> None:
        self.name = name
        self.data = data
        if len(data) < 0x70 or not data.startswith(b"dex\n"):
            raise DexFormatError(f"{name}: not a DEX file")
        fields = _HEADER.unpack_from(data, 0)
        (
            magic,
            self.checksum,
            _sig,
            self.file_size,
            header_size,
            endian,
            _link_size,
            _link_off,
            self.map_off,
            self.string_ids_size,
            self.string_ids_off,
            self.type_ids_size,
            self.type_ids_off,
            self.proto_ids_size,
            self.proto_ids_off,
            self.field_ids_size,
            self.field_ids_off,
            self.method_ids_size,
            self.method_ids_off,
            self.class_defs_size,
            self.class_defs_off,
            self.data_size,
            self.data_off,
        ) = fields
        self.version = magic[4:7].decode("ascii", "replace")
        if endian != _ENDIAN_CONSTANT:
            raise DexFormatError(f"{name}: unsupported endian tag {endian:#x}")
        if header_size < 0x70:
            raise DexFormatError(f"{name}: header size {header_size} too small")
        size = len(data)
        for label, off, count, width in (
            ("string_ids", self.string_ids_off, self.string_ids_size, 4),
            ("type_ids", self.type_ids_off, self.type_ids_size, 4),
            ("proto_ids", self.proto_ids_off, self.proto_ids_size, 12),
            ("field_ids", self.field_ids_off, self.field_ids_size, 8),
            ("method_ids", self.method_ids_off, self.method_ids_size, 8),
            ("class_defs", self.class_defs_off, self.class_defs_size, 32),
        ):
            if count and (off <= 0 or off + count * width > size):
                raise DexFormatError(f"{name}: {label} table ({count} entries at {off:#x}) lies outside the file")
        self._string_offs = self._u32_table(self.string_ids_off, self.string_ids_size)
        self._type_ids = self._u32_table(self.type_ids_off, self.type_ids_size)
        self.damage: list[str] = []
        """Parts of the file found unreadable while it was searched (class data, method code)."""
        self._strings: dict[int, str] = {}
        self._protos: dict[int, str] = {}
        self._type_lists: dict[int, tuple[str, ...]] = {}
        self._method_refs: dict[int, MethodRef] = {}
        self._starts_cache: dict[int, frozenset[int]] = {}

    # ------------------------------------------------------------------ tables
    def _u32_table(self, off: int, count: int) -> array[int]:
        table = array("I")
        table.frombytes(self.data[off : off + 4 * count])
        if table.itemsize != 4:  # pragma: no cover - platforms where "I" is not 32-bit
            raise DexFormatError(f"{self.name}: unsupported platform integer size")
        return table

    def _unpack(self, fmt: str, off: int) -> tuple[int, ...]:
        """``struct.unpack_from`` that raises DexFormatError when the item lies outside the file."""
        try:
            return struct.unpack_from(fmt, self.data, off)
        except struct.error:
            raise DexFormatError(f"{self.name}: item at {off:#x} lies outside the file") from None

    def string(self, idx: int) -> str:
        """The string with index ``idx`` (cached)."""
        cached = self._strings.get(idx)
        if cached is not None:
            return cached
        start, end = self.string_raw_span(idx)
        text = decode_mutf8(self.data[start:end])
        self._strings[idx] = text
        return text

    def string_raw_span(self, idx: int) -> tuple[int, int]:
        """Absolute (start, end) byte span of string ``idx``'s MUTF-8 bytes."""
        if not 0 <= idx < self.string_ids_size:
            raise DexFormatError(f"{self.name}: string index {idx} out of range")
        off = self._string_offs[idx]
        if off >= len(self.data):
            raise DexFormatError(f"{self.name}: string {idx} data outside the file")
        try:
            _utf16_len, pos = _uleb128(self.data, off)
        except DexFormatError:
            raise DexFormatError(f"{self.name}: string {idx} runs past the end of the file") from None
        end = self.data.find(b"\x00", pos)
        if end < 0:
            raise DexFormatError(f"{self.name}: string {idx} is not terminated")
        return pos, end

    def type_desc(self, idx: int) -> str:
        """The descriptor of type ``idx``, e.g. ``Landroid/net/Uri;``."""
        if not 0 <= idx < self.type_ids_size:
            raise DexFormatError(f"{self.name}: type index {idx} out of range")
        return self.string(self._type_ids[idx])

    def proto_desc(self, idx: int) -> str:
        """The prototype ``(params)return`` of proto ``idx`` (cached)."""
        cached = self._protos.get(idx)
        if cached is not None:
            return cached
        if not 0 <= idx < self.proto_ids_size:
            raise DexFormatError(f"{self.name}: proto index {idx} out of range")
        _shorty, ret, params_off = self._unpack("<III", self.proto_ids_off + 12 * idx)
        desc = "(" + "".join(self.type_list(params_off)) + ")" + self.type_desc(ret)
        self._protos[idx] = desc
        return desc

    def type_list(self, off: int) -> tuple[str, ...]:
        """Descriptors of a type_list item (empty for offset 0; cached)."""
        if off == 0:
            return ()
        cached = self._type_lists.get(off)
        if cached is not None:
            return cached
        (count,) = self._unpack("<I", off)
        if count > MAX_TYPE_LIST or off + 4 + 2 * count > len(self.data):
            raise DexFormatError(f"{self.name}: type list at {off:#x} ({count} entries) is outside the file or absurd")
        idxs = struct.unpack_from(f"<{count}H", self.data, off + 4)
        out = tuple(self.type_desc(i) for i in idxs)
        self._type_lists[off] = out
        return out

    def _method_id(self, idx: int) -> tuple[int, int, int]:
        cls, proto, name = struct.unpack_from("<HHI", self.data, self.method_ids_off + 8 * idx)
        return int(cls), int(proto), int(name)

    def _field_id(self, idx: int) -> tuple[int, int, int]:
        cls, typ, name = struct.unpack_from("<HHI", self.data, self.field_ids_off + 8 * idx)
        return int(cls), int(typ), int(name)

    def method_ref(self, idx: int) -> MethodRef:
        """The method with index ``idx`` (cached)."""
        cached = self._method_refs.get(idx)
        if cached is not None:
            return cached
        if not 0 <= idx < self.method_ids_size:
            raise DexFormatError(f"{self.name}: method index {idx} out of range")
        cls, proto, name = self._method_id(idx)
        ref = MethodRef(self.type_desc(cls), self.string(name), self.proto_desc(proto))
        self._method_refs[idx] = ref
        return ref

    def field_ref(self, idx: int) -> FieldRef:
        """The field with index ``idx``."""
        if not 0 <= idx < self.field_ids_size:
            raise DexFormatError(f"{self.name}: field index {idx} out of range")
        cls, typ, name = self._field_id(idx)
        return FieldRef(self.type_desc(cls), self.string(name), self.type_desc(typ))

    # ---------------------------------------------------------------- lookups
    def find_string(self, text: str) -> int | None:
        """Index of the string equal to ``text``.

        Binary search: string_ids are sorted by UTF-16 code units, which is the
        order of their UTF-16BE bytes (not Python's code-point order).
        """
        n = self.string_ids_size
        lo = bisect.bisect_left(range(n), _utf16_key(text), key=self._sort_key)
        if lo < n and self.string(lo) == text:
            return lo
        return None

    def _sort_key(self, idx: int) -> bytes:
        try:
            return _utf16_key(self.string(idx))
        except DexFormatError:
            return b""

    def find_type(self, desc: str) -> int | None:
        """Index of the type with descriptor ``desc``."""
        sidx = self.find_string(desc)
        if sidx is None:
            return None
        pos = bisect.bisect_left(self._type_ids, sidx)
        if pos < len(self._type_ids) and self._type_ids[pos] == sidx:
            return pos
        return None

    def _find_member_ids(self, table_off: int, count: int, class_desc: str, name: str, name_pos: int) -> list[int]:
        cls = self.find_type(class_desc)
        sname = self.find_string(name)
        if cls is None or sname is None:
            return []

        def key(i: int) -> tuple[int, int]:
            item = self._unpack("<HHI", table_off + 8 * i)
            return item[0], item[name_pos]

        lo = bisect.bisect_left(range(count), (cls, sname), key=key)
        found = []
        while lo < count and key(lo) == (cls, sname):
            found.append(lo)
            lo += 1
        return found

    def find_methods(self, class_desc: str, name: str) -> list[int]:
        """Indices of every method ``class_desc->name`` (all prototypes)."""
        return self._find_member_ids(self.method_ids_off, self.method_ids_size, class_desc, name, 2)

    def find_fields(self, class_desc: str, name: str) -> list[int]:
        """Indices of every field ``class_desc->name`` (all types)."""
        return self._find_member_ids(self.field_ids_off, self.field_ids_size, class_desc, name, 2)

    def find_strings_matching(self, pattern: re.Pattern[bytes]) -> list[int]:
        """Indices of strings whose MUTF-8 bytes match ``pattern`` (``fullmatch``).

        The pattern is searched over the raw string data, so only strings that
        contain a match are ever decoded.
        """
        # Every string that fully matches is overlapped by some leftmost match
        # of a scan over the whole string data (a match that starts earlier and
        # runs into it overlaps it), so only strings a match overlaps are checked.
        found: set[int] = set()
        offs = self._sorted_string_offsets
        data = self.data
        lo = offs[0][0] if offs else 0
        for n, m in enumerate(pattern.finditer(data, lo, len(data))):
            if n % _CHECK_EVERY == 0:
                deadline.check()
            pos = max(bisect.bisect_right(offs, (m.start(), NO_INDEX)) - 1, 0)
            stop = max(m.end(), m.start() + 1)
            while pos < len(offs) and offs[pos][0] < stop:
                idx = offs[pos][1]
                try:
                    start, end = self.string_raw_span(idx)
                except DexFormatError:
                    pos += 1
                    continue
                if end > m.start() and pattern.fullmatch(data, start, end):
                    found.add(idx)
                pos += 1
        return sorted(found)

    @cached_property
    def _sorted_string_offsets(self) -> list[tuple[int, int]]:
        return sorted((off, i) for i, off in enumerate(self._string_offs))

    # ------------------------------------------------------------------ classes
    @cached_property
    def class_defs(self) -> tuple[ClassDef, ...]:
        """Every class defined in this DEX, in file order."""
        table = self.data[self.class_defs_off : self.class_defs_off + 32 * self.class_defs_size]
        return tuple(ClassDef(*vals) for vals in struct.iter_unpack("<8I", table))

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
            if ci % _CHECK_EVERY == 0:
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

    def instructions(self, span: CodeSpan) -> Iterator[Instruction]:
        """Decode every instruction of one method, payloads included."""
        for pos in instruction_starts(self.data, span.start, span.end):
            yield decode_at(self.data, pos, span.start, span.end)

    def find_sites(
        self, opcodes: frozenset[int], indices: Iterable[int], wide: bool = False, limit: int | None = None
    ) -> list[Site]:
        """Confirmed uses of any of ``indices`` by an instruction in ``opcodes``.

        ``wide`` selects a 32-bit index (const-string/jumbo) instead of 16-bit;
        ``limit`` stops after that many sites (the first ones in file order).
        """
        if not self.code_spans:
            return []
        lo, hi = self._code_area
        data = self.data
        sites: list[Site] = []
        for idx in indices:
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
                if candidates % _CHECK_EVERY == 0:
                    deadline.check()
                ins = pos - 2
                if not ins & 1 and data[ins] in opcodes:
                    span = self.span_at(ins)
                    if span is not None and ins in self._starts(span):
                        sites.append(Site(span, ins - span.start, data[ins], idx))
                        if limit is not None and len(sites) >= limit:
                            sites.sort(key=lambda s: (s.span.start, s.offset))
                            return sites
                pos = data.find(pat, pos + 1, hi)
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
