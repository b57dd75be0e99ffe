"""Storage and named hand-offs: where a chain's data is stored under a name, and where it is read back.

Harvesters rarely upload where they read: the address book goes into a SQLite
table, a preference, a file, an Intent extra or a WorkManager input, and a
worker, job, click handler or service reads it back later by the same name.
The data search (:mod:`.chains`) asks this module, for a method it reached with
tainted data, which of its calls store that data (``rules/flows.yaml``'s
``stores``; a static field written with it, too) and under which name, and
where the app reads that name back: a jump in the search, from the store to
the read, recorded on the chain as a :class:`~.facts.StoreHop`.

Names are resolved in the method by :func:`.registers.values_at` (a string
constant, a static field, a ``File`` built from a constant name; SQL text
gives its table). A store and a read naming the same thing are matched
``by name``. When one side's name is not resolved, a read is matched by its
kind alone (``type``) only when the app has at most ``MAX_TYPE_ONLY`` reads of
that kind: such a chain stays ``unconfirmed``.

The reads of each kind are indexed once per scan, on first need (one byte
search of the DEX per kind, then each site's name), and looked up by name.

Limits: the file a SharedPreferences key lives in and the database a table
lives in are not compared (a key or table name is the match); a file is
matched by its last path component; instance fields (an app-wide singleton's
``this.cache``) are not followed, only static fields; Room DAOs are followed
through their generated code (an entity insertion adapter's ``createQuery()``,
``RoomSQLiteQuery.acquire``), not their update or delete adapters;
at most ``MAX_INDEXED`` reads per kind and ``MAX_READERS`` per name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from appaudit.analysis.facts import StoreHop
from appaudit.analysis.graph import CallGraph
from appaudit.analysis.registers import Value, argument_registers, values_at
from appaudit.analysis.taint import Flow, Seeds
from appaudit.analysis.targets import calls_target
from appaudit.apk.dex.types import Insn, MethodCode
from appaudit.descriptors import java_desc, java_name, split_params
from appaudit.model import MethodId
from appaudit.ruleset.flows import FlowSpec, StoreSpec

#: Read sites of one kind indexed per scan (past it, further reads of the kind are not matched).
MAX_INDEXED = 2000
#: Read sites followed from one store matched by name (a key read in many places: the first ones).
MAX_READERS = 8
#: A store is matched to reads by kind alone only when the app has at most this many reads of the kind:
#: with more, which one reads the data back is a guess.
MAX_TYPE_ONLY = 4

_FILE = "Ljava/io/File;"
_STRING = "Ljava/lang/String;"
_SQL_TABLE = re.compile(
    r"\b(?:INTO|UPDATE(?:\s+OR\s+[A-Z]+)?|FROM|JOIN)\s+[`\"'\[]?([A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE
)
#: What a Room entity adapter (``EntityInsertionAdapter``) subclass returns its SQL from: the generated DAO
#: stores through the adapter, whose class names the table.
_CREATE_QUERY = "createQuery()Ljava/lang/String;"
#: Calls of the file kind that name a file only through a File parameter (``RequestBody.create(MediaType,
#: String)`` uploads a string, not a file).
_FILE_ONLY = frozenset({"create"})


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreSite:
    """A place that stores data under a name, or reads it back."""

    kind: str
    node: MethodId
    offset: int
    name: str | None
    """The table, key, file name or field; None when it is not resolved."""


def _name_param(kind: str, ref: str) -> int | None:
    """The declared parameter naming what a store or read call of ``kind`` stores or reads."""
    params = split_params(ref[ref.find("(") :])
    if kind == "file" and _FILE in params:
        return params.index(_FILE)
    if kind == "file" and ref.partition("->")[2].split("(", 1)[0] in _FILE_ONLY:
        return None
    return params.index(_STRING) if _STRING in params else None


def _file_name(body: MethodCode, offset: int, reg: int) -> str | None:
    """The name of the ``File`` register ``reg`` holds at ``offset``: its constructor's last String argument."""
    init = None
    for ins in body.insns:
        if ins.offset >= offset:
            break
        if ins.ref and ins.ref.startswith("Ljava/io/File;-><init>(") and ins.regs and ins.regs[0] == reg:
            init = ins
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


