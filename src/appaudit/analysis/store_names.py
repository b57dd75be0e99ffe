"""The names storage and named hand-offs go by: a table in SQL text, a file's name, a key (:mod:`.stores`).

Resolved in one method by :func:`.registers.values_at`: a string constant, a
static field standing for one (named by the field), a ``File`` built from a
constant name, and strings built in a ``StringBuilder`` from parts not all
known (the table in the known start of SQL text, the file name that ends a
path built on an unknown directory).
"""

from __future__ import annotations

import re

from appaudit.analysis.registers import Value, argument_registers, values_at
from appaudit.apk.dex.types import Insn, MethodCode
from appaudit.descriptors import java_name, split_params
from appaudit.ruleset.flows import StoreSpec

_FILE = "Ljava/io/File;"
_STRING = "Ljava/lang/String;"
_SQL_TABLE = re.compile(
    r"\b(?:INTO|UPDATE(?:\s+OR\s+[A-Z]+)?|FROM|JOIN)\s+[`\"'\[]?([A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE
)
#: Calls of the file kind that name a file only through a File parameter (``RequestBody.create(MediaType,
#: String)`` uploads a string, not a file).
_FILE_ONLY = frozenset({"create"})


def _name_param(kind: str, ref: str) -> int | None:
    """The declared parameter naming what a store or read call of ``kind`` stores or reads."""
    params = split_params(ref[ref.find("(") :])
    if kind == "file" and _FILE in params:
        return params.index(_FILE)
    if kind == "file" and ref.partition("->")[2].split("(", 1)[0] in _FILE_ONLY:
        return None
    return params.index(_STRING) if _STRING in params else None


def file_init(body: MethodCode, offset: int, reg: int) -> Insn | None:
    """The last ``File`` constructor called on ``reg`` before ``offset`` (None: none)."""
    init = None
    for ins in body.insns:
        if ins.offset >= offset:
            break
        if ins.ref and ins.ref.startswith("Ljava/io/File;-><init>(") and ins.regs and ins.regs[0] == reg:
            init = ins
    return init


def _file_name(body: MethodCode, offset: int, reg: int) -> str | None:
    """The name of the ``File`` register ``reg`` holds at ``offset``: its constructor's last String argument."""
    init = file_init(body, offset, reg)
    if init is None or init.ref is None:
        return None
    _recv, params = argument_registers(init)
    kinds = split_params(init.ref[init.ref.find("(") :])
    strings = [r for r, k in zip(params, kinds, strict=False) if k == _STRING]
    if not strings:
        return None
    value = values_at(body, init.offset).get(strings[-1])
    if value is not None and value.kind == "string" and value.text is None:  # dir + "/contacts.txt"
        parts = _built_parts(body, init.offset, strings[-1])
        return parts[-1] if parts and parts[-1] and "." in parts[-1].rsplit("/", 1)[-1] else None
    return value.text if value is not None and value.kind == "string" else None


def normalised(spec: StoreSpec, text: str) -> str | None:
    """The name a store or read uses: a SQL text's table, a file's last path component, else as written."""
    if spec.sql:
        if any(c.isspace() for c in text.strip()):
            found = _SQL_TABLE.search(text)
            return found.group(1).lower() if found else None
        return text.strip("`\"'[] ").lower() or None
    if spec.kind == "file":
        return text.rstrip("/").rsplit("/", 1)[-1] or None
    return text


_SB = "Ljava/lang/StringBuilder;->"
#: Instructions whose first register is not one they write.
#: Instructions whose first register is read, not written.
USES_FIRST = ("invoke", "if-", "return", "throw", "aput", "iput", "sput", "monitor", "fill-array", "packed", "sparse")


