"""One method's instructions in smali, the notation baksmali and apktool print.

The output follows baksmali 2.5 with its default options (``p`` registers for
the parameters, labels named by kind and code-unit address such as
``:cond_2a``, debug directives ``.line``/``.local``/...): a reader can search
baksmali's or apktool's output for any line shown here, and a test checks the
fixtures line by line against baksmali. Beyond baksmali: every line carries the
byte offset it stands at, and ``# ...`` comments name constants the formatter
could resolve (the string an ``invoke`` argument register holds) plus any note
the caller adds (e.g. the URI a read resolves to).

Known differences, kept on purpose: ``invoke-custom`` and ``const-method-handle``
name their call site or handle by index (``call_site_0``, ``method_handle_0``)
instead of spelling it out; a reference the DEX cannot resolve is printed
dexdump-style (``string@1234``) instead of failing; baksmali 2.5.2 prints
``.prologue`` for DBG_SET_EPILOGUE_BEGIN, this prints ``.epilogue``.

Nothing here runs during a scan: it is for ``appaudit show`` and excerpts.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from appaudit.apk.dex.code import decode_method
from appaudit.apk.dex.debuginfo import DebugEvent, DebugInfo, read_debug_info
from appaudit.apk.dex.reader import CodeSpan, DexFile
from appaudit.apk.dex.smali_text import Registers, escape_string, format_instruction, local_text, method_header
from appaudit.apk.dex.structure import MethodEntry
from appaudit.apk.dex.tries import TryBlock, read_tries
from appaudit.apk.dex.types import Insn, SmaliLine
from appaudit.errors import DexFormatError

#: Instructions decoded per method; a longer method is shown up to here (``Disassembly.truncated``).
#: javac and d8 keep a method under 64 KiB of code, i.e. at most 32,768 instructions.
MAX_METHOD_INSTRUCTIONS = 40_000
# Sort order of what baksmali prints at one address (lower first): debug directives, labels,
# the instruction, then what closes a try block after its last instruction.
_ORDER = {
    "prologue_end": -4,
    "epilogue_begin": -4,
    "source_file": -3,
    "line": -2,
    "local": -1,
    "label": 0,
    "insn": 100,
    "try_end": 101,
    "catch": 102,
}
# Instructions whose first register is only read, never written (so a known constant survives).
_READS_FIRST = frozenset(
    (
        *range(0x0F, 0x12),  # return*
        0x1D,
        0x1E,  # monitor-*
        0x1F,  # check-cast keeps the object
        0x26,  # fill-array-data
        0x27,  # throw
        0x2B,
        0x2C,  # *-switch
        *range(0x32, 0x3E),  # if-*
        *range(0x4B, 0x52),  # aput*
        *range(0x59, 0x60),  # iput*
        *range(0x67, 0x6E),  # sput*
    )
)
_Add = Callable[..., None]


@dataclass(frozen=True, slots=True, kw_only=True)
class Disassembly:
    """A method in smali: header, body lines and the debug information behind the line numbers."""

    header: tuple[str, ...]
    """``.method ...``, ``.registers N`` and the named ``.param`` lines."""
    lines: tuple[SmaliLine, ...]
    instruction_offsets: tuple[int, ...]
    """Byte offset of each instruction, by group index."""
    debug: DebugInfo | None
    """None when the method has no debug information (stripped or obfuscated builds)."""
    truncated: bool = False
    """Cut at :data:`MAX_METHOD_INSTRUCTIONS` or at damaged code (the lines shown are still exact)."""


def disassemble(dex: DexFile, entry: MethodEntry, notes: Mapping[int, str] | None = None) -> Disassembly:
    """The method ``entry`` in smali. ``notes`` adds a comment to the instruction at each byte offset.

    Raises DexFormatError only when the method's own reference cannot be read; damaged code inside
    it is shown as far as it decodes (``truncated``).
    """
    header = method_header(dex, entry)
    span = entry.span
    if span is None:
        return Disassembly(header=header, lines=(), instruction_offsets=(), debug=None)
    insns, truncated = _decode(dex, span)
    debug = read_debug_info(dex, span)
    tries, damaged_tries = read_tries(dex, span)
    regs = Registers(entry.registers_size, entry.ins_size)
    starts = {ins.offset for ins in insns}
    switch_of = {ins.target: ins.offset for ins in insns if ins.opcode in (0x2B, 0x2C) and ins.target is not None}
    items: list[tuple[int, int, str, int, str, str, str | None]] = []  # offset, order, label prefix, seq, ...
    seq = 0

    def add(offset: int, kind: str, text: str, line_kind: str, comment: str | None = None, prefix: str = "") -> None:
        nonlocal seq
        items.append((offset, _ORDER[kind], prefix, seq, line_kind, text, comment))
        seq += 1

    labels: set[tuple[str, int]] = set()

    def label(prefix: str, offset: int) -> str:
        labels.add((prefix, offset))
        return f":{prefix}{offset // 2:x}"

    texts = [format_instruction(dex, ins, regs, label, switch_of, data_base=span.start) for ins in insns]
    for block in tries:  # try and handler labels first: every label is a join point for the comments below
        label("try_start_", block.start)
        for h in block.handlers:
            label("catchall_" if h.type_desc is None else "catch_", h.offset)
    joins = {offset for _prefix, offset in labels}
    known: dict[int, str] = {}
    for ins, (text, comment) in zip(insns, texts, strict=True):
        if ins.offset in joins:
            known.clear()  # what a register holds here depends on the path taken
        held = _held_strings(ins, regs, known)
        note = (notes or {}).get(ins.offset)
        note = escape_string(note) if note is not None else None
        comment = "; ".join(c for c in (comment, held, note) if c) or None
        first, *rest = text.split("\n")
        add(ins.offset, "insn", first, "insn", comment)
        for extra in rest:
            add(ins.offset, "insn", extra, "payload")
        _track(dex, ins, known)
    _add_tries(tries, starts, labels, label, add)
    for prefix, offset in labels:
        if prefix != "try_end_" and offset in starts:
            add(offset, "label", f":{prefix}{offset // 2:x}", "label", prefix=prefix)
    if debug is not None:
        _add_debug(debug, regs, add)
    lines = _assemble(sorted(items), insns, debug)
    return Disassembly(
        header=header,
        lines=lines,
        instruction_offsets=tuple(ins.offset for ins in insns),
        debug=debug,
        truncated=truncated or damaged_tries,
    )


def _add_tries(
    tries: Sequence[TryBlock],
    starts: set[int],
    labels: set[tuple[str, int]],
    label: Callable[[str, int], str],
    add: _Add,
) -> None:
    """Add each try block's ``:try_end_`` label and ``.catch`` lines after its last instruction.

    A block that does not start on, or cover, a decoded instruction is left out (damaged or cut code).
    """
    for block in tries:
        last = max((o for o in starts if block.start <= o < block.end), default=None)
        if last is None or block.start not in starts:
            continue
        start, end = label("try_start_", block.start), f":try_end_{block.end // 2:x}"
        if ("try_end_", block.end) not in labels:
            labels.add(("try_end_", block.end))
            add(last, "try_end", end, "label")
        for h in block.handlers:
            if h.type_desc is None:
                add(last, "catch", f".catchall {{{start} .. {end}}} {label('catchall_', h.offset)}", "catch")
            else:
                add(last, "catch", f".catch {h.type_desc} {{{start} .. {end}}} {label('catch_', h.offset)}", "catch")


def _decode(dex: DexFile, span: CodeSpan) -> tuple[list[Insn], bool]:
    """The method's instructions, at most MAX_METHOD_INSTRUCTIONS, and whether some were left out."""
    try:
        insns = decode_method(dex, span)
    except (IndexError, struct.error):
        return [], True
    return list(insns[:MAX_METHOD_INSTRUCTIONS]), len(insns) > MAX_METHOD_INSTRUCTIONS


