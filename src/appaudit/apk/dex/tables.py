"""A DEX file's id tables: strings, types, prototypes, fields, methods and class definitions.

Read as flat arrays straight from the file's bytes (no per-item objects);
an item is decoded when it is first asked for and cached. Lookups by name
(``find_string``, ``find_type``, ``find_methods``, ``find_fields``) are binary
searches, since the format sorts every id table.

Reference: https://source.android.com/docs/core/runtime/dex-format
"""

from __future__ import annotations

import bisect
import re
import struct
from array import array
from dataclasses import dataclass
from functools import cached_property

from appaudit import deadline
from appaudit.apk.dex.encoding import decode_mutf8, uleb128
from appaudit.errors import DexFormatError

_HEADER = struct.Struct("<8sI20s20I")
_ENDIAN_CONSTANT = 0x12345678
NO_INDEX = 0xFFFFFFFF
#: Entries in one type_list: a Java class has at most 65,535 interfaces, a method 255 parameters.
MAX_TYPE_LIST = 0xFFFF
#: Search candidates, regex matches or classes read between two checks of the scan's time cap.
CHECK_EVERY = 256


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


def _utf16_key(text: str) -> bytes:
    return text.encode("utf-16-be", "surrogatepass")


class DexTables:
    """The id tables of one DEX file, read lazily; DexFormatError when the header is not a DEX's."""

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
        self._strings: dict[int, str] = {}
        self._protos: dict[int, str] = {}
        self._type_lists: dict[int, tuple[str, ...]] = {}
        self._method_refs: dict[int, MethodRef] = {}
        self._found: dict[str, int | None] = {}
        self._sort_keys: dict[int, bytes] = {}

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
            _utf16_len, pos = uleb128(self.data, off)
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
        if text in self._found:  # a scan asks for the same class and method names again and again
            return self._found[text]
        n = self.string_ids_size
        lo = bisect.bisect_left(range(n), _utf16_key(text), key=self._sort_key)
        found = lo if lo < n and self.string(lo) == text else None
        self._found[text] = found
        return found

    def _sort_key(self, idx: int) -> bytes:
        # Cached: every binary search of the table passes the same first pivots.
        key = self._sort_keys.get(idx)
        if key is None:
            try:
                key = _utf16_key(self.string(idx))
            except DexFormatError:
                key = b""
            self._sort_keys[idx] = key
        return key

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
        for n, m in enumerate(pattern.finditer(data, lo, self._string_data_end)):
            if n % CHECK_EVERY == 0:
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
        return sorted(zip(self._string_offs, range(len(self._string_offs)), strict=True))

    @cached_property
    def _string_data_end(self) -> int:
        """A position no string's bytes run past: the first NUL from 5 bytes (the longest ULEB128 length)
        after the last string's offset. d8 writes the code after the string data, so a search of the
        strings stops here rather than at the end of the file."""
        offs = self._sorted_string_offsets
        if not offs:
            return len(self.data)
        nul = self.data.find(b"\x00", offs[-1][0] + 5)
        return nul + 1 if nul >= 0 else len(self.data)

    # ------------------------------------------------------------------ classes

    @cached_property
    def class_defs(self) -> tuple[ClassDef, ...]:
        """Every class defined in this DEX, in file order."""
        table = self.data[self.class_defs_off : self.class_defs_off + 32 * self.class_defs_size]
        return tuple(ClassDef(*vals) for vals in struct.iter_unpack("<8I", table))
