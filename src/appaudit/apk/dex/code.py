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


def decode_method(dex: DexFile, span: CodeSpan) -> tuple[Insn, ...]:
    """Every instruction of one method, payloads included, with its reference resolved.

    Offsets (of instructions and branch targets) are bytes from the start of the
    method's insns; an instruction that runs past the end of the method keeps
    only its mnemonic; a reference that cannot be resolved is left None.
    """
    code = dex.data
    start, end = span.start, span.end
    table = _TABLE
    out: list[Insn] = []
    pos = start
    while pos + 1 < end:
        op = code[pos]
        hi = code[pos + 1]
        rel = pos - start
        if op == 0 and hi != 0:
            units = payload_units(code, pos, end)
            out.append(Insn(offset=rel, op=_PAYLOAD_NAMES.get(hi, "nop"), opcode=hi << 8, length=units))
            pos += units * 2
            continue
        name, units, read, kind = table[op]
        if pos + units * 2 > end:
            out.append(Insn(offset=rel, op=name, opcode=op, length=units))
            break
        regs, index, literal, target, proto = read(code, pos, hi, rel)
        ref, ref_kind = _ref(dex, kind, index) if index is not None else (None, "")
        out.append(
            Insn(
                offset=rel,
                op=name,
                opcode=op,
                length=units,
                regs=regs,
                ref=ref,
                ref_kind=ref_kind,
                literal=literal,
                target=target,
                index=index,
                proto_index=proto,
            )
        )
        pos += units * 2
    return tuple(out)
