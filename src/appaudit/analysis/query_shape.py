"""What a provider query asks for: its URI's shape, its selection and its projection, as constants.

A forward pass over the query's method (like ``registers``, branches not followed) keeps what the
bulk decision (``analysis.bulk``) needs and ``registers`` does not: ``null``, string arrays (the
projection, built with ``new-array``/``aput-object`` or ``filled-new-array``) and strings built with
parts known only at run time (``"contact_id = " + id``: the run-time part is :data:`RUNTIME`). A
selection or projection that arrives as a parameter is looked up at the method's call sites, as the
URI is (``providers.resolve_argument``). What cannot be seen is ``unknown`` and never narrows a read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from appaudit.analysis.registers import argument_registers
from appaudit.apk.dex.types import CodeHit, CodeIndex, Insn, MethodCode
from appaudit.descriptors import java_desc

#: Stands for a part of a string known only at run time.
RUNTIME = "\0"
#: How many call-site hops a selection or projection parameter is followed back.
ARG_DEPTH = 2
#: At most this many call sites are examined per parameter.
MAX_ARG_SITES = 8

ConstKind = Literal["null", "string", "array", "sb", "param", "unknown"]


@dataclass(frozen=True, slots=True)
class Const:
    """What a register holds as far as the bulk decision cares."""

    kind: ConstKind
    text: str | None = None
    """A string's (or builder's) text with :data:`RUNTIME` for run-time parts; a parameter's index."""
    items: tuple[str | None, ...] = ()
    """An array's elements (None: not a constant string)."""


UNKNOWN = Const("unknown")
_STRINGISH = ("string", "sb")


def _as_text(c: Const) -> str:
    """The text a value adds to a string: its own, or :data:`RUNTIME`."""
    return c.text if c.kind in _STRINGISH and c.text is not None else RUNTIME


def _builder_call(name: str, ref: str, recv: Const, args: list[Const]) -> Const:
    if name == "<init>":
        return Const("sb", _as_text(args[0]) if args and not ref.endswith("(I)V") else "")
    if recv.kind != "sb":
        return UNKNOWN
    if name == "append":
        return Const("sb", (recv.text or "") + (_as_text(args[0]) if args else RUNTIME))
    if name == "toString":
        return Const("string", recv.text)
    return UNKNOWN


def _string_call(name: str, recv: Const, args: list[Const]) -> Const:
    if name == "valueOf" and args:
        return Const("string", _as_text(args[0]))
    if name == "concat" and recv.kind == "string" and args:
        return Const("string", _as_text(recv) + _as_text(args[0]))
    if name == "format" and args:
        return Const("string", re.sub(r"%[-#+ 0,(]*\d*(?:\.\d+)?[a-zA-Z]", RUNTIME, _as_text(args[0])))
    if name in ("trim", "toString", "intern", "toLowerCase", "toUpperCase") and recv.kind == "string":
        return recv
    return Const("string", RUNTIME)


_BUILDERS = ("Ljava/lang/StringBuilder;", "Ljava/lang/StringBuffer;")


