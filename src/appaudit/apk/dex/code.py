"""Dalvik instruction walking and decoding, for the few methods a scan needs.

A method's ``insns`` array is walked by instruction length (``opcodes.LENGTHS``);
payload pseudo-instructions (packed-switch, sparse-switch and fill-array-data
tables, opcode byte 0x00 with an identifying high byte) are skipped by their own
size so that their data is never mistaken for code.

:func:`decode_method` reads each instruction once, straight into the
:class:`~appaudit.apk.dex.types.Insn` the analysis uses, its constant-pool reference
resolved: decoding is on the hot path of every chain search, so there is no
intermediate form (the smali view reads the same ``Insn``). Operands are read
by one small function per instruction format (``_FORMATS``).
"""

from __future__ import annotations

import struct
import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from appaudit.apk.dex.opcodes import LENGTHS, OPCODES
from appaudit.apk.dex.types import Insn, RefKind
from appaudit.errors import DexFormatError

if TYPE_CHECKING:
    from appaudit.apk.dex.reader import CodeSpan, DexFile

_U16 = struct.Struct("<H").unpack_from
_U32 = struct.Struct("<I").unpack_from
_I32 = struct.Struct("<i").unpack_from
_I16 = struct.Struct("<h").unpack_from
_I64 = struct.Struct("<q").unpack_from

_PAYLOAD_NAMES = {1: "packed-switch-payload", 2: "sparse-switch-payload", 3: "fill-array-data-payload"}