def _normalised(spec: StoreSpec, text: str) -> str | None:
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
_USES_FIRST = ("invoke", "if-", "return", "throw", "aput", "iput", "sput", "monitor", "fill-array", "packed", "sparse")


def _built_parts(body: MethodCode, offset: int, reg: int) -> list[str | None]:
    """The parts of the ``StringBuilder`` whose ``toString()`` ``reg`` holds at ``offset``, in order (None: a
    part not known); empty when ``reg`` was not built so."""
    insns = [i for i in body.insns if i.offset < offset]
    end = next(
        (
            k
            for k in range(len(insns) - 1, -1, -1)
            if insns[k].regs and insns[k].regs[0] == reg and not insns[k].op.startswith(_USES_FIRST)
        ),
        None,
    )
    if not end or not insns[end].op.startswith("move-result"):
        return []
    to_string = insns[end - 1]
    if not (to_string.ref or "").startswith(_SB + "toString(") or not to_string.regs:
        return []
    sb = to_string.regs[0]
    parts: list[str | None] = []
    for ins in insns[: end - 1]:
        if ins.op == "new-instance" and ins.regs[:1] == (sb,):
            parts = []
        elif (
            (ins.ref or "").startswith((_SB + "append(", _SB + "<init>(L"))
            and ins.regs[:1] == (sb,)
            and len(ins.regs) > 1
        ):
            value = values_at(body, ins.offset).get(ins.regs[1])
            parts.append(value.text if value is not None and value.kind == "string" else None)
    return parts


#: The SQL statements that store rows (an ``execSQL`` of any other stores nothing).
_STORING_SQL = frozenset({"INSERT", "REPLACE", "UPDATE", "UPSERT", "WITH"})


def _stores_rows(body: MethodCode, offset: int, reg: int) -> bool:
    """The SQL (or table) the register holds may store rows: a table name, an INSERT/REPLACE/UPDATE, or
    text whose start is not known."""
    value = values_at(body, offset).get(reg)
    text = value.text if value is not None and value.kind == "string" else None
    if text is None and value is not None and value.kind == "string":
        parts = _built_parts(body, offset, reg)
        text = parts[0] if parts else None
    words = text.split(None, 1) if text else []
    return len(words) < 2 or words[0].upper() in _STORING_SQL


def _built_name(spec: StoreSpec, parts: list[str | None]) -> str | None:
    """A name from a string built of parts: SQL naming its table in its known start; a path ending in a
    known file name; else None."""
    if spec.sql:
        known = "".join(p for p in parts[: parts.index(None)] if p is not None) if None in parts else ""
        found = _SQL_TABLE.search(known)
        return found.group(1).lower() if found and found.end() < len(known) else None
    if spec.kind == "file" and parts and parts[-1] and "." in parts[-1].rsplit("/", 1)[-1]:
        return _normalised(spec, parts[-1])
    return None


def _value_name(spec: StoreSpec, body: MethodCode, offset: int, reg: int, value: Value | None) -> str | None:
    """The name a register holds (a string, a static field standing for one, a File built from one)."""
    if value is None:
        return None
    if value.kind == "string" and value.text is not None:
        return _normalised(spec, value.text)
    if value.kind == "string":  # built from parts not all known: ``"INSERT INTO t VALUES('" + x``
        return _built_name(spec, _built_parts(body, offset, reg))
    if value.kind == "field" and value.text:  # a non-final constant: both sides name the same field
        owner, _, rest = value.text.partition("->")
        return f"{java_name(owner)}.{rest.split(':', 1)[0]}"
    if value.kind == "new" and value.text == _FILE:
        text = _file_name(body, offset, reg)
        return _normalised(spec, text) if text is not None else None
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


