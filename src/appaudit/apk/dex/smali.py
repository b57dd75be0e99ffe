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
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from appaudit.apk.dex.code import Instruction, decode_at, instruction_starts
from appaudit.apk.dex.debuginfo import DebugEvent, DebugInfo, read_debug_info
from appaudit.apk.dex.opcodes import OPCODES
from appaudit.apk.dex.reader import CodeSpan, DexFile
from appaudit.apk.dex.structure import MethodEntry
from appaudit.apk.dex.tries import read_tries
from appaudit.errors import DexFormatError

#: Instructions decoded per method; a longer method is shown up to here (``Disassembly.truncated``).
#: javac and d8 keep a method under 64 KiB of code, i.e. at most 32,768 instructions.
MAX_METHOD_INSTRUCTIONS = 40_000
#: Entries shown per switch or array payload; the rest is summarised in a comment.
MAX_PAYLOAD_ENTRIES = 1_000

_ACCESS = (
    (0x1, "public"),
    (0x2, "private"),
    (0x4, "protected"),
    (0x8, "static"),
    (0x10, "final"),
    (0x20, "synchronized"),
    (0x40, "bridge"),
    (0x80, "varargs"),
    (0x100, "native"),
    (0x400, "abstract"),
    (0x800, "strictfp"),
    (0x1000, "synthetic"),
    (0x10000, "constructor"),
    (0x20000, "declared-synchronized"),
)
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
_PAYLOAD_OPS = (0x0100, 0x0200, 0x0300)
#: add(offset, order kind, text, line kind, comment=None, prefix="")
_Add = Callable[..., None]


@dataclass(frozen=True, slots=True, kw_only=True)
class SmaliLine:
    """One line of smali, without indentation."""

    offset: int
    """Byte offset (from the method's first instruction) the line stands at."""
    group: int
    """Index of the instruction the line belongs to: labels and directives before it, try ends after it."""
    kind: str
    """``insn`` (an instruction or a payload's first line), ``payload`` (the rest of a payload),
    ``label``, ``debug`` (``.line``, ``.local``, ...) or ``catch`` (``.catch``/``.catchall``)."""
    text: str
    """The smali text; payload entries keep baksmali's 4-space inner indentation."""
    comment: str | None = None
    """A resolved constant or a caller's note, shown as ``# comment``; never part of the smali."""
    line: int | None = None
    """The source line in force here, when the DEX keeps line numbers."""


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


def escape_string(text: str) -> str:
    """``text`` as a smali string literal body: ``\\n``, ``\\"``, ``\\'``, ``\\\\`` and ``\\uXXXX`` for
    everything outside printable ASCII (UTF-16 code units, as baksmali writes them)."""
    out: list[str] = []
    for ch in text:
        c = ord(ch)
        if 0x20 <= c < 0x7F:
            out.append("\\" + ch if ch in "'\"\\" else ch)
        elif ch in "\n\r\t":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[ch])
        elif c > 0xFFFF:
            c -= 0x10000
            out.append(f"\\u{0xD800 + (c >> 10):04x}\\u{0xDC00 + (c & 0x3FF):04x}")
        else:
            out.append(f"\\u{c:04x}")
    return "".join(out)


def _hex(value: int) -> str:
    return f"-0x{-value:x}" if value < 0 else f"0x{value:x}"


def _wide(value: int) -> str:
    """baksmali's ``writeSignedIntOrLongTo``: an ``L`` suffix only when the value does not fit an int."""
    return _hex(value) + ("" if -(1 << 31) <= value < (1 << 31) else "L")


class _Registers:
    def __init__(self, registers_size: int, ins_size: int) -> None:
        self.first_param = registers_size - ins_size

    def name(self, reg: int) -> str:
        return f"p{reg - self.first_param}" if reg >= self.first_param >= 0 else f"v{reg}"

    def range(self, regs: tuple[int, ...]) -> str:
        if not regs:
            return "{}"
        first, last = regs[0], regs[-1]
        # As baksmali: the whole range in p form only when it starts at a parameter.
        if first >= self.first_param:
            return f"{{p{first - self.first_param} .. p{last - self.first_param}}}"
        return f"{{v{first} .. v{last}}}"


