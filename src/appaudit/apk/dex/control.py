"""The control edges a method's instructions do not carry themselves: switch cases and catch handlers.

A ``packed-switch``/``sparse-switch`` names its cases in a payload table, and a
catch handler is entered from any instruction of the try blocks it covers
(``tries.read_tries``). The data-flow check (``analysis/taint.py``) needs both
to give a case or a handler the state of the code that reaches it, rather than
everything seen in the method. Bounded like the payload reader of the smali
view: a table that runs off its payload is read as far as it goes.
"""

from __future__ import annotations

import struct

from appaudit.apk.dex.reader import CodeSpan, DexFile
from appaudit.apk.dex.tries import read_tries
from appaudit.apk.dex.types import Insn

#: Switch opcodes (``packed-switch``, ``sparse-switch``) and the payload idents they point at.
_SWITCHES = (0x2B, 0x2C)
_PACKED, _SPARSE = 0x0100, 0x0200


def switch_cases(dex: DexFile, span: CodeSpan, insns: tuple[Insn, ...]) -> tuple[tuple[int, int], ...]:
    """(switch offset, case offset) for every case of every switch in the method (byte offsets)."""
    payloads = {ins.offset: ins for ins in insns if ins.opcode in (_PACKED, _SPARSE)}
    data = dex.data
    out: list[tuple[int, int]] = []
    for ins in insns:
        if ins.opcode not in _SWITCHES or ins.target is None or ins.target not in payloads:
            continue
        payload = payloads[ins.target]
        pos = span.start + payload.offset
        room = 2 * payload.length
        try:
            (size,) = struct.unpack_from("<H", data, pos + 2)
            first = 8 if payload.opcode == _PACKED else 4 + 4 * size
            size = min(size, max(0, (room - first) // 4))
            rel = struct.unpack_from(f"<{size}i", data, pos + first)
        except struct.error:
            continue
        out.extend((ins.offset, ins.offset + 2 * r) for r in rel)
    return tuple(out)


def catch_handlers(dex: DexFile, span: CodeSpan) -> tuple[tuple[int, int, int], ...]:
    """(try start, try end, handler offset) for every handler of every try block (byte offsets)."""
    blocks, _damaged = read_tries(dex, span)
    return tuple((b.start, b.end, h.offset) for b in blocks for h in b.handlers)
