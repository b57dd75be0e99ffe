"""Source positions from a method's ``debug_info_item`` and a class's ``source_file_idx``.

The line-number program is a small state machine (address, line, source file)
driven by one-byte opcodes with LEB128 operands; it also records where locals
start and end and where the prologue ends and the epilogue begins. It is read
only on request (``appaudit show``, excerpts); a scan never decodes it.

Hostile input: every read is bounded by the file, the number of opcodes read is
capped (:data:`MAX_DEBUG_OPS`), addresses past the method's code end the program
(a valid program never goes there), and a program that runs off the file or
names a string that does not exist keeps what was decoded before it and says so
(``DebugInfo.damaged``). Nothing here raises on bad bytes.

Reference: https://source.android.com/docs/core/runtime/dex-format#debug-info-item
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from appaudit.apk.dex.encoding import sleb128, uleb128
from appaudit.apk.dex.reader import CodeSpan, DexFile
from appaudit.apk.dex.tables import NO_INDEX
from appaudit.errors import DexFormatError

DBG_END_SEQUENCE = 0x00
DBG_ADVANCE_PC = 0x01
DBG_ADVANCE_LINE = 0x02
DBG_START_LOCAL = 0x03
DBG_START_LOCAL_EXTENDED = 0x04
DBG_END_LOCAL = 0x05
DBG_RESTART_LOCAL = 0x06
DBG_SET_PROLOGUE_END = 0x07
DBG_SET_EPILOGUE_BEGIN = 0x08
DBG_SET_FILE = 0x09
DBG_FIRST_SPECIAL = 0x0A
DBG_LINE_BASE = -4
DBG_LINE_RANGE = 15

#: Opcodes read from one method's line-number program before it is cut short (and marked damaged).
#: d8 emits about one opcode per instruction; a method's code has at most 65,535 code units of
#: instructions in practice, so a longer program is hostile.
MAX_DEBUG_OPS = 100_000
#: Parameter names read from the program's header (a Java method has at most 255 parameters).
MAX_PARAMETERS = 255


@dataclass(frozen=True, slots=True, kw_only=True)
class DebugEvent:
    """One entry of the decoded program, at a code address."""

    offset: int
    """Byte offset from the start of the method's insns (the DEX counts code units: this is twice that)."""
    kind: str
    """``line``, ``start_local``, ``end_local``, ``restart_local``, ``prologue_end``, ``epilogue_begin`` or
    ``source_file``."""
    line: int | None = None
    """The source line (``line`` entries)."""
    register: int | None = None
    """The register (local entries)."""
    name: str | None = None
    """Local name (``start_local``) or file name (``source_file``); None when the DEX gives none."""
    type_desc: str | None = None
    """Local's type descriptor (``start_local``)."""
    signature: str | None = None
    """Local's generic signature (``start_local`` from DBG_START_LOCAL_EXTENDED)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DebugInfo:
    """A method's decoded debug information."""

    line_start: int
    """The line register's initial value."""
    parameter_names: tuple[str | None, ...]
    """Names of the declared parameters (``this`` excluded), None where the DEX gives none."""
    events: tuple[DebugEvent, ...]
    """Every entry in program order."""
    damaged: bool = False
    """The program was cut short: it ran off the file, named a missing string, went past the
    method's code or exceeded :data:`MAX_DEBUG_OPS`."""

    @property
    def positions(self) -> tuple[tuple[int, int], ...]:
        """(byte offset, line) of every position entry, in program order (dexdump's ``positions``)."""
        return tuple((e.offset, e.line) for e in self.events if e.kind == "line" and e.line is not None)

    def line_at(self, offset: int) -> int | None:
        """The source line of the instruction at byte ``offset``: that of the last position at or before it.

        None before the first position, or when that line is not a plausible line number (< 1).
        """
        line = None
        for at, value in self.positions:
            if at > offset:
                break
            line = value
        return line if line is not None and line > 0 else None

    def source_file_at(self, offset: int, default: str | None) -> str | None:
        """The source file in force at byte ``offset``: ``default`` (the class's) unless a DBG_SET_FILE came first."""
        current = default
        for e in self.events:
            if e.offset > offset:
                break
            if e.kind == "source_file":
                current = e.name
        return current


def debug_info_offset(dex: DexFile, span: CodeSpan) -> int:
    """The ``debug_info_off`` of the code item whose instructions ``span`` covers (0: none)."""
    # The insns array starts 16 bytes into its code_item; debug_info_off is the u32 at byte 8.
    try:
        (off,) = struct.unpack_from("<I", dex.data, span.start - 8)
    except struct.error:
        return 0
    return int(off)


