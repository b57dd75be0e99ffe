"""The smali text of single instructions, payloads, strings and method headers (baksmali's notation).

Used by :mod:`appaudit.apk.dex.smali`, which lays a whole method out; see there for what is
matched against baksmali and the few differences kept on purpose.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping

from appaudit.apk.dex.debuginfo import DebugEvent, read_debug_info
from appaudit.apk.dex.opcodes import OPCODES
from appaudit.apk.dex.reader import DexFile
from appaudit.apk.dex.structure import MethodEntry
from appaudit.apk.dex.types import Insn
from appaudit.descriptors import split_params
from appaudit.errors import DexFormatError

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
_PAYLOAD_OPS = (0x0100, 0x0200, 0x0300)


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


class Registers:
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


def access_text(flags: int) -> str:
    """A method's access flags as baksmali spells them, e.g. ``public static constructor``."""
    return " ".join(name for bit, name in _ACCESS if flags & bit)


def method_header(dex: DexFile, entry: MethodEntry) -> tuple[str, ...]:
    """``.method`` line, ``.registers`` and ``.param`` lines of ``entry`` (baksmali's layout)."""
    ref = dex.method_ref(entry.method_idx)
    flags = access_text(entry.access_flags)
    lines = [" ".join(part for part in (".method", flags, f"{ref.name}{ref.proto}") if part)]
    if entry.span is None:
        return tuple(lines)
    lines.append(f".registers {entry.registers_size}")
    info = read_debug_info(dex, entry.span)
    names = info.parameter_names if info is not None else ()
    regs = Registers(entry.registers_size, entry.ins_size)
    reg = regs.first_param + (0 if entry.access_flags & 0x8 else 1)
    for k, ptype in enumerate(split_params(ref.proto)):
        name = names[k] if k < len(names) else None
        if name is not None:
            lines.append(f'.param {regs.name(reg)}, "{escape_string(name)}"    # {ptype}')
        reg += 2 if ptype in ("J", "D") else 1
    return tuple(lines)


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


def format_instruction(
    dex: DexFile,
    ins: Insn,
    regs: Registers,
    label: Callable[[str, int], str],
    switch_of: Mapping[int, int],
    data_base: int,
) -> tuple[str, str | None]:
    """(smali text, comment) of one instruction; a payload's text spans several lines."""
    if ins.opcode in _PAYLOAD_OPS:
        return _payload(dex, ins, label, switch_of, data_base), None
    if ins.op == "nop":  # also an opcode-0 unit with an unknown high byte, which the walker steps over as one
        return "nop", None
    name, fmt, kind = OPCODES[ins.opcode]
    if name == "(unused)":
        return f"# unused opcode 0x{ins.opcode:02x}", None
    r = ins.regs
    operands: list[str] = []
    comment = None
    if fmt in ("35c", "45cc"):
        operands.append("{" + ", ".join(regs.name(x) for x in r) + "}")
    elif fmt in ("3rc", "4rcc"):
        operands.append(regs.range(r))
    else:
        operands.extend(regs.name(x) for x in r)
    if ins.index is not None:
        operands.extend(_index_operands(dex, ins.index, ins.proto_index, name, kind))
    if ins.literal is not None:
        operands.append(_wide(ins.literal) if name.startswith("const-wide") else _hex(ins.literal))
    if ins.target is not None:
        prefix = {0x26: "array_", 0x2B: "pswitch_data_", 0x2C: "sswitch_data_"}.get(ins.opcode)
        if prefix is None:
            prefix = "goto_" if name.startswith("goto") else "cond_"
        operands.append(label(prefix, ins.target))
    if len(ins.regs) == 0 and fmt not in ("10x", "10t", "20t", "30t", "35c", "3rc", "45cc", "4rcc"):
        comment = "truncated instruction"
    return (name + " " + ", ".join(operands)).rstrip(), comment


def _index_operands(dex: DexFile, index: int, proto_index: int | None, name: str, kind: str) -> list[str]:
    """The operands an instruction's pool ``index`` (and ``proto_index``, for invoke-polymorphic) stand for."""
    if kind == "CALL_SITE":
        operands = [f"call_site_{index}"]
    elif name == "const-method-handle":
        operands = [f"method_handle_{index}"]
    else:
        operands = [_ref(dex, kind, index)]
    if proto_index is not None:
        operands.append(_ref(dex, "PROTO", proto_index))
    return operands


def _payload(dex: DexFile, ins: Insn, label: Callable[[str, int], str], switch_of: Mapping[int, int], base: int) -> str:
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
        return f"# damaged {ins.op}"


def _more(size: int, shown: int) -> list[str]:
    return [f"    # ... {size - shown} more entries not shown"] if size > shown else []


def local_text(e: DebugEvent, lead: str) -> str:
    if e.name is None and e.type_desc is None and e.signature is None:
        return ""
    name = f'"{escape_string(e.name)}"' if e.name is not None else "null"
    text = f"{lead}{name}:{e.type_desc or 'V'}"
    return text + (f', "{escape_string(e.signature)}"' if e.signature is not None else "")