class _Pass:
    """One forward pass's state: register values, small integers, the pending call result."""

    def __init__(self, body: MethodCode) -> None:
        self.env: dict[int, Const] = {}
        self.ints: dict[int, int] = {}
        self.pending = UNKNOWN
        reg = body.first_param_register
        if not body.is_static:
            reg += 1
        for i, p in enumerate(body.param_types):
            self.env[reg] = Const("param", str(i))
            reg += 2 if p in ("J", "D") else 1

    def get(self, reg: int) -> Const:
        return self.env.get(reg, UNKNOWN)

    def invoke(self, insn: Insn) -> None:
        ref = insn.ref or ""
        owner, _, rest = ref.partition("->")
        name = rest.split("(", 1)[0]
        receiver, params = argument_registers(insn) if ref else (None, [])
        args = [self.get(r) for r in params]
        recv = self.get(receiver) if receiver is not None else UNKNOWN
        if owner in _BUILDERS:
            result = _builder_call(name, ref, recv, args)
            if receiver is not None and (name in ("<init>", "append")):
                self.env[receiver] = result
            self.pending = result
        elif owner == "Ljava/lang/String;":
            self.pending = _string_call(name, recv, args)
        else:
            self.pending = UNKNOWN

    def step(self, insn: Insn) -> None:
        op, regs = insn.op, insn.regs
        if op.startswith("invoke"):
            self.invoke(insn)
        elif op == "filled-new-array" or op == "filled-new-array/range":
            self.pending = Const("array", items=tuple(_str_or_none(self.get(r)) for r in regs))
        elif op.startswith("aput-object") and len(regs) == 3:
            self._aput(regs)
        elif not regs or op.startswith(("if-", "goto", "return", "throw", "monitor", "iput", "sput", "aput")):
            return
        elif op.startswith("const-string"):
            self._set(regs[0], Const("string", insn.ref))
        elif op.startswith("const") and not op.startswith("const-"):
            self._set(regs[0], Const("null") if insn.literal == 0 else UNKNOWN)
            if insn.literal is not None:
                self.ints[regs[0]] = insn.literal
        elif op == "new-array":
            size = self.ints.get(regs[1], 0) if len(regs) > 1 else 0
            self._set(regs[0], Const("array", items=(None,) * min(max(size, 0), 256)))
        elif op.startswith("move-result"):
            self._set(regs[0], self.pending)
        elif op.startswith("move") and op != "move-exception" and len(regs) == 2:
            self._set(regs[0], self.get(regs[1]), self.ints.get(regs[1]))
        elif not op.startswith(("check-cast", "fill-array-data", "packed-switch", "sparse-switch", "nop")):
            self._set(regs[0], UNKNOWN)

    def _set(self, reg: int, value: Const, literal: int | None = None) -> None:
        self.env[reg] = value
        self.ints.pop(reg, None)
        if literal is not None:
            self.ints[reg] = literal

    def _aput(self, regs: tuple[int, ...]) -> None:
        value, array, index = regs
        arr, i = self.get(array), self.ints.get(index)
        if arr.kind == "array" and i is not None and 0 <= i < len(arr.items):
            items = list(arr.items)
            items[i] = _str_or_none(self.get(value))
            self.env[array] = Const("array", items=tuple(items))


def _str_or_none(c: Const) -> str | None:
    return c.text if c.kind == "string" and c.text is not None and RUNTIME not in c.text else None


def consts_at(body: MethodCode, offset: int) -> dict[int, Const]:
    """Register values just before the instruction at ``offset``."""
    state = _Pass(body)
    for insn in body.insns:
        if insn.offset >= offset:
            break
        state.step(insn)
    return state.env


def _insn_at(body: MethodCode, offset: int) -> Insn | None:
    return next((i for i in body.insns if i.offset == offset), None)


#: Register values before a call site (:func:`consts_at`), by (class, method, offset), kept by a caller
#: that asks for several arguments of the same sites (a query's selection, projection and sort order).
Envs = dict[tuple[str, str, int], dict[int, Const]]


def argument_consts(
    code: CodeIndex, site: CodeHit, arg: int, depth: int = ARG_DEPTH, envs: Envs | None = None
) -> list[Const]:
    """Possible values of declared argument ``arg`` of the invoke at ``site`` (callers' values for a
    parameter, each once); ``[UNKNOWN]`` when nothing can be said. ``envs`` remembers each site's
    register values across calls (a fresh pass per site if None)."""
    body = code.method_code(site.class_name, site.method)
    insn = _insn_at(body, site.offset) if body else None
    if body is None or insn is None or insn.ref is None:
        return [UNKNOWN]
    _recv, regs = argument_registers(insn)
    if arg >= len(regs) or regs[arg] < 0:
        return [UNKNOWN]
    key = (site.class_name, site.method, site.offset)
    env = envs.get(key) if envs is not None else None
    if env is None:
        env = consts_at(body, site.offset)
        if envs is not None:
            envs[key] = env
    value = env.get(regs[arg], UNKNOWN)
    if value.kind != "param" or value.text is None:
        return [value]
    if depth <= 0:
        return [UNKNOWN]
    found: list[Const] = []
    for caller in code.callers(java_desc(site.class_name), site.method, limit=MAX_ARG_SITES):
        for c in argument_consts(code, caller, int(value.text), depth - 1, envs):
            if c not in found:
                found.append(c)
    return found or [UNKNOWN]


