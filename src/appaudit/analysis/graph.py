"""The app's call graph, built on demand for the methods a search visits.

Edges down: calls to app methods (with virtual and interface dispatch to the
app's subclasses and implementations) and hand-offs (constructing a Runnable,
AsyncTask, Worker, ... runs its callback later). Edges up: the call sites of a
method (also through the supertypes that declare it) and, for a hand-off
callback, the places that construct its class.
"""

from __future__ import annotations

import re
from functools import cached_property

from appaudit.apk.dex.types import CodeHit, CodeIndex, Insn, MethodCode
from appaudit.descriptors import java_desc, java_name
from appaudit.model import MethodId
from appaudit.ruleset.flows import FlowSpec

#: Implementations followed per virtual/interface call.
MAX_DISPATCH = 16
#: Call sites followed up from one method: past this it is a utility everything calls.
MAX_CALLERS = 40
#: Classes looked at when resolving one virtual call to implementations.
MAX_HIERARCHY_WALK = 200
#: Supertype levels walked when looking for an async base type or a declaring type.
MAX_SUPER_DEPTH = 6


def split_ref(ref: str) -> tuple[str, str]:
    """``Lc;->m(p)r`` -> (``c`` as Java name, ``m(p)r``)."""
    owner, _, rest = ref.partition("->")
    return java_name(owner), rest


#: A framework call that takes a task object (``Thread(Runnable)``, ``execute(Runnable)``, ``submit(Callable)``).
_TASK_PARAM = re.compile(r"\(.*L(java/lang/Runnable|java/util/concurrent/Callable|java/util/TimerTask);")


#: Instructions after a ``const-class`` looked at for the ``monitor-enter`` of a lock (``is_lock``).
_LOCK_WINDOW = 4


def is_lock(body: MethodCode, offset: int, at: int | None = None) -> bool:
    """The ``const-class`` at ``offset`` (index ``at`` among the instructions, when known) loads a class only
    to lock on it (a ``synchronized`` static method, ``synchronized (X.class)``): the next instruction using
    its register, within a few, is ``monitor-enter``. Such a class is not handed work: naming it is no Intent
    to a component."""
    insns = body.insns
    if at is None:
        at = next((i for i, ins in enumerate(insns) if ins.offset == offset), None)
    if at is None or insns[at].op != "const-class" or not insns[at].regs:
        return False
    reg = insns[at].regs[0]
    for ins in insns[at + 1 : at + 1 + _LOCK_WINDOW]:
        if reg in ins.regs:
            return ins.op == "monitor-enter"
    return False


