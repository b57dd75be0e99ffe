"""Class structure on demand: a class's methods, its code item, its supertypes, annotations.

Everything here is read lazily for the few classes a chain search visits.
"""

from __future__ import annotations

import struct
import weakref
from dataclasses import dataclass

from appaudit.apk.dex.encoding import class_data_methods, uleb128
from appaudit.apk.dex.reader import CodeSpan, DexFile
from appaudit.apk.dex.tables import ClassDef
from appaudit.errors import DexFormatError

ACC_STATIC = 0x8
ACC_NATIVE = 0x100
#: Nesting of encoded arrays and annotations inside an annotation value (javac never nests deeply).
MAX_VALUE_DEPTH = 16


@dataclass(frozen=True, slots=True)
class MethodEntry:
    """A method defined by a class (from class_data)."""

    method_idx: int
    access_flags: int
    span: CodeSpan | None
    """None for abstract and native methods."""
    registers_size: int
    ins_size: int


# Per-DEX caches that go away with the DexFile (a module-level lru_cache would keep
# every scanned DEX alive).
_CLASS_INDEX: weakref.WeakKeyDictionary[DexFile, dict[int, int]] = weakref.WeakKeyDictionary()
_METHODS: weakref.WeakKeyDictionary[DexFile, dict[int, tuple[MethodEntry, ...]]] = weakref.WeakKeyDictionary()
_ANNOTATIONS: weakref.WeakKeyDictionary[DexFile, dict[int, dict[int, list[tuple[str, dict[str, object]]]]]] = (
    weakref.WeakKeyDictionary()
)


def _class_index(dex: DexFile) -> dict[int, int]:
    table = _CLASS_INDEX.get(dex)
    if table is None:
        table = {}
        for i, cdef in enumerate(dex.class_defs):
            table.setdefault(cdef.class_idx, i)
        _CLASS_INDEX[dex] = table
    return table


def class_def_index(dex: DexFile, class_desc: str) -> int | None:
    """Index into ``dex.class_defs`` of the class ``class_desc`` if this DEX defines it."""
    tidx = dex.find_type(class_desc)
    if tidx is None:
        return None
    return _class_index(dex).get(tidx)


def class_methods(dex: DexFile, ci: int) -> tuple[MethodEntry, ...]:
    """Every method class ``ci`` defines, direct then virtual (those before any damage in its class data)."""
    cache = _METHODS.setdefault(dex, {})
    cached = cache.get(ci)
    if cached is None:
        cached = cache[ci] = _class_methods(dex, ci)
    return cached


def _class_methods(dex: DexFile, ci: int) -> tuple[MethodEntry, ...]:
    cdef: ClassDef = dex.class_defs[ci]
    off = cdef.class_data_off
    if off == 0:
        return ()
    data = dex.data
    size = len(data)
    out: list[MethodEntry] = []
    try:
        for midx, acc, code_off in class_data_methods(data, off, [size]):
            span = None
            regs = ins = 0
            if code_off and code_off + 16 <= size:
                regs, ins, _outs, _tries, _dbg, n_units = struct.unpack_from("<HHHHII", data, code_off)
                start = code_off + 16
                span = CodeSpan(start, min(start + 2 * n_units, size), midx, ci)
            out.append(MethodEntry(midx, acc, span, regs, ins))
    except (DexFormatError, struct.error):
        pass
    return tuple(out)


def native_method_ids(dex: DexFile) -> list[tuple[int, list[int]]]:
    """(class index, method_idx of each ``native`` method it defines) for every class with any: the
    methods :func:`class_methods` would list with ``ACC_NATIVE``, read without making an entry per method."""
    data = dex.data
    size = len(data)
    out: list[tuple[int, list[int]]] = []
    for ci, cdef in enumerate(dex.class_defs):
        if cdef.class_data_off == 0:
            continue
        native: list[int] = []
        try:
            for midx, acc, _code_off in class_data_methods(data, cdef.class_data_off, [size]):
                if acc & ACC_NATIVE:
                    native.append(midx)
        except (DexFormatError, struct.error):
            pass
        if native:
            out.append((ci, native))
    return out