# ------------------------------------------------------------------ what the constants mean

#: Columns that pick out one contact, message or call (or a few) when a selection binds them.
IDENTIFYING_COLUMNS = frozenset(
    {
        "_id",
        "contact_id",
        "raw_contact_id",
        "name_raw_contact_id",
        "data_id",
        "lookup",
        "data1",
        "number",
        "normalized_number",
        "address",
        "thread_id",
        "person",
        "display_name",
        "display_name_primary",
        "display_name_alt",
    }
)
#: Columns that identify no one: row keys, counts, account and sync bookkeeping.
NARROW_COLUMNS = frozenset(
    {
        "_id",
        "_count",
        "count(*)",
        "count(_id)",
        "account_name",
        "account_type",
        "account_type_and_data_set",
        "data_set",
        "sourceid",
        "dirty",
        "version",
        "deleted",
        "data_version",
        "sync1",
        "sync2",
        "sync3",
        "sync4",
    }
)
_BINDING_OPS = ("=", "==", "in", "like", "glob")
_PREDICATE = re.compile(r"^\s*([\w.]+)\s*(==|=|!=|<>|<=|>=|<|>|\bnot\s+in\b|\bin\b|\blike\b|\bglob\b|\bis\b)", re.I)


def selection_binds_rows(selection: Const) -> bool | None:
    """True when the selection picks rows by an identifying column (``_id = ?``, ``contact_id = `` + id,
    ``data1 IN (?,?)``); False when it restricts nothing that matters (none, ``1=1``, a type, a date
    window, ``has_phone_number``); None when it is not known."""
    if selection.kind == "null":
        return False
    if selection.kind not in _STRINGISH or selection.text is None:
        return None
    text = selection.text.lower().replace("(", " ").replace(")", " ")
    if not text.strip(" " + RUNTIME):
        return None if RUNTIME in text else False
    for part in re.split(r"\s+(?:and|or)\s+", text):
        m = _PREDICATE.match(part.replace(RUNTIME, " ? "))
        if m is None:
            continue
        column, op = m.group(1).rsplit(".", 1)[-1], " ".join(m.group(2).split())
        if column in IDENTIFYING_COLUMNS and op in _BINDING_OPS:
            return True
    return False


def projection_is_narrow(projection: Const) -> bool:
    """The projection names only columns that identify no one (``_id``, ``_count``, account, sync)."""
    if projection.kind != "array" or not projection.items or None in projection.items:
        return False
    return all((item or "").strip().lower() in NARROW_COLUMNS for item in projection.items)


def sort_limit(order: Const) -> int | None:
    """The row limit a sort order carries (``date DESC LIMIT 3`` -> 3), None when it has none known."""
    if order.kind not in _STRINGISH or order.text is None:
        return None
    m = re.search(r"\blimit\s+(\d+)\s*(?:offset\s+\d+\s*)?$", order.text.lower())
    return int(m.group(1)) if m else None


UriShape = Literal["filter", "one_row", "table"]


def uri_shape(uri: str) -> UriShape:
    """A filter/lookup URI, one row (``withAppendedId``: ``/#``; a run-time segment: ``/*``) or a table."""
    if "->" in uri:
        owner, _, name = uri.partition("->")
        field, _, suffix = name.partition(":")
        if "$PhoneLookup;" in owner or "FILTER" in field or "LOOKUP" in field:
            return "filter"
        tail = suffix.partition("/")[2]
    else:
        tail = uri.split("://", 1)[-1]
        if re.search(r"/(?:filter|phone_lookup|lookup)(?:/|$)", tail):
            return "filter"
    return "one_row" if re.search(r"/(?:#|\*|\d+)$", "/" + tail) and tail else "table"