class CallGraph:
    """Lazy call graph over a CodeIndex."""

    def __init__(self, code: CodeIndex, flows: FlowSpec) -> None:
        self.code = code
        self.flows = flows
        self._down: dict[MethodId, list[tuple[int, MethodId]]] = {}
        self._up: dict[MethodId, list[tuple[MethodId, int]]] = {}
        self._ancestors: dict[str, tuple[str, ...]] = {}
        self._impls: dict[tuple[str, str], list[str]] = {}
        self._walks: dict[str, tuple[str, ...]] = {}
        self._defines: dict[str, frozenset[str]] = {}
        self._targets: dict[tuple[str, str], tuple[MethodId, ...]] = {}
        """Per invoke (mnemonic, reference): the app methods it may run, resolved once per scan (a method
        ``down`` reads calls the same references as many others), each callee one shared MethodId."""
        self._async: dict[tuple[str, str], tuple[MethodId, ...]] = {}
        self._names: dict[tuple[str, str], frozenset[str]] = {}
        self._call_refs: dict[MethodId, dict[int, str]] = {}
        self._insns_at: dict[MethodId, dict[int, Insn]] = {}
        self.handoffs: set[tuple[MethodId, MethodId]] = set()
        """(from, to) edges that hand work to another thread or component (``Thread.start()`` to
        ``run()``, an Intent to a Service): the same logical call, run later."""

    @cached_property
    def app_classes(self) -> frozenset[str]:
        return self.code.defined_classes()

    def body(self, node: MethodId) -> MethodCode | None:
        return self.code.method_code(node.class_name, node.method)

    def ancestors(self, cls: str) -> tuple[str, ...]:
        """Supertypes of ``cls`` (classes and interfaces, Java names), nearest first."""
        if cls in self._ancestors:
            return self._ancestors[cls]
        out: list[str] = []
        frontier = [cls]
        for _ in range(MAX_SUPER_DEPTH):
            nxt = []
            for c in frontier:
                sup = self.code.supertypes(c)
                if sup is None:
                    continue
                for parent in (sup[0], *sup[1]):
                    if parent and parent not in out:
                        out.append(parent)
                        nxt.append(parent)
            frontier = nxt
        self._ancestors[cls] = tuple(out)
        return self._ancestors[cls]

    def implementations(self, cls: str, method: str) -> list[str]:
        """The app classes (``cls`` and its subtypes) defining ``method``: what a virtual call may run
        (at most :data:`MAX_DISPATCH`)."""
        return self._implementations(cls, method)

    def _implementations(self, cls: str, method: str) -> list[str]:
        key = (cls, method)
        cached = self._impls.get(key)
        if cached is not None:
            return cached
        found: list[str] = []
        for c in self._walk(cls):
            if len(found) >= MAX_DISPATCH:
                break
            if c in self.app_classes and method in self.defines(c):
                found.append(c)
        self._impls[key] = found
        return found

    def _walk(self, cls: str) -> tuple[str, ...]:
        """``cls`` and its subtypes in the order a dispatch look-up visits them (depth first, the last
        subtype first), until :data:`MAX_HIERARCHY_WALK` classes are known: the same for every method
        name, so walked once per class and scan (the look-up then stops at :data:`MAX_DISPATCH` found)."""
        known = self._walks.get(cls)
        if known is not None:
            return known
        order: list[str] = []
        frontier = [cls] if cls != "java.lang.Object" else []
        seen = {cls}
        while frontier and len(seen) < MAX_HIERARCHY_WALK:
            c = frontier.pop()
            order.append(c)
            for sub in self.code.subtypes(c):
                if sub not in seen:
                    seen.add(sub)
                    frontier.append(sub)
        self._walks[cls] = tuple(order)
        return self._walks[cls]

    def defines(self, cls: str) -> frozenset[str]:
        """The methods (``name(params)ret``) the app's class ``cls`` defines, as a set (asked per class
        and method name by every dispatch look-up)."""
        known = self._defines.get(cls)
        if known is None:
            known = self._defines[cls] = frozenset(self.code.methods_of(cls))
        return known

    def _call_targets(self, op: str, cls: str, method: str) -> list[str]:
        """The app classes whose ``method`` an invoke of ``cls.method`` may run."""
        if op.startswith("invoke-super"):
            return self._super_target(cls, method)
        if op.startswith(("invoke-virtual", "invoke-interface")):
            return self._implementations(cls, method)
        return [cls]

    def _super_target(self, cls: str, method: str) -> list[str]:
        """The one method ``invoke-super`` on ``cls`` runs: the nearest definition in ``cls`` or its app
        superclasses (none when the framework defines it). A super call is statically bound, so it never
        dispatches down to subclasses (``super.onStartCommand()`` of one service is not a call to
        every other service's ``onStartCommand``)."""
        for owner in (cls, *self.ancestors(cls)):
            if owner not in self.app_classes:
                continue
            if method in self.defines(owner):
                return [owner]
        return []

    def _async_names(self, cls: str, via: str) -> frozenset[str]:
        """Names of the callbacks a hand-off type ``cls`` derives from runs later (e.g. ``run``)."""
        key = (cls, via)
        known = self._names.get(key)
        if known is None:
            ancestors = set(self.ancestors(cls))
            known = self._names[key] = frozenset(
                m
                for h in self.flows.async_handoffs
                if h.via == via and java_name(h.type_desc) in ancestors
                for m in h.methods
            )
        return known

    def _async_methods(self, cls: str, via: str = "new-instance") -> list[str]:
        """Callbacks of ``cls`` run later by a hand-off it derives from (e.g. ``run()V``)."""
        names = self._async_names(cls, via)
        return [m for m in self.code.methods_of(cls) if m.split("(", 1)[0] in names] if names else []

    def async_targets(self, cls: str, via: str = "new-instance") -> list[MethodId]:
        """The callbacks an object of ``cls`` runs when handed over, defined in ``cls`` or inherited from an
        app superclass (the nearest definition of each)."""
        return list(self._async_targets(cls, via))

    def _async_targets(self, cls: str, via: str) -> tuple[MethodId, ...]:
        key = (cls, via)
        known = self._async.get(key)
        if known is not None:
            return known
        names = self._async_names(cls, via)
        found: dict[str, MethodId] = {}
        for owner in (cls, *(a for a in self.ancestors(cls) if a in self.app_classes)) if names else ():
            for m in self.code.methods_of(owner):
                if m.split("(", 1)[0] in names:
                    found.setdefault(m, MethodId(class_name=owner, method=m))
        self._async[key] = tuple(sorted(found.values()))
        return self._async[key]

    def down(self, node: MethodId) -> list[tuple[int, MethodId]]:
        """(call offset, callee) for every app method ``node`` calls or hands work to."""
        known = self._down.get(node)
        if known is not None:
            return known
        out: list[tuple[int, MethodId]] = []
        body = self.body(node)
        this = body.first_param_register if body is not None and not body.is_static else None
        for index, insn in enumerate(body.insns if body else ()):
            ref = insn.ref
            if ref is None:
                continue
            if insn.op.startswith("invoke") and insn.ref_kind == "method":
                if this is not None and this in insn.regs[1:] and _TASK_PARAM.search(ref):
                    # ``new Thread(this)``, ``executor.execute(this)``: the object hands itself over
                    for target in self._async_targets(node.class_name, "new-instance"):
                        out.append((insn.offset, target))
                        self.handoffs.add((node, target))
                targets = self._targets.get((insn.op, ref))
                if targets is None:
                    targets = self._resolve(insn.op, ref)
                out.extend((insn.offset, t) for t in targets)
            elif insn.op in ("new-instance", "const-class"):
                cls = java_name(ref)
                locks = insn.op == "const-class" and body is not None and is_lock(body, insn.offset, index)
                if cls in self.app_classes and not locks:
                    for target in self._async_targets(cls, insn.op):
                        out.append((insn.offset, target))
                        self.handoffs.add((node, target))
        self._down[node] = out
        return out

    def _resolve(self, op: str, ref: str) -> tuple[MethodId, ...]:
        """The app methods an ``op`` of ``ref`` may run (none for a framework method no app class
        overrides), remembered for the scan."""
        cls, method = split_ref(ref)
        found: tuple[MethodId, ...] = ()
        if cls in self.app_classes or self.code.subtypes(cls):
            found = tuple(MethodId(class_name=t, method=method) for t in self._call_targets(op, cls, method))
        self._targets[(op, ref)] = found
        return found

    def up(self, node: MethodId) -> list[tuple[MethodId, int]]:
        """(caller, call offset) for every place that calls ``node`` or constructs its hand-off class."""
        if node in self._up:
            return self._up[node]
        cls, method = node.class_name, node.method
        sites: list[CodeHit] = []
        # Supertypes the app defines: a call through a framework type (Runnable.run,
        # Activity.onCreate) is dispatch by the system or a hand-off, handled elsewhere.
        for owner in (cls, *(a for a in self.ancestors(cls) if a in self.app_classes)):
            if len(sites) >= MAX_CALLERS:
                break
            sites.extend(self.code.callers(java_desc(owner), method, limit=MAX_CALLERS))
        handed: list[CodeHit] = []
        for via in ("new-instance", "const-class"):
            if method in self._async_methods(cls, via):
                hits = self.code.instantiations(cls, via)
                handed.extend(h for h in hits if via != "const-class" or not self._lock(h))
        self.handoffs.update((MethodId(class_name=s.class_name, method=s.method), node) for s in handed)
        # Sorted as plain strings first: comparing MethodIds would cost a Python call per comparison.
        found = sorted({(s.class_name, s.method, s.offset) for s in (*sites, *handed)})
        out = [(MethodId(class_name=c, method=m), off) for c, m, off in found]
        self._up[node] = out
        return out

    def _lock(self, hit: CodeHit) -> bool:
        body = self.code.method_code(hit.class_name, hit.method)
        return body is not None and is_lock(body, hit.offset)

    def call_refs(self, node: MethodId) -> dict[int, str]:
        """Offset -> method reference of every invoke in ``node``, made once per method and scan (the data
        search asks which calls handed tainted data on escape, by offset)."""
        known = self._call_refs.get(node)
        if known is None:
            body = self.body(node)
            insns = body.insns if body is not None else ()
            known = self._call_refs[node] = {i.offset: i.ref for i in insns if i.ref and i.op.startswith("invoke")}
        return known

    def insns_at(self, node: MethodId, body: MethodCode) -> dict[int, Insn]:
        """Offset -> instruction of ``body`` (``node``'s code), made once per method and scan (the storage and
        queue indexes look instructions up by the offsets a flow or a site table names)."""
        known = self._insns_at.get(node)
        if known is None:
            known = self._insns_at[node] = {i.offset: i for i in body.insns}
        return known

    def strings(self, node: MethodId) -> list[str]:
        body = self.body(node)
        return [i.ref for i in body.insns if i.ref_kind == "string" and i.ref] if body else []
