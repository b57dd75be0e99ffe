"""A method's try blocks and their catch handlers (``try_item`` and ``encoded_catch_handler``).

Read to disassemble a method (``smali``) and, in a scan, for the catch handlers of the methods the
data-flow check analyses (``control.catch_handlers``).
Bounded and tolerant: a table that runs off the file, or absurd counts, yields
the blocks read before the damage and ``damaged=True``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from appaudit.apk.dex.encoding import sleb128, uleb128
from appaudit.apk.dex.reader import CodeSpan, DexFile
from appaudit.errors import DexFormatError

#: Handlers read per try block (a javac method has a few; the format allows 2^31).
MAX_HANDLERS = 256


@dataclass(frozen=True, slots=True, kw_only=True)
class Handler:
    """One catch clause."""

    type_desc: str | None
    """The caught exception type; None for a catch-all (``.catchall``)."""
    offset: int
    """Byte offset of the handler's first instruction."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TryBlock:
    """A range of instructions covered by the same handlers."""

    start: int
    """Byte offset of the first covered instruction."""
    end: int
    """Byte offset one past the covered range."""
    handlers: tuple[Handler, ...]
    """Typed handlers in order, then the catch-all if any (the order the runtime tries them)."""


def read_tries(dex: DexFile, span: CodeSpan) -> tuple[tuple[TryBlock, ...], bool]:
    """(try blocks, damaged) of the code item whose instructions ``span`` covers."""
    data = dex.data
    code_off = span.start - 16
    blocks: list[TryBlock] = []
    try:
        (tries_size,) = struct.unpack_from("<H", data, code_off + 6)
        (insns_size,) = struct.unpack_from("<I", data, code_off + 12)
        if tries_size == 0:
            return (), False
        pos = span.start + 2 * insns_size + (2 if insns_size % 2 else 0)
        handlers_base = pos + 8 * tries_size
        if handlers_base > len(data):
            return (), True
        for k in range(tries_size):
            start, count, handler_off = struct.unpack_from("<IHH", data, pos + 8 * k)
            handlers = _handlers(dex, handlers_base + handler_off)
            blocks.append(TryBlock(start=2 * start, end=2 * (start + count), handlers=handlers))
    except (struct.error, DexFormatError):
        return tuple(blocks), True
    return tuple(blocks), False


def _handlers(dex: DexFile, pos: int) -> tuple[Handler, ...]:
    data = dex.data
    size, pos = sleb128(data, pos)
    if abs(size) > MAX_HANDLERS:
        raise DexFormatError(f"{dex.name}: catch handler at {pos:#x} lists {abs(size)} types")
    out: list[Handler] = []
    for _ in range(abs(size)):
        type_idx, pos = uleb128(data, pos)
        addr, pos = uleb128(data, pos)
        out.append(Handler(type_desc=dex.type_desc(type_idx), offset=2 * addr))
    if size <= 0:
        addr, pos = uleb128(data, pos)
        out.append(Handler(type_desc=None, offset=2 * addr))
    return tuple(out)