def _held_strings(ins: Insn, regs: Registers, known: Mapping[int, str]) -> str | None:
    """``v1 = "..."`` for each argument register of an invoke known to hold a string constant."""
    if not known or not ins.op.startswith("invoke"):
        return None
    held = [f'{regs.name(x)} = "{escape_string(known[x])}"' for x in ins.regs if x in known]
    return ", ".join(held) or None


def _track(dex: DexFile, ins: Insn, known: dict[int, str]) -> None:
    """Update which registers hold a known string after ``ins``."""
    if ins.opcode in (0x1A, 0x1B) and ins.index is not None and ins.regs:
        try:
            known[ins.regs[0]] = dex.string(ins.index)
        except DexFormatError:
            known.pop(ins.regs[0], None)
        return
    if ins.opcode in (0x07, 0x08, 0x09) and len(ins.regs) == 2:  # move-object*
        src = known.get(ins.regs[1])
        if src is None:
            known.pop(ins.regs[0], None)
        else:
            known[ins.regs[0]] = src
        return
    if ins.opcode >= 0x100 or ins.opcode in _READS_FIRST or not ins.regs:
        return
    name = ins.op
    if name.startswith(("invoke", "filled-new-array")):
        return  # they write no register (the result goes through move-result)
    first = ins.regs[0]
    known.pop(first, None)
    known.pop(first + 1, None)  # a wide result takes two registers


