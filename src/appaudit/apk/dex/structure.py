"""Class structure on demand: a class's methods, its code item, its supertypes, annotations.

Everything here is read lazily for the few classes a chain search visits.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from appaudit.apk.dex.reader import ClassDef, CodeSpan, DexFile, _uleb128, class_data_methods

ACC_STATIC = 0x8
ACC_ABSTRACT = 0x400
ACC_INTERFACE = 0x200


@dataclass(frozen=True, slots=True)
class MethodEntry:
    """A method defined by a class (from class_data)."""

    method_idx: int
    access_flags: int
    span: CodeSpan | None
    """None for abstract and native methods."""
    registers_size: int
    ins_size: int


def _class_index(dex: DexFile) -> dict[int, int]:
    # Cached on the DexFile itself, so the cache dies with it (a module-level
    # cache keyed by DexFile kept every scanned APK alive in long-lived workers).
    index: dict[int, int] | None = dex.structure_cache.get("class_index")  # type: ignore[assignment]
    if index is None:
        index = {cdef.class_idx: i for i, cdef in enumerate(dex.class_defs)}
        dex.structure_cache["class_index"] = index
    return index


def class_def_index(dex: DexFile, class_desc: str) -> int | None:
    """Index into ``dex.class_defs`` of the class ``class_desc`` if this DEX defines it."""
    tidx = dex.find_type(class_desc)
    if tidx is None:
        return None
    return _class_index(dex).get(tidx)


def class_methods(dex: DexFile, ci: int) -> tuple[MethodEntry, ...]:
    """Every method class ``ci`` defines, direct then virtual (cached on the DexFile)."""
    key = ("methods", ci)
    cached: tuple[MethodEntry, ...] | None = dex.structure_cache.get(key)  # type: ignore[assignment]
    if cached is None:
        cached = _class_methods(dex, ci)
        dex.structure_cache[key] = cached
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
        for midx, acc, code_off in class_data_methods(data, off):
            span = None
            regs = ins = 0
            if code_off and code_off + 16 <= size:
                regs, ins, _outs, _tries, _dbg, n_units = struct.unpack_from("<HHHHII", data, code_off)
                start = code_off + 16
                span = CodeSpan(start, min(start + 2 * n_units, size), midx, ci)
            out.append(MethodEntry(midx, acc, span, regs, ins))
    except (IndexError, struct.error):
        pass
    return tuple(out)


def supertypes(dex: DexFile, ci: int) -> tuple[str | None, tuple[str, ...]]:
    """(superclass descriptor, interface descriptors) of class ``ci``."""
    cdef = dex.class_defs[ci]
    sup = dex.type_desc(cdef.superclass_idx) if cdef.superclass_idx != 0xFFFFFFFF else None
    return sup, tuple(dex.type_list(cdef.interfaces_off))


def _read_encoded_value(dex: DexFile, pos: int) -> tuple[object, int]:
    data = dex.data
    head = data[pos]
    pos += 1
    vtype, varg = head & 0x1F, head >> 5
    if vtype == 0x1C:  # array
        n, pos = _uleb128(data, pos)
        items = []
        for _ in range(n):
            item, pos = _read_encoded_value(dex, pos)
            items.append(item)
        return items, pos
    if vtype == 0x1D:  # nested annotation
        _t, pos = _uleb128(data, pos)
        n, pos = _uleb128(data, pos)
        for _ in range(n):
            _name, pos = _uleb128(data, pos)
            _v, pos = _read_encoded_value(dex, pos)
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
    """method_idx -> [(annotation type, {element: value})] for class ``ci`` (strings and ints only)."""
    cdef = dex.class_defs[ci]
    off = cdef.annotations_off
    out: dict[int, list[tuple[str, dict[str, object]]]] = {}
    if off == 0:
        return out
    data = dex.data
    try:
        _class_ann, n_fields, n_methods, _n_params = struct.unpack_from("<IIII", data, off)
        pos = off + 16 + 8 * n_fields
        for _ in range(n_methods):
            midx, set_off = struct.unpack_from("<II", data, pos)
            pos += 8
            (count,) = struct.unpack_from("<I", data, set_off)
            anns = []
            for k in range(count):
                (item_off,) = struct.unpack_from("<I", data, set_off + 4 + 4 * k)
                p = item_off + 1  # skip visibility
                tidx, p = _uleb128(data, p)
                n, p = _uleb128(data, p)
                elements: dict[str, object] = {}
                for _ in range(n):
                    name_idx, p = _uleb128(data, p)
                    value, p = _read_encoded_value(dex, p)
                    elements[dex.string(name_idx)] = value
                anns.append((dex.type_desc(tidx), elements))
            out[midx] = anns
    except (IndexError, struct.error, ValueError):
        pass
    return out
