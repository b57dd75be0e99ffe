"""Dalvik instruction walking and decoding, for the few methods a scan needs.

A method's ``insns`` array is walked by instruction length (``opcodes.LENGTHS``);
payload pseudo-instructions (packed-switch, sparse-switch and fill-array-data
tables, opcode byte 0x00 with an identifying high byte) are skipped by their own
size so that their data is never mistaken for code.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from appaudit.apk.dex.opcodes import LENGTHS, OPCODES

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_I16 = struct.Struct("<h")
_I64 = struct.Struct("<q")

PACKED_SWITCH_PAYLOAD = 0x0100
SPARSE_SWITCH_PAYLOAD = 0x0200
FILL_ARRAY_DATA_PAYLOAD = 0x0300
_PAYLOAD_NAMES = {1: "packed-switch-payload", 2: "sparse-switch-payload", 3: "fill-array-data-payload"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Instruction:
    """One decoded Dalvik instruction."""

    offset: int
    """Byte offset from the start of the method's insns array."""
    opcode: int
    """Opcode byte; payloads are reported as 0x0100, 0x0200 or 0x0300."""
    name: str
    """Mnemonic, e.g. ``invoke-virtual/range``; payloads get ``*-payload``."""
    length: int
    """Length in 16-bit code units."""
    registers: tuple[int, ...] = ()
    """Register operands in order (for /range forms: every register of the range)."""
    index: int | None = None
    """Constant-pool index (string, type, field, method, proto or call site)."""
    literal: int | None = None
    """Literal operand of const*, */lit and similar."""
    target: int | None = None
    """Branch or payload target, as a byte offset from the start of insns."""
    proto_index: int | None = None
    """Second index of invoke-polymorphic (a proto)."""


def payload_units(code: bytes | memoryview, pos: int, end: int) -> int:
    """Length in code units of the payload starting at ``pos``, or 1 if none is there."""
    ident = code[pos + 1]
    if pos + 8 > end and ident in (1, 2, 3):
        return max(1, (end - pos) // 2)
    if ident == 1:
        return int(_U16.unpack_from(code, pos + 2)[0]) * 2 + 4
    if ident == 2:
        return int(_U16.unpack_from(code, pos + 2)[0]) * 4 + 2
    if ident == 3:
        width = int(_U16.unpack_from(code, pos + 2)[0])
        size = int(_U32.unpack_from(code, pos + 4)[0])
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


def decode_at(code: bytes | memoryview, pos: int, base: int, end: int) -> Instruction:
    """Decode the instruction at absolute position ``pos``; offsets are relative to ``base``."""
    op = code[pos]
    hi = code[pos + 1]
    rel = pos - base
    if op == 0 and hi != 0:
        units = payload_units(code, pos, end)
        return Instruction(offset=rel, opcode=hi << 8, name=_PAYLOAD_NAMES.get(hi, "nop"), length=units)
    name, fmt, _kind = OPCODES[op]
    length = LENGTHS[op]
    if pos + length * 2 > end:
        return Instruction(offset=rel, opcode=op, name=name, length=length)

    def u16(k: int) -> int:
        return int(_U16.unpack_from(code, pos + 2 * k)[0])

    def s16(k: int) -> int:
        return int(_I16.unpack_from(code, pos + 2 * k)[0])

    def s32(k: int) -> int:
        return int(_I32.unpack_from(code, pos + 2 * k)[0])

    a4, b4 = hi & 0xF, hi >> 4
    regs: tuple[int, ...] = ()
    index = literal = target = proto = None
    if fmt == "12x":
        regs = (a4, b4)
    elif fmt == "11n":
        regs, literal = (a4,), (b4 ^ 0x8) - 0x8
    elif fmt == "11x":
        regs = (hi,)
    elif fmt == "10t":
        target = rel + 2 * ((hi ^ 0x80) - 0x80)
    elif fmt == "20t":
        target = rel + 2 * s16(1)
    elif fmt == "22x":
        regs = (hi, u16(1))
    elif fmt == "21t":
        regs, target = (hi,), rel + 2 * s16(1)
    elif fmt == "21s":
        regs, literal = (hi,), s16(1)
    elif fmt == "21h":
        regs = (hi,)
        literal = s16(1) << (48 if op == 0x19 else 16)
    elif fmt == "21c":
        regs, index = (hi,), u16(1)
    elif fmt == "23x":
        regs = (hi, code[pos + 2], code[pos + 3])
    elif fmt == "22b":
        regs, literal = (hi, code[pos + 2]), (code[pos + 3] ^ 0x80) - 0x80
    elif fmt == "22t":
        regs, target = (a4, b4), rel + 2 * s16(1)
    elif fmt == "22s":
        regs, literal = (a4, b4), s16(1)
    elif fmt == "22c":
        regs, index = (a4, b4), u16(1)
    elif fmt == "32x":
        regs = (u16(1), u16(2))
    elif fmt == "30t":
        target = rel + 2 * s32(1)
    elif fmt == "31t":
        regs, target = (hi,), rel + 2 * s32(1)
    elif fmt == "31i":
        regs, literal = (hi,), s32(1)
    elif fmt == "31c":
        regs, index = (hi,), int(_U32.unpack_from(code, pos + 2)[0])
    elif fmt in ("35c", "45cc"):
        count, g = b4, a4
        cdef = u16(2)
        all_regs = (cdef & 0xF, (cdef >> 4) & 0xF, (cdef >> 8) & 0xF, cdef >> 12, g)
        regs, index = all_regs[:count], u16(1)
        if fmt == "45cc":
            proto = u16(3)
    elif fmt in ("3rc", "4rcc"):
        first = u16(2)
        regs, index = tuple(range(first, first + hi)), u16(1)
        if fmt == "4rcc":
            proto = u16(3)
    elif fmt == "51l":
        regs, literal = (hi,), int(_I64.unpack_from(code, pos + 2)[0])
    return Instruction(
        offset=rel,
        opcode=op,
        name=name,
        length=length,
        registers=regs,
        index=index,
        literal=literal,
        target=target,
        proto_index=proto,
    )
