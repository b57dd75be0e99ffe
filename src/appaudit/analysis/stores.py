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
gives its table), else from the callers' arguments and the instance fields
they come from (:mod:`.store_values`: every distinct name a site may use). A
store and a read naming the same thing (a file's name without case) are
matched ``by name``. When one side's name is not resolved, a read is matched by its
kind alone (``type``) only when the app has at most ``MAX_TYPE_ONLY`` reads of
that kind: such a chain stays ``unconfirmed``.

The reads of each kind are indexed once per scan, on first need (one byte
search of the DEX per kind, then each site's name), and looked up by name.
A table's rows are also read back where the app reads its database's whole
file (:mod:`.db_files`: a hop of kind ``database_file``, by the file's name).

Limits: the file a SharedPreferences key lives in and the database a table
lives in are not compared for a query (a key or table name is the match; the
database is, for a read of its file); a file is
matched by its last path component; instance fields (an app-wide singleton's
``this.cache``) are not followed as stores, only static fields (an instance
field holding a store's *name* is, :mod:`.store_values`); Room DAOs are followed
through their generated code (an entity insertion adapter's ``createQuery()``,
``RoomSQLiteQuery.acquire``), not their update or delete adapters;
at most ``MAX_INDEXED`` reads per kind and ``MAX_READERS`` per name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from appaudit.analysis.db_files import DatabaseFiles, file_name_key, read_names
from appaudit.analysis.facts import StoreHop
from appaudit.analysis.graph import CallGraph
from appaudit.analysis.registers import argument_registers, values_at
from appaudit.analysis.store_names import call_name, field_name, normalised, stores_rows
from appaudit.analysis.store_values import NameResolver
from appaudit.analysis.taint import Flow, Seeds
from appaudit.analysis.targets import calls_target
from appaudit.apk.dex.types import Insn, MethodCode
from appaudit.descriptors import java_desc, java_name
from appaudit.model import MethodId
from appaudit.ruleset.flows import FlowSpec, StoreSpec

#: Read sites of one kind indexed per scan (past it, further reads of the kind are not matched).
MAX_INDEXED = 2000
#: Read sites followed from one store matched by name (a key read in many places: the first ones).
MAX_READERS = 8
#: A store is matched to reads by kind alone only when the app has at most this many reads of the kind:
#: with more, which one reads the data back is a guess.
MAX_TYPE_ONLY = 4

#: What a Room entity adapter (``EntityInsertionAdapter``) subclass returns its SQL from: the generated DAO
#: stores through the adapter, whose class names the table.
_CREATE_QUERY = "createQuery()Ljava/lang/String;"


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreSite:
    """A place that stores data under a name, or reads it back."""

    kind: str
    node: MethodId
    offset: int
    name: str | None
    """The table, key, file name or field; None when it is not resolved."""


class StoreIndex:
    """The stores and named reads of one scan's app, found on demand and remembered."""

    def __init__(self, graph: CallGraph, flows: FlowSpec, opaque: Callable[[str], bool] | None = None) -> None:
        self.graph = graph
        self.opaque = opaque
        """Types (descriptors) a static field of which holds no data however tainted what is written is:
        a Context (the register of one handed data is tainted, the component is no container of it)."""
        self.specs = {s.kind: s for s in flows.stores}
        self._reads: dict[str, dict[str | None, list[StoreSite]]] = {}
        self._counts: dict[str, int] = {}
        self._sites: dict[str, list[tuple[str, str, int]]] = {}
        self._fields: dict[str, list[StoreSite]] = {}
        self.names = NameResolver(graph.code, keyed=self.specs)
        self.databases = DatabaseFiles(graph)
        self._db_reads: dict[str, list[StoreSite]] | None = None
        # (class descriptor, method name) -> (spec, is a put: else a write), for one lookup per tainted call
        self._roles: dict[tuple[str, str], tuple[StoreSpec, bool]] = {}
        for spec in self.specs.values():
            for targets, put in ((spec.write, False), (spec.put, True)):
                self._roles.update(((t.class_desc, n), (spec, put)) for t in targets for n in t.names)

    def _at(self, node: MethodId, body: MethodCode) -> dict[int, Insn]:
        return self.graph.insns_at(node, body)

    def stores_in(
        self, node: MethodId, body: MethodCode, flow: Flow, path: frozenset[MethodId] = frozenset()
    ) -> list[StoreSite]:
        """The calls of ``node`` that store tainted data (``flow``), and static fields written with it;
        ``path``: the methods the data came through (a name passed in is what they pass)."""
        at = self._at(node, body)
        out: list[StoreSite] = []
        for off in sorted(flow.calls):
            ins = at.get(off)
            if ins is not None and ins.ref:
                out.extend(self._call_stores(node, body, ins, flow.calls[off], path))
        out.extend(
            StoreSite(kind="static_field", node=node, offset=off, name=field_name(at[off].ref))
            for off in sorted(flow.static_puts)
            if off in at and not self._holds_no_data(at[off].ref)
        )
        return out

    def _holds_no_data(self, ref: str | None) -> bool:
        return self.opaque is not None and ref is not None and self.opaque(ref.rsplit(":", 1)[-1])

    def _call_stores(
        self, node: MethodId, body: MethodCode, ins: Insn, tainted: frozenset[int], path: frozenset[MethodId]
    ) -> list[StoreSite]:
        assert ins.ref is not None
        owner, _, rest = ins.ref.partition("->")
        role = self._roles.get((owner, rest.split("(", 1)[0]))
        if role is None:
            return []
        spec, put = role
        static = ins.op.startswith("invoke-static")
        data = {ins.regs[k] for k in tainted if k < len(ins.regs) and (static or k > 0)}
        if put:
            reg, names = self._call_names(spec, body, ins, path)
            if reg is None and spec.sql:  # a Room adapter's insert(entity): its class names the table
                reg, names = -1, (self._adapter_table(spec, body, ins),)
            if spec.sql and reg is not None and reg >= 0 and not stores_rows(body, ins.offset, reg):
                return []  # CREATE, DELETE, DROP...: SQL that stores nothing
            # SQL text built from the data carries it too (its table is then not resolved)
            if reg is not None and (data - {reg} or (spec.sql and reg in data)):
                return [StoreSite(kind=spec.kind, node=node, offset=ins.offset, name=n) for n in names or (None,)]
            return []
        if not data:
            return []
        opens = [i for i in body.insns if i.ref and calls_target(spec.open, i.ref)]  # a file opened here
        found = {n for i in opens for n in self._call_names(spec, body, i, path)[1] or (None,)}
        return [StoreSite(kind=spec.kind, node=node, offset=ins.offset, name=n) for n in sorted(found, key=str)]

    def _call_names(
        self, spec: StoreSpec, body: MethodCode, ins: Insn, path: frozenset[MethodId] = frozenset()
    ) -> tuple[int | None, tuple[str | None, ...]]:
        """(register of the name argument, every name it may hold) of a store or read call: resolved in
        the method (:func:`.store_names.call_name`), else from callers and fields (:mod:`.store_values`);
        no names when none is resolved."""
        reg, name = call_name(spec, body, ins)
        if name is not None:
            return reg, (name,)
        if reg is None or reg < 0:
            return reg, ()
        return reg, self.names.names(spec, body, ins.offset, reg, path)

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
                    return normalised(spec, sql) if sql is not None else None
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
        hits = self._read_sites(kind)
        self._counts[kind] = len(hits)
        found = {}
        for cls, method, off in hits[:MAX_INDEXED]:
            node = MethodId(class_name=cls, method=method)
            body = self.graph.body(node)
            ins = self._at(node, body).get(off) if body is not None else None
            if body is None or ins is None or ins.ref is None:
                continue
            reg, names = self._call_names(spec, body, ins)
            for name in names or ((None,) if reg is not None else ()):
                key = match_key(kind, name)
                found.setdefault(key, []).append(StoreSite(kind=kind, node=node, offset=off, name=name))
        self._reads[kind] = found
        return found

    def _read_sites(self, kind: str) -> list[tuple[str, str, int]]:
        """(class, method, offset) of every call to one of ``kind``'s read targets, sorted; one DEX search
        per kind and scan (the name index and the database-file reads share it)."""
        hits = self._sites.get(kind)
        if hits is None:
            code = self.graph.code
            targets = self.specs[kind].get
            hits = self._sites[kind] = sorted(
                {(h.class_name, h.method, h.offset) for t in targets for h in code.invocations(t.class_desc, t.names)}
            )
        return hits

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
            out.extend((s, hop) for s in index.get(match_key(store.kind, store.name), [])[:MAX_READERS])
        if store.kind == "sqlite":
            out.extend(self._database_file_reads(store))
        if self._counts.get(store.kind, 0) <= MAX_TYPE_ONLY:
            loose = StoreHop(kind=store.kind, name=store.name, matched_by="type")
            sites = index.get(None, []) if store.name is not None else [s for v in index.values() for s in v]
            out.extend((s, loose) for s in sorted(sites, key=lambda s: (s.node, s.offset)))
        return out

    def _database_file_reads(self, store: StoreSite) -> list[tuple[StoreSite, StoreHop]]:
        """The file reads of the database a SQLite store writes (:mod:`.db_files`): its file holds the
        table, so reading the file back reads the rows."""
        body = self.graph.body(store.node)
        ins = self._at(store.node, body).get(store.offset) if body is not None else None
        if body is None or ins is None:
            return []
        out: list[tuple[StoreSite, StoreHop]] = []
        for name in self.databases.database_of(store.node, body, ins):
            hop = StoreHop(kind="database_file", name=name, matched_by="name")
            out.extend((s, hop) for s in self._database_reads().get(file_name_key(name), [])[:MAX_READERS])
        return out

    def _database_reads(self) -> dict[str, list[StoreSite]]:
        """The app's file reads that read a database's file, by the file's name (built on first use)."""
        if self._db_reads is not None:
            return self._db_reads
        found: dict[str, list[StoreSite]] = {}
        hits = self._read_sites("file") if "file" in self.specs else []
        for cls, method, off in hits[:MAX_INDEXED]:
            node = MethodId(class_name=cls, method=method)
            body = self.graph.body(node)
            ins = self._at(node, body).get(off) if body is not None else None
            if body is None or ins is None:
                continue
            for name in read_names(body, ins):
                found.setdefault(file_name_key(name), []).append(
                    StoreSite(kind="file", node=node, offset=off, name=name)
                )
        self._db_reads = found
        return found

    def seeds(self, node: MethodId, body: MethodCode, offset: int) -> Seeds:
        """What is tainted in a read's method: the read's result (or, for a constructor, the object made)."""
        ins = self._at(node, body).get(offset)
        if ins is not None and ins.ref and "-><init>(" in ins.ref:
            return Seeds(sites={offset: (False, frozenset({0}))})
        return Seeds(sites={offset: (True, frozenset())})


def match_key(kind: str, name: str | None) -> str | None:
    """What a name is matched by: a file's name without case (shared storage, where harvesters stage
    files, is case-insensitive: FAT, sdcardfs, the emulated volume), any other name as it is."""
    return name.lower() if kind == "file" and name is not None else name