def method_header(dex: DexFile, entry: MethodEntry) -> tuple[str, ...]:
    """``.method`` line, ``.registers`` and ``.param`` lines of ``entry`` (baksmali's layout)."""
    ref = dex.method_ref(entry.method_idx)
    flags = [name for bit, name in _ACCESS if entry.access_flags & bit]
    lines = [".method " + " ".join([*flags, f"{ref.name}{ref.proto}"])]
    if entry.span is None:
        return tuple(lines)
    lines.append(f".registers {entry.registers_size}")
    info = read_debug_info(dex, entry.span)
    names = info.parameter_names if info is not None else ()
    regs = _Registers(entry.registers_size, entry.ins_size)
    reg = regs.first_param + (0 if entry.access_flags & 0x8 else 1)
    for k, ptype in enumerate(_param_types(ref.proto)):
        name = names[k] if k < len(names) else None
        if name is not None:
            lines.append(f'.param {regs.name(reg)}, "{escape_string(name)}"    # {ptype}')
        reg += 2 if ptype in ("J", "D") else 1
    return tuple(lines)


def _param_types(proto: str) -> list[str]:
    from appaudit.descriptors import split_params

    return list(split_params(proto))


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
    regs = _Registers(entry.registers_size, entry.ins_size)
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

    texts = [_format(dex, ins, regs, label, switch_of, data_base=span.start) for ins in insns]
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
        comment = "; ".join(c for c in (comment, held, note) if c) or None
        first, *rest = text.split("\n")
        add(ins.offset, "insn", first, "insn", comment)
        for extra in rest:
            add(ins.offset, "insn", extra, "payload")
        _track(dex, ins, known)
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


def _decode(dex: DexFile, span: CodeSpan) -> tuple[list[Instruction], bool]:
    out: list[Instruction] = []
    try:
        for pos in instruction_starts(dex.data, span.start, span.end):
            if len(out) >= MAX_METHOD_INSTRUCTIONS:
                return out, True
            out.append(decode_at(dex.data, pos, span.start, span.end))
    except (IndexError, struct.error):
        return out, True
    return out, False


def _held_strings(ins: Instruction, regs: _Registers, known: Mapping[int, str]) -> str | None:
    """``v1 = "..."`` for each argument register of an invoke known to hold a string constant."""
    if not known or not ins.name.startswith("invoke"):
        return None
    held = [f'{regs.name(x)} = "{escape_string(known[x])}"' for x in ins.registers if x in known]
    return ", ".join(held) or None


def _track(dex: DexFile, ins: Instruction, known: dict[int, str]) -> None:
    """Update which registers hold a known string after ``ins``."""
    if ins.opcode in (0x1A, 0x1B) and ins.index is not None and ins.registers:
        try:
            known[ins.registers[0]] = dex.string(ins.index)
        except DexFormatError:
            known.pop(ins.registers[0], None)
        return
    if ins.opcode in (0x07, 0x08, 0x09) and len(ins.registers) == 2:  # move-object*
        src = known.get(ins.registers[1])
        if src is None:
            known.pop(ins.registers[0], None)
        else:
            known[ins.registers[0]] = src
        return
    if ins.opcode >= 0x100 or ins.opcode in _READS_FIRST or not ins.registers:
        return
    name = ins.name
    if name.startswith(("invoke", "filled-new-array")):
        return  # they write no register (the result goes through move-result)
    first = ins.registers[0]
    known.pop(first, None)
    known.pop(first + 1, None)  # a wide result takes two registers


def _ref(dex: DexFile, kind: str, index: int) -> str:
    try:
        if kind in ("METH", "METH_PROTO"):
            return str(dex.method_ref(index))
        if kind == "FIELD":
            return str(dex.field_ref(index))
        if kind == "STRING":
            return f'"{escape_string(dex.string(index))}"'
        if kind == "TYPE":
            return dex.type_desc(index)
        if kind == "PROTO":
            return dex.proto_desc(index)
    except DexFormatError:
        pass
    return {"METH": "method", "METH_PROTO": "method", "FIELD": "field", "STRING": "string", "TYPE": "type"}.get(
        kind, "proto"
    ) + f"@{index}"