def class_source_file(dex: DexFile, class_def_idx: int) -> str | None:
    """The class's ``.source`` file name, None when the DEX keeps none (or names a missing string)."""
    if not 0 <= class_def_idx < len(dex.class_defs):
        return None
    idx = dex.class_defs[class_def_idx].source_file_idx
    if idx == NO_INDEX:
        return None
    try:
        return dex.string(idx)
    except DexFormatError:
        return None


def _string_or_none(dex: DexFile, idx_p1: int) -> str | None:
    """A ``uleb128p1`` string index: 0 means none."""
    if idx_p1 == 0:
        return None
    return dex.string(idx_p1 - 1)


def _type_or_none(dex: DexFile, idx_p1: int) -> str | None:
    if idx_p1 == 0:
        return None
    return dex.type_desc(idx_p1 - 1)


def read_debug_info(dex: DexFile, span: CodeSpan) -> DebugInfo | None:
    """The decoded debug information of the method whose code ``span`` covers, None when it has none."""
    off = debug_info_offset(dex, span)
    if off == 0 or off >= len(dex.data):
        return None
    data = dex.data
    code_bytes = span.end - span.start
    events: list[DebugEvent] = []
    names: list[str | None] = []
    line_start = 0
    damaged = False
    try:
        line_start, pos = uleb128(data, off)
        n_params, pos = uleb128(data, pos)
        for _ in range(min(n_params, MAX_PARAMETERS)):
            idx, pos = uleb128(data, pos)
            names.append(_string_or_none(dex, idx))
        damaged = n_params > MAX_PARAMETERS
        damaged |= _run_program(dex, pos, line_start, code_bytes, events)
    except DexFormatError:
        damaged = True
    return DebugInfo(line_start=line_start, parameter_names=tuple(names), events=tuple(events), damaged=damaged)


def _start_local(dex: DexFile, pos: int, at: int, *, extended: bool) -> tuple[DebugEvent, int]:
    """Decode a start-local operand list at ``pos``: the event and the position after it.

    The extended form carries a signature index too; the plain form leaves it 0 (no signature)."""
    data = dex.data
    reg, pos = uleb128(data, pos)
    name_idx, pos = uleb128(data, pos)
    type_idx, pos = uleb128(data, pos)
    sig_idx = 0
    if extended:
        sig_idx, pos = uleb128(data, pos)
    event = DebugEvent(
        offset=at,
        kind="start_local",
        register=reg,
        name=_string_or_none(dex, name_idx),
        type_desc=_type_or_none(dex, type_idx),
        signature=_string_or_none(dex, sig_idx),
    )
    return event, pos


def _run_program(dex: DexFile, pos: int, line: int, code_bytes: int, events: list[DebugEvent]) -> bool:
    """Run the program from ``pos`` appending to ``events``; True when it had to be cut short."""
    data = dex.data
    size = len(data)
    address = 0  # in code units, as the DEX counts
    for _ in range(MAX_DEBUG_OPS):
        if pos >= size:
            return True
        op = data[pos]
        pos += 1
        at = address * 2
        if op == DBG_END_SEQUENCE:
            return False
        if op == DBG_ADVANCE_PC:
            step, pos = uleb128(data, pos)
            address += step
        elif op == DBG_ADVANCE_LINE:
            step, pos = sleb128(data, pos)
            line += step
        elif op in (DBG_START_LOCAL, DBG_START_LOCAL_EXTENDED):
            event, pos = _start_local(dex, pos, at, extended=op == DBG_START_LOCAL_EXTENDED)
            events.append(event)
        elif op in (DBG_END_LOCAL, DBG_RESTART_LOCAL):
            reg, pos = uleb128(data, pos)
            kind = "end_local" if op == DBG_END_LOCAL else "restart_local"
            events.append(DebugEvent(offset=at, kind=kind, register=reg))
        elif op == DBG_SET_PROLOGUE_END:
            events.append(DebugEvent(offset=at, kind="prologue_end"))
        elif op == DBG_SET_EPILOGUE_BEGIN:
            events.append(DebugEvent(offset=at, kind="epilogue_begin"))
        elif op == DBG_SET_FILE:
            name_idx, pos = uleb128(data, pos)
            events.append(DebugEvent(offset=at, kind="source_file", name=_string_or_none(dex, name_idx)))
        else:  # a special opcode: advance both registers and emit a position
            adjusted = op - DBG_FIRST_SPECIAL
            line += DBG_LINE_BASE + adjusted % DBG_LINE_RANGE
            address += adjusted // DBG_LINE_RANGE
            events.append(DebugEvent(offset=address * 2, kind="line", line=line))
        if address * 2 > code_bytes:  # past the method's code: not a program d8 or dx writes
            return True
    return True