def _add_debug(debug: DebugInfo, regs: Registers, add: _Add) -> None:
    started: dict[int, DebugEvent] = {}
    for e in debug.events:
        if e.kind == "line":
            add(e.offset, "line", f".line {e.line}", "debug")
        elif e.kind == "prologue_end":
            add(e.offset, "prologue_end", ".prologue", "debug")
        elif e.kind == "epilogue_begin":
            add(e.offset, "epilogue_begin", ".epilogue", "debug")
        elif e.kind == "source_file":
            add(e.offset, "source_file", f'.source "{escape_string(e.name)}"' if e.name else ".source", "debug")
        elif e.register is not None:
            reg = regs.name(e.register)
            if e.kind == "start_local":
                started[e.register] = e
                add(e.offset, "local", f".local {reg}{local_text(e, ', ')}", "debug")
            else:
                verb = ".end local" if e.kind == "end_local" else ".restart local"
                prior = started.get(e.register)
                add(e.offset, "local", f"{verb} {reg}", "debug", local_text(prior, "") if prior else None)


def _assemble(
    items: list[tuple[int, int, str, int, str, str, str | None]], insns: list[Insn], debug: DebugInfo | None
) -> tuple[SmaliLine, ...]:
    """Give each sorted item its instruction group and source line."""
    group_of = {ins.offset: k for k, ins in enumerate(insns)}
    positions = debug.positions if debug is not None else ()
    out: list[SmaliLine] = []
    pending: list[tuple[int, str, str, str | None]] = []
    group = 0
    p = 0
    line: int | None = None
    for offset, order, _prefix, _seq, kind, text, comment in items:
        while p < len(positions) and positions[p][0] <= offset:
            line = positions[p][1]
            p += 1
        if order == _ORDER["insn"] and kind == "insn":
            group = group_of[offset]
            out.extend(SmaliLine(offset=o, group=group, kind=k, text=t, comment=c, line=line) for o, k, t, c in pending)
            pending.clear()
        if order >= _ORDER["insn"]:
            out.append(SmaliLine(offset=offset, group=group, kind=kind, text=text, comment=comment, line=line))
        else:
            pending.append((offset, kind, text, comment))
    out.extend(SmaliLine(offset=o, group=group, kind=k, text=t, comment=c, line=line) for o, k, t, c in pending)
    return tuple(out)