def _format(
    dex: DexFile,
    ins: Instruction,
    regs: _Registers,
    label: Callable[[str, int], str],
    switch_of: Mapping[int, int],
    data_base: int,
) -> tuple[str, str | None]:
    """(smali text, comment) of one instruction; a payload's text spans several lines."""
    if ins.opcode in _PAYLOAD_OPS:
        return _payload(dex, ins, label, switch_of, data_base), None
    if ins.opcode == 0 and ins.name == "nop":
        return "nop", None
    name, fmt, kind = OPCODES[ins.opcode]
    if name == "(unused)":
        return f"# unused opcode 0x{ins.opcode:02x}", None
    r = ins.registers
    operands: list[str] = []
    comment = None
    if fmt in ("35c", "45cc"):
        operands.append("{" + ", ".join(regs.name(x) for x in r) + "}")
    elif fmt in ("3rc", "4rcc"):
        operands.append(regs.range(r))
    else:
        operands.extend(regs.name(x) for x in r)
    if ins.index is not None:
        if kind == "CALL_SITE":
            operands.append(f"call_site_{ins.index}")
        elif name == "const-method-handle":
            operands.append(f"method_handle_{ins.index}")
        else:
            operands.append(_ref(dex, kind, ins.index))
        if ins.proto_index is not None:
            operands.append(_ref(dex, "PROTO", ins.proto_index))
    if ins.literal is not None:
        operands.append(_wide(ins.literal) if name.startswith("const-wide") else _hex(ins.literal))
    if ins.target is not None:
        prefix = {0x26: "array_", 0x2B: "pswitch_data_", 0x2C: "sswitch_data_"}.get(ins.opcode)
        if prefix is None:
            prefix = "goto_" if name.startswith("goto") else "cond_"
        operands.append(label(prefix, ins.target))
    if len(ins.registers) == 0 and fmt not in ("10x", "10t", "20t", "30t", "35c", "3rc", "45cc", "4rcc"):
        comment = "truncated instruction"
    return (name + " " + ", ".join(operands)).rstrip(), comment


def _payload(
    dex: DexFile, ins: Instruction, label: Callable[[str, int], str], switch_of: Mapping[int, int], base: int
) -> str:
    data = dex.data
    pos = base + ins.offset
    end = pos + 2 * ins.length
    # Switch targets count from the switch instruction, not from the payload.
    origin = switch_of.get(ins.offset, ins.offset)
    try:
        if ins.opcode == 0x0100:
            (size,) = struct.unpack_from("<H", data, pos + 2)
            (first,) = struct.unpack_from("<i", data, pos + 4)
            shown = min(size, MAX_PAYLOAD_ENTRIES, max(0, (end - pos - 8) // 4))
            rel = struct.unpack_from(f"<{shown}i", data, pos + 8)
            body = [f"    {label('pswitch_', origin + 2 * t)}" for t in rel]
            return "\n".join([f".packed-switch {_hex(first)}", *body, *_more(size, shown), ".end packed-switch"])
        if ins.opcode == 0x0200:
            (size,) = struct.unpack_from("<H", data, pos + 2)
            shown = min(size, MAX_PAYLOAD_ENTRIES, max(0, (end - pos - 4) // 8))
            keys = struct.unpack_from(f"<{shown}i", data, pos + 4)
            rel = struct.unpack_from(f"<{shown}i", data, pos + 4 + 4 * size)
            body = [f"    {_hex(k)} -> {label('sswitch_', origin + 2 * t)}" for k, t in zip(keys, rel, strict=True)]
            return "\n".join([".sparse-switch", *body, *_more(size, shown), ".end sparse-switch"])
        (width,) = struct.unpack_from("<H", data, pos + 2)
        (size,) = struct.unpack_from("<I", data, pos + 4)
        fmt = {1: "b", 2: "h", 4: "i", 8: "q"}.get(width)
        if fmt is None:
            return f".array-data {width}\n    # {size} elements of an unsupported width\n.end array-data"
        shown = min(size, MAX_PAYLOAD_ENTRIES, max(0, (end - pos - 8) // width))
        values = struct.unpack_from(f"<{shown}{fmt}", data, pos + 8)
        suffix = {1: "t", 2: "s"}.get(width, "")
        body = [f"    {_wide(v) if width == 8 else _hex(v) + suffix}" for v in values]
        return "\n".join([f".array-data {width}", *body, *_more(size, shown), ".end array-data"])
    except struct.error:
        return f"# damaged {ins.name}"


def _more(size: int, shown: int) -> list[str]:
    return [f"    # ... {size - shown} more entries not shown"] if size > shown else []


def _add_debug(debug: DebugInfo, regs: _Registers, add: _Add) -> None:
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
                add(e.offset, "local", f".local {reg}{_local(e, ', ')}", "debug")
            else:
                verb = ".end local" if e.kind == "end_local" else ".restart local"
                prior = started.get(e.register)
                add(e.offset, "local", f"{verb} {reg}", "debug", _local(prior, "") if prior else None)


def _local(e: DebugEvent, lead: str) -> str:
    if e.name is None and e.type_desc is None and e.signature is None:
        return ""
    name = f'"{escape_string(e.name)}"' if e.name is not None else "null"
    text = f"{lead}{name}:{e.type_desc or 'V'}"
    return text + (f', "{escape_string(e.signature)}"' if e.signature is not None else "")


def _assemble(
    items: list[tuple[int, int, str, int, str, str, str | None]], insns: list[Instruction], debug: DebugInfo | None
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