def built_sources(body: MethodCode, offset: int, reg: int) -> list[tuple[int, int]]:
    """(offset, register) of each part appended to the ``StringBuilder`` whose ``toString()`` ``reg``
    holds at ``offset``, in order; empty when ``reg`` was not built so."""
    insns = [i for i in body.insns if i.offset < offset]
    end = next(
        (
            k
            for k in range(len(insns) - 1, -1, -1)
            if insns[k].regs and insns[k].regs[0] == reg and not insns[k].op.startswith(USES_FIRST)
        ),
        None,
    )
    if not end or not insns[end].op.startswith("move-result"):
        return []
    to_string = insns[end - 1]
    if not (to_string.ref or "").startswith(_SB + "toString(") or not to_string.regs:
        return []
    sb = to_string.regs[0]
    parts: list[tuple[int, int]] = []
    for ins in insns[: end - 1]:
        if ins.op == "new-instance" and ins.regs[:1] == (sb,):
            parts = []
        elif (
            (ins.ref or "").startswith((_SB + "append(", _SB + "<init>(L"))
            and ins.regs[:1] == (sb,)
            and len(ins.regs) > 1
        ):
            parts.append((ins.offset, ins.regs[1]))
    return parts


def _built_parts(body: MethodCode, offset: int, reg: int) -> list[str | None]:
    """The parts of the ``StringBuilder`` whose ``toString()`` ``reg`` holds at ``offset``, in order (None: a
    part not known); empty when ``reg`` was not built so."""
    parts: list[str | None] = []
    for off, part in built_sources(body, offset, reg):
        value = values_at(body, off).get(part)
        parts.append(value.text if value is not None and value.kind == "string" else None)
    return parts


#: The SQL statements that store rows (an ``execSQL`` of any other stores nothing).
_STORING_SQL = frozenset({"INSERT", "REPLACE", "UPDATE", "UPSERT", "WITH"})


def stores_rows(body: MethodCode, offset: int, reg: int) -> bool:
    """The SQL (or table) the register holds may store rows: a table name, an INSERT/REPLACE/UPDATE, or
    text whose start is not known."""
    value = values_at(body, offset).get(reg)
    text = value.text if value is not None and value.kind == "string" else None
    if text is None and value is not None and value.kind == "string":
        parts = _built_parts(body, offset, reg)
        text = parts[0] if parts else None
    words = text.split(None, 1) if text else []
    return len(words) < 2 or words[0].upper() in _STORING_SQL


def built_name(spec: StoreSpec, parts: list[str | None]) -> str | None:
    """A name from a string built of parts: SQL naming its table in its known start; a path ending in a
    known file name; else None."""
    if spec.sql:
        known = "".join(p for p in parts[: parts.index(None)] if p is not None) if None in parts else ""
        found = _SQL_TABLE.search(known)
        return found.group(1).lower() if found and found.end() < len(known) else None
    if spec.kind == "file" and parts and parts[-1] and "." in parts[-1].rsplit("/", 1)[-1]:
        return normalised(spec, parts[-1])
    return None


def _value_name(spec: StoreSpec, body: MethodCode, offset: int, reg: int, value: Value | None) -> str | None:
    """The name a register holds (a string, a static field standing for one, a File built from one)."""
    if value is None:
        return None
    if value.kind == "string" and value.text is not None:
        return normalised(spec, value.text)
    if value.kind == "string":  # built from parts not all known: ``"INSERT INTO t VALUES('" + x``
        return built_name(spec, _built_parts(body, offset, reg))
    if value.kind == "field" and value.text:  # a non-final constant: both sides name the same field
        owner, _, rest = value.text.partition("->")
        return f"{java_name(owner)}.{rest.split(':', 1)[0]}"
    if value.kind == "new" and value.text == _FILE:
        text = _file_name(body, offset, reg)
        return normalised(spec, text) if text is not None else None
    return None


def call_name(spec: StoreSpec, body: MethodCode, ins: Insn) -> tuple[int | None, str | None]:
    """(register of the name argument, the name) of a store or read call; (None, None) when it names nothing."""
    assert ins.ref is not None
    index = _name_param(spec.kind, ins.ref)
    if index is None:
        return None, None
    _recv, params = argument_registers(ins)
    reg = params[index] if index < len(params) else -1
    return reg, _value_name(spec, body, ins.offset, reg, values_at(body, ins.offset).get(reg))


def field_name(ref: str | None) -> str | None:
    """``Lc;->f:T`` -> ``c.f``."""
    if not ref:
        return None
    owner, _, rest = ref.partition("->")
    return f"{java_name(owner)}.{rest.split(':', 1)[0]}"