def supertypes(dex: DexFile, ci: int) -> tuple[str | None, tuple[str, ...]]:
    """(superclass descriptor, interface descriptors) of class ``ci``."""
    cdef = dex.class_defs[ci]
    sup = dex.type_desc(cdef.superclass_idx) if cdef.superclass_idx != 0xFFFFFFFF else None
    return sup, tuple(dex.type_list(cdef.interfaces_off))


def _read_encoded_value(dex: DexFile, pos: int, depth: int = 0) -> tuple[object, int]:
    data = dex.data
    if pos >= len(data):
        raise DexFormatError(f"{dex.name}: encoded value at {pos:#x} outside the file")
    if depth > MAX_VALUE_DEPTH:
        raise DexFormatError(f"{dex.name}: encoded value at {pos:#x} nested more than {MAX_VALUE_DEPTH} deep")
    head = data[pos]
    pos += 1
    vtype, varg = head & 0x1F, head >> 5
    if vtype == 0x1C:  # array
        n, pos = uleb128(data, pos)
        if n > len(data) - pos:
            raise DexFormatError(f"{dex.name}: encoded array at {pos:#x} longer than the file")
        items = []
        for _ in range(n):
            item, pos = _read_encoded_value(dex, pos, depth + 1)
            items.append(item)
        return items, pos
    if vtype == 0x1D:  # nested annotation
        _t, pos = uleb128(data, pos)
        n, pos = uleb128(data, pos)
        if n > len(data) - pos:
            raise DexFormatError(f"{dex.name}: encoded annotation at {pos:#x} longer than the file")
        for _ in range(n):
            _name, pos = uleb128(data, pos)
            _v, pos = _read_encoded_value(dex, pos, depth + 1)
        return None, pos
    if vtype in (0x1E, 0x1F):  # null, boolean
        return (varg == 1 if vtype == 0x1F else None), pos
    width = varg + 1
    raw = int.from_bytes(data[pos : pos + width], "little")
    pos += width
    if vtype == 0x17:  # string
        return dex.string(raw), pos
    return raw, pos


def method_annotations(dex: DexFile, ci: int) -> dict[int, list[tuple[str, dict[str, object]]]]:
    """method_idx -> [(annotation type, {element: value})] for class ``ci`` (strings and ints only; cached)."""
    cache = _ANNOTATIONS.setdefault(dex, {})
    cached = cache.get(ci)
    if cached is None:
        cached = cache[ci] = _method_annotations(dex, ci)
    return cached


def _method_annotations(dex: DexFile, ci: int) -> dict[int, list[tuple[str, dict[str, object]]]]:
    cdef = dex.class_defs[ci]
    off = cdef.annotations_off
    out: dict[int, list[tuple[str, dict[str, object]]]] = {}
    if off == 0:
        return out
    data = dex.data
    size = len(data)
    work = 0  # annotation items and elements read: more than the file can hold means a loop of offsets
    try:
        _class_ann, n_fields, n_methods, _n_params = struct.unpack_from("<IIII", data, off)
        pos = off + 16 + 8 * n_fields
        if pos + 8 * n_methods > size:
            return out
        for _ in range(n_methods):
            midx, set_off = struct.unpack_from("<II", data, pos)
            pos += 8
            (count,) = struct.unpack_from("<I", data, set_off)
            if set_off + 4 + 4 * count > size:
                continue
            anns = []
            for k in range(count):
                (item_off,) = struct.unpack_from("<I", data, set_off + 4 + 4 * k)
                p = item_off + 1  # skip visibility
                tidx, p = uleb128(data, p)
                n, p = uleb128(data, p)
                work += 1 + n
                if work > size:
                    raise DexFormatError(f"{dex.name}: annotations of class #{ci} read more items than the file holds")
                elements: dict[str, object] = {}
                for _ in range(n):
                    name_idx, p = uleb128(data, p)
                    value, p = _read_encoded_value(dex, p)
                    elements[dex.string(name_idx)] = value
                anns.append((dex.type_desc(tidx), elements))
            out[midx] = anns
    except (DexFormatError, struct.error):
        pass
    return out