def payload_units(code: bytes | memoryview, pos: int, end: int) -> int:
    """Length in code units of the payload starting at ``pos``, or 1 if none is there."""
    ident = code[pos + 1]
    if pos + 8 > end and ident in (1, 2, 3):
        return max(1, (end - pos) // 2)
    if ident == 1:
        return int(_U16(code, pos + 2)[0]) * 2 + 4
    if ident == 2:
        return int(_U16(code, pos + 2)[0]) * 4 + 2
    if ident == 3:
        width = int(_U16(code, pos + 2)[0])
        size = int(_U32(code, pos + 4)[0])
        return (size * width + 1) // 2 + 4
    return 1


def instruction_starts(code: bytes | memoryview, start: int, end: int) -> Iterator[int]:
    """Yield the absolute byte position of every instruction in ``code[start:end]``."""
    pos = start
    lengths = LENGTHS
    while pos + 1 < end:
        op = code[pos]
        units = payload_units(code, pos, end) if op == 0 and code[pos + 1] != 0 else lengths[op]
        yield pos
        pos += units * 2


# ------------------------------------------------------------------ operands
#: What one format's reader returns: (registers, pool index, literal, target, second pool index).
_Operands = tuple[tuple[int, ...], int | None, int | None, int | None, int | None]
#: A format's reader: (code, position, high byte of the first unit, offset in the method) -> operands.
_Reader = Callable[[bytes, int, int, int], _Operands]
_NONE: _Operands = ((), None, None, None, None)


def _f10x(c: bytes, p: int, hi: int, rel: int) -> _Operands:
    return _NONE


def _f12x(c: bytes, p: int, hi: int, rel: int) -> _Operands:
    return (hi & 0xF, hi >> 4), None, None, None, None


def _f11n(c: bytes, p: int, hi: int, rel: int) -> _Operands:
    return (hi & 0xF,), None, ((hi >> 4) ^ 0x8) - 0x8, None, None


def _f11x(c: bytes, p: int, hi: int, rel: int) -> _Operands:
    return (hi,), None, None, None, None


def _f10t(c: bytes, p: int, hi: int, rel: int) -> _Operands:
    return (), None, None, rel + 2 * ((hi ^ 0x80) - 0x80), None


def _f20t(c: bytes, p: int, hi: int, rel: int) -> _Operands:
    return (), None, None, rel + 2 * _I16(c, p + 2)[0], None


def _f22x(c: bytes, p: int, hi: int, rel: int) -> _Operands:
    return (hi, _U16(c, p + 2)[0]), None, None, None, None


def _f21t(c: bytes, p: int, hi: int, rel: int) -> _Operands:
    return (hi,), None, None, rel + 2 * _I16(c, p + 2)[0], None


def _f21s(c: bytes, p: int, hi: int, rel: int) -> _Operands:
    return (hi,), None, _I16(c, p + 2)[0], None, None


def _f21h(c: bytes, p: int, hi: int, rel: int) -> _Operands:
    # const-wide/high16 (0x19) holds the top 16 of 64 bits, const/high16 the top 16 of 32
    return (hi,), None, _I16(c, p + 2)[0] << (48 if c[p] == 0x19 else 16), None, None


def _f21c(c: bytes, p: int, hi: int, rel: int) -> _Operands:
    return (hi,), _U16(c, p + 2)[0], None, None, None


def _f23x(c: bytes, p: int, hi: int, rel: int) -> _Operands:
    return (hi, c[p + 2], c[p + 3]), None, None, None, None


def _f22b(c: bytes, p: int, hi: int, rel: int) -> _Operands:
    return (hi, c[p + 2]), None, (c[p + 3] ^ 0x80) - 0x80, None, None


def _f22t(c: bytes, p: int, hi: int, rel: int) -> _Operands:
    return (hi & 0xF, hi >> 4), None, None, rel + 2 * _I16(c, p + 2)[0], None


def _f22s(c: bytes, p: int, hi: int, rel: int) -> _Operands:
    return (hi & 0xF, hi >> 4), None, _I16(c, p + 2)[0], None, None


def _f22c(c: bytes, p: int, hi: int, rel: int) -> _Operands:
    return (hi & 0xF, hi >> 4), _U16(c, p + 2)[0], None, None, None


def _f32x(c: bytes, p: int, hi: int, rel: int) -> _Operands:
    return (_U16(c, p + 2)[0], _U16(c, p + 4)[0]), None, None, None, None


def _f30t(c: bytes, p: int, hi: int, rel: int) -> _Operands:
    return (), None, None, rel + 2 * _I32(c, p + 2)[0], None


def _f31t(c: bytes, p: int, hi: int, rel: int) -> _Operands:
    return (hi,), None, None, rel + 2 * _I32(c, p + 2)[0], None


def _f31i(c: bytes, p: int, hi: int, rel: int) -> _Operands:
    return (hi,), None, _I32(c, p + 2)[0], None, None


def _f31c(c: bytes, p: int, hi: int, rel: int) -> _Operands:
    return (hi,), _U32(c, p + 2)[0], None, None, None


def _f35c(c: bytes, p: int, hi: int, rel: int) -> _Operands:
    cdef = _U16(c, p + 4)[0]
    regs = (cdef & 0xF, (cdef >> 4) & 0xF, (cdef >> 8) & 0xF, cdef >> 12, hi & 0xF)
    return regs[: hi >> 4], _U16(c, p + 2)[0], None, None, None


def _f45cc(c: bytes, p: int, hi: int, rel: int) -> _Operands:
    regs, index, _l, _t, _p = _f35c(c, p, hi, rel)
    return regs, index, None, None, _U16(c, p + 6)[0]


def _f3rc(c: bytes, p: int, hi: int, rel: int) -> _Operands:
    first = _U16(c, p + 4)[0]
    return tuple(range(first, first + hi)), _U16(c, p + 2)[0], None, None, None


def _f4rcc(c: bytes, p: int, hi: int, rel: int) -> _Operands:
    regs, index, _l, _t, _p = _f3rc(c, p, hi, rel)
    return regs, index, None, None, _U16(c, p + 6)[0]


def _f51l(c: bytes, p: int, hi: int, rel: int) -> _Operands:
    return (hi,), None, _I64(c, p + 2)[0], None, None


_FORMATS: dict[str, _Reader] = {
    "10x": _f10x,
    "12x": _f12x,
    "11n": _f11n,
    "11x": _f11x,
    "10t": _f10t,
    "20t": _f20t,
    "22x": _f22x,
    "21t": _f21t,
    "21s": _f21s,
    "21h": _f21h,
    "21c": _f21c,
    "23x": _f23x,
    "22b": _f22b,
    "22t": _f22t,
    "22s": _f22s,
    "22c": _f22c,
    "32x": _f32x,
    "30t": _f30t,
    "31t": _f31t,
    "31i": _f31i,
    "31c": _f31c,
    "35c": _f35c,
    "45cc": _f45cc,
    "3rc": _f3rc,
    "4rcc": _f4rcc,
    "51l": _f51l,
}
#: Per opcode byte: (mnemonic, length in code units, operand reader, index kind).
_TABLE: tuple[tuple[str, int, _Reader, str], ...] = tuple(
    (name, LENGTHS[op], _FORMATS[fmt], kind) for op, (name, fmt, kind) in enumerate(OPCODES)
)


#: Index kinds resolved into ``Insn.ref``, numbered for the per-DEX cache key (kind << 32 | index).
_KIND_IDS = {"METH": 1, "METH_PROTO": 1, "FIELD": 2, "STRING": 3, "TYPE": 4}

#: What an instruction's bytes decode to wherever it stands: (mnemonic, opcode, length, registers,
#: reference, reference kind, literal, branch target relative to the instruction, pool index, proto index).
_Form = tuple[str, int, int, tuple[int, ...], str | None, RefKind, int | None, int | None, int | None, int | None]


class _DexForms:
    """One DEX's decoded instruction forms by their bytes, and its resolved references by index.

    Decoding is on the hot path of every search, and the same instruction bytes recur across a
    DEX's methods (the same call, the same field read, ``return-void``): each is read and
    resolved once per DEX. Lives as long as its DEX (a weak reference, as ``structure.py``'s caches):
    its cost is one scan's distinct instructions (on the corpus, a batch worker's peak RSS went from
    81 to 89 MiB with this and the reader's index tables).
    """

    __slots__ = ("forms", "refs")

    def __init__(self) -> None:
        self.forms: dict[bytes, _Form] = {}
        self.refs: dict[int, tuple[str | None, RefKind]] = {}


_CACHES: weakref.WeakKeyDictionary[DexFile, _DexForms] = weakref.WeakKeyDictionary()


def _caches(dex: DexFile) -> _DexForms:
    cache = _CACHES.get(dex)
    if cache is None:
        cache = _CACHES[dex] = _DexForms()
    return cache


def _ref(dex: DexFile, kind: str, index: int) -> tuple[str | None, RefKind]:
    """(reference, its kind) of a pool index; (None, "") for kinds not resolved or an index out of range."""
    try:
        if kind in ("METH", "METH_PROTO"):
            return str(dex.method_ref(index)), "method"
        if kind == "FIELD":
            return str(dex.field_ref(index)), "field"
        if kind == "STRING":
            return dex.string(index), "string"
        if kind == "TYPE":
            return dex.type_desc(index), "type"
    except DexFormatError:
        pass
    return None, ""


def _resolved(
    dex: DexFile, refs: dict[int, tuple[str | None, RefKind]], kind: str, index: int
) -> tuple[str | None, RefKind]:
    """:func:`_ref`, once per (kind, index) of a DEX."""
    key = _KIND_IDS.get(kind, 0) << 32 | index
    found = refs.get(key)
    if found is None:
        found = refs[key] = _ref(dex, kind, index)
    return found


def _form(dex: DexFile, refs: dict[int, tuple[str | None, RefKind]], code: bytes, pos: int, rel: int) -> _Form:
    """The decoded form of the (whole) instruction at ``pos``, its branch target relative to it."""
    op = code[pos]
    name, units, read, kind = _TABLE[op]
    regs, index, literal, target, proto = read(code, pos, code[pos + 1], rel)
    ref, ref_kind = _resolved(dex, refs, kind, index) if index is not None else (None, "")
    return name, op, units, regs, ref, ref_kind, literal, None if target is None else target - rel, index, proto


# A frozen dataclass's __init__ sets each field through object.__setattr__ after parsing keywords
# (~1.5 µs for Insn's eleven); setting the slots directly makes the same object in ~0.9 µs, and a scan
# decodes hundreds of thousands of instructions. tests/test_dexfast_decode.py pins the equality.
_new = object.__new__


def _slot_setter(name: str) -> Callable[[Insn, object], None]:
    setter: Callable[[Insn, object], None] = getattr(Insn, name).__set__
    return setter


_set_offset = _slot_setter("offset")
_set_op = _slot_setter("op")
_set_opcode = _slot_setter("opcode")
_set_length = _slot_setter("length")
_set_regs = _slot_setter("regs")
_set_ref = _slot_setter("ref")
_set_ref_kind = _slot_setter("ref_kind")
_set_literal = _slot_setter("literal")
_set_target = _slot_setter("target")
_set_index = _slot_setter("index")
_set_proto_index = _slot_setter("proto_index")


def _insn(offset: int, form: _Form) -> Insn:
    """``Insn(offset=offset, ...)`` of ``form`` (its branch target made absolute)."""
    name, op, units, regs, ref, ref_kind, literal, target, index, proto = form
    insn: Insn = _new(Insn)
    _set_offset(insn, offset)
    _set_op(insn, name)
    _set_opcode(insn, op)
    _set_length(insn, units)
    _set_regs(insn, regs)
    _set_ref(insn, ref)
    _set_ref_kind(insn, ref_kind)
    _set_literal(insn, literal)
    _set_target(insn, None if target is None else offset + target)
    _set_index(insn, index)
    _set_proto_index(insn, proto)
    return insn


def decode_method(dex: DexFile, span: CodeSpan) -> tuple[Insn, ...]:
    """Every instruction of one method, payloads included, with its reference resolved.

    Offsets (of instructions and branch targets) are bytes from the start of the
    method's insns; an instruction that runs past the end of the method keeps
    only its mnemonic; a reference that cannot be resolved is left None.
    """
    code = dex.data
    start, end = span.start, span.end
    cache = _caches(dex)
    forms, refs = cache.forms, cache.refs
    lengths = LENGTHS
    out: list[Insn] = []
    append = out.append
    pos = start
    while pos + 1 < end:
        op = code[pos]
        rel = pos - start
        if op == 0 and code[pos + 1] != 0:
            hi = code[pos + 1]
            units = payload_units(code, pos, end)
            append(Insn(offset=rel, op=_PAYLOAD_NAMES.get(hi, "nop"), opcode=hi << 8, length=units))
            pos += units * 2
            continue
        nxt = pos + lengths[op] * 2
        if nxt > end:
            append(Insn(offset=rel, op=_TABLE[op][0], opcode=op, length=lengths[op]))
            break
        raw = code[pos:nxt]
        form = forms.get(raw)
        if form is None:
            form = forms[raw] = _form(dex, refs, code, pos, rel)
        append(_insn(rel, form))
        pos = nxt
    return tuple(out)