class StoreIndex:
    """The stores and named reads of one scan's app, found on demand and remembered."""

    def __init__(self, graph: CallGraph, flows: FlowSpec) -> None:
        self.graph = graph
        self.specs = {s.kind: s for s in flows.stores}
        self._reads: dict[str, dict[str | None, list[StoreSite]]] = {}
        self._counts: dict[str, int] = {}
        self._fields: dict[str, list[StoreSite]] = {}
        self._insns: dict[MethodId, dict[int, Insn]] = {}
        # (class descriptor, method name) -> (spec, is a put: else a write), for one lookup per tainted call
        self._roles: dict[tuple[str, str], tuple[StoreSpec, bool]] = {}
        for spec in self.specs.values():
            for targets, put in ((spec.write, False), (spec.put, True)):
                self._roles.update(((t.class_desc, n), (spec, put)) for t in targets for n in t.names)

    def _at(self, node: MethodId, body: MethodCode) -> dict[int, Insn]:
        found = self._insns.get(node)
        if found is None:
            found = self._insns[node] = {i.offset: i for i in body.insns}
        return found

    def stores_in(self, node: MethodId, body: MethodCode, flow: Flow) -> list[StoreSite]:
        """The calls of ``node`` that store tainted data (``flow``), and static fields written with it."""
        at = self._at(node, body)
        out: list[StoreSite] = []
        for off in sorted(flow.calls):
            ins = at.get(off)
            if ins is not None and ins.ref:
                out.extend(self._call_stores(node, body, ins, flow.calls[off]))
        out.extend(
            StoreSite(kind="static_field", node=node, offset=off, name=_field_name(at[off].ref))
            for off in sorted(flow.static_puts)
            if off in at
        )
        return out

    def _call_stores(self, node: MethodId, body: MethodCode, ins: Insn, tainted: frozenset[int]) -> list[StoreSite]:
        assert ins.ref is not None
        owner, _, rest = ins.ref.partition("->")
        role = self._roles.get((owner, rest.split("(", 1)[0]))
        if role is None:
            return []
        spec, put = role
        static = ins.op.startswith("invoke-static")
        data = {ins.regs[k] for k in tainted if k < len(ins.regs) and (static or k > 0)}
        if put:
            reg, name = call_name(spec, body, ins)
            if reg is None and spec.sql:  # a Room adapter's insert(entity): its class names the table
                reg, name = -1, self._adapter_table(spec, body, ins)
            if spec.sql and reg is not None and reg >= 0 and not _stores_rows(body, ins.offset, reg):
                return []  # CREATE, DELETE, DROP...: SQL that stores nothing
            # SQL text built from the data carries it too (its table is then not resolved)
            if reg is not None and (data - {reg} or (spec.sql and reg in data)):
                return [StoreSite(kind=spec.kind, node=node, offset=ins.offset, name=name)]
            return []
        if not data:
            return []
        opens = [i for i in body.insns if i.ref and calls_target(spec.open, i.ref)]  # a file opened here
        names = {call_name(spec, body, i)[1] for i in opens}
        return [StoreSite(kind=spec.kind, node=node, offset=ins.offset, name=n) for n in sorted(names, key=str)]

    def _adapter_table(self, spec: StoreSpec, body: MethodCode, ins: Insn) -> str | None:
        """The table a Room DAO's entity adapter writes: the SQL its class's ``createQuery()`` returns, the
        class found where the DAO's constructor sets the adapter field the call is made on."""
        recv, _params = argument_registers(ins)
        value = values_at(body, ins.offset).get(recv) if recv is not None else None
        if value is None or value.kind != "ifield" or not value.text:
            return None
        owner = java_name(value.text.partition("->")[0])
        code = self.graph.code
        for method in code.methods_of(owner):
            init = code.method_code(owner, method) if method.startswith("<init>(") else None
            if init is None:
                continue
            for put in init.insns:
                if put.op == "iput-object" and put.ref == value.text:
                    made = values_at(init, put.offset).get(put.regs[0])
                    sql = (
                        self._returned_string(java_name(made.text))
                        if made and made.kind == "new" and made.text
                        else None
                    )
                    return _normalised(spec, sql) if sql is not None else None
        return None

    def _returned_string(self, cls: str) -> str | None:
        """The string constant ``cls.createQuery()`` loads (Room's generated SQL)."""
        body = self.graph.code.method_code(cls, _CREATE_QUERY)
        return next((i.ref for i in body.insns if i.op.startswith("const-string") and i.ref), None) if body else None

    def _index(self, kind: str) -> dict[str | None, list[StoreSite]]:
        """The reads of ``kind`` by name (None: not resolved), built on first use."""
        found = self._reads.get(kind)
        if found is not None:
            return found
        spec = self.specs[kind]
        code = self.graph.code
        hits = sorted(
            {(h.class_name, h.method, h.offset) for t in spec.get for h in code.invocations(t.class_desc, t.names)}
        )
        self._counts[kind] = len(hits)
        found = {}
        for cls, method, off in hits[:MAX_INDEXED]:
            node = MethodId(class_name=cls, method=method)
            body = self.graph.body(node)
            ins = self._at(node, body).get(off) if body is not None else None
            if body is None or ins is None or ins.ref is None:
                continue
            reg, name = call_name(spec, body, ins)
            if reg is not None:
                found.setdefault(name, []).append(StoreSite(kind=kind, node=node, offset=off, name=name))
        self._reads[kind] = found
        return found

    def _field_reads(self, store: StoreSite) -> list[StoreSite]:
        """The ``sget`` sites of a static field, elsewhere than the store's method."""
        assert store.name is not None
        found = self._fields.get(store.name)
        if found is None:
            cls, _, field = store.name.rpartition(".")
            hits = self.graph.code.static_reads(java_desc(cls), [field])
            found = self._fields[store.name] = [
                StoreSite(
                    kind="static_field",
                    node=MethodId(class_name=h.class_name, method=h.method),
                    offset=h.offset,
                    name=store.name,
                )
                for h in sorted(hits, key=lambda h: (h.class_name, h.method, h.offset))
            ]
        return [s for s in found if s.node != store.node]

    def reads_of(self, store: StoreSite) -> list[tuple[StoreSite, StoreHop]]:
        """Where the app reads back what ``store`` stored, each with how the two were matched."""
        if store.kind == "static_field":
            hop = StoreHop(kind=store.kind, name=store.name, matched_by="name")
            return [(s, hop) for s in self._field_reads(store)[:MAX_READERS]]
        index = self._index(store.kind)
        out: list[tuple[StoreSite, StoreHop]] = []
        if store.name is not None:
            hop = StoreHop(kind=store.kind, name=store.name, matched_by="name")
            out.extend((s, hop) for s in index.get(store.name, [])[:MAX_READERS])
        if self._counts.get(store.kind, 0) <= MAX_TYPE_ONLY:
            loose = StoreHop(kind=store.kind, name=store.name, matched_by="type")
            sites = index.get(None, []) if store.name is not None else [s for v in index.values() for s in v]
            out.extend((s, loose) for s in sorted(sites, key=lambda s: (s.node, s.offset)))
        return out

    def seeds(self, node: MethodId, body: MethodCode, offset: int) -> Seeds:
        """What is tainted in a read's method: the read's result (or, for a constructor, the object made)."""
        ins = self._at(node, body).get(offset)
        if ins is not None and ins.ref and "-><init>(" in ins.ref:
            return Seeds(sites={offset: (False, frozenset({0}))})
        return Seeds(sites={offset: (True, frozenset())})


def _field_name(ref: str | None) -> str | None:
    """``Lc;->f:T`` -> ``c.f``."""
    if not ref:
        return None
    owner, _, rest = ref.partition("->")
    return f"{java_name(owner)}.{rest.split(':', 1)[0]}"
