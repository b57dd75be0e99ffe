"""Hand-offs through a queue: an object put into a queue by one thread and taken by another.

An HTTP library queues each request: the app builds a request object holding
the data and adds it to the library's queue (Volley's ``RequestQueue.add`` puts
it on a ``PriorityBlockingQueue``); a dispatcher thread takes it and makes the
HTTP call (``HttpURLConnection``). When the library is renamed (obfuscated) no
sink is known by name between the two; the framework's queue and connection
calls are. The data search (:mod:`.chains`) asks this module, for a method it
reached with tainted data, which of its calls put the data into a queue
(``rules/flows.yaml``'s ``queues``), and where the app takes an element of
the same queue: a free jump, as a hand-off to another thread is, recorded on
the chain as a :class:`~.facts.StoreHop` of kind ``queue``.

Which queue a call is made on is the field the queue was loaded from; a field
a constructor sets from its parameter (a dispatcher is handed the queue it
serves) stands for the fields its callers pass there, so the library's queue
field names both sides. A put and a take naming the same field are matched
``by name``; when one side's queue is not such a field (a parameter, a local),
they are matched by the element's app class alone (``type``: the put's
declared or made type and the take's ``check-cast`` are one and the same class
or one derives from the other), and that chain stays ``unconfirmed``.

Limits: object-insensitive (every instance of a class's queue field is one
queue); a field set by a setter, or from a constructor's parameter its callers
fill with something other than a field, is matched by type only; an
element typed as a framework class (``Runnable``, ``String``, ``Object``) is
never matched by type; at most ``MAX_INDEXED`` take sites per scan and
``MAX_TAKERS`` per put.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from appaudit.analysis.facts import StoreHop
from appaudit.analysis.graph import CallGraph
from appaudit.analysis.registers import Value, argument_registers, values_at
from appaudit.analysis.search import Hop
from appaudit.analysis.store_names import field_name
from appaudit.analysis.taint import Flow
from appaudit.analysis.targets import calls_target
from appaudit.apk.dex.types import Insn, MethodCode
from appaudit.descriptors import java_desc, java_name
from appaudit.model import MethodId
from appaudit.ruleset.flows import QueueSpec

#: Take sites indexed per scan (past it, further takes are not matched).
MAX_INDEXED = 1000
#: Take sites one put is joined to (the first, in class and method order).
MAX_TAKERS = 8
#: Constructor call sites looked at to resolve a queue field set from a constructor's parameter.
MAX_CONSTRUCTOR_CALLS = 8
#: No queue resolved, and not every queue seen.
_UNRESOLVED: tuple[frozenset[str], bool] = (frozenset(), False)
#: Instructions after a take's ``move-result-object`` within which its ``check-cast`` is looked for.
_CAST_WINDOW = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueSite:
    """A call that puts an element into a queue, or takes one from it."""

    node: MethodId
    offset: int
    queues: frozenset[str]
    """The fields (``pkg.Cls.field``) that hold the queue the call is made on; empty when not resolved."""
    complete: bool
    """``queues`` are every queue the call may be made on (none came in as a parameter or by a setter)."""
    element: str | None
    """The element's app class (Java name): the put's argument type, the take's ``check-cast``; None when
    it is not an app class or not known."""


class QueueIndex:
    """The queue puts and takes of one scan's app, found on demand and remembered."""

    def __init__(self, graph: CallGraph, spec: QueueSpec) -> None:
        self.graph = graph
        self.spec = spec
        self._queue_types = frozenset(t.class_desc for t in (*spec.put, *spec.take))
        self._takes: list[QueueSite] | None = None
        self._resolved: dict[str, tuple[frozenset[str], bool]] = {}

    def hops(self, node: MethodId, body: MethodCode, flow: Flow) -> Iterator[Hop]:
        """Jumps from each call of ``node`` putting tainted data (``flow``) into a queue to the takes of
        that queue's elements: free, as a hand-off to another thread is."""
        for put in self.puts_in(node, body, flow):
            for take, via in self.takers(put):
                yield Hop(to=take.node, offset=put.offset, up=False, free=True, via=via, at=take.offset)

    def puts_in(self, node: MethodId, body: MethodCode, flow: Flow) -> list[QueueSite]:
        """The calls of ``node`` that put a tainted element (its first argument) into a queue."""
        if not flow.calls or not self.spec.put:
            return []
        out: list[QueueSite] = []
        handed = [off for off, args in flow.calls.items() if 1 in args]
        for ins in (self._at(node, body)[off] for off in sorted(handed)) if handed else ():
            if not ins.ref or not calls_target(self.spec.put, ins.ref):
                continue
            recv, params = argument_registers(ins)
            if recv is None or not params:
                continue
            env = values_at(body, ins.offset)
            element = self._app_class(_value_type(body, env.get(params[0])))
            queues, complete = self._queues(body, recv, env.get(recv))
            out.append(QueueSite(node=node, offset=ins.offset, queues=queues, complete=complete, element=element))
        return out

    def _at(self, node: MethodId, body: MethodCode) -> dict[int, Insn]:
        return self.graph.insns_at(node, body)

    def takers(self, put: QueueSite) -> list[tuple[QueueSite, StoreHop]]:
        """The takes of ``put``'s elements elsewhere, each with how the two were matched: the same queue
        field (``name``), or, when one side's queue is not resolved, the same element class (``type``)."""
        out: list[tuple[QueueSite, StoreHop]] = []
        for take in self._index():
            if take.node == put.node:
                continue
            shared = sorted(put.queues & take.queues)
            if shared:
                out.append((take, StoreHop(kind="queue", name=shared[0], matched_by="name")))
            elif not (put.complete and take.complete) and self._related(put.element, take.element):
                name = min(put.queues) if put.queues else None
                out.append((take, StoreHop(kind="queue", name=name, matched_by="type")))
            if len(out) >= MAX_TAKERS:
                break
        return out

    def _related(self, put: str | None, take: str | None) -> bool:
        """The two element classes are one, or one derives from the other."""
        if put is None or take is None:
            return False
        return put == take or take in self.graph.ancestors(put) or put in self.graph.ancestors(take)

    def _app_class(self, desc: str | None) -> str | None:
        name = java_name(desc) if desc and desc.startswith("L") else None
        return name if name is not None and name in self.graph.app_classes else None

    def _index(self) -> list[QueueSite]:
        """Every take of a queue element the app makes (its result kept), built on first use."""
        if self._takes is not None:
            return self._takes
        code = self.graph.code
        found = (h for t in self.spec.take for h in code.invocations(t.class_desc, t.names))
        hits = sorted({(h.class_name, h.method, h.offset) for h in found})
        self._takes = []
        for cls, method, off in hits[:MAX_INDEXED]:
            node = MethodId(class_name=cls, method=method)
            body = self.graph.body(node)
            site = self._take_site(node, body, off) if body is not None else None
            if site is not None:
                self._takes.append(site)
        return self._takes

    def _take_site(self, node: MethodId, body: MethodCode, offset: int) -> QueueSite | None:
        insns = body.insns
        at = next((k for k, i in enumerate(insns) if i.offset == offset), None)
        if at is None or at + 1 >= len(insns) or insns[at + 1].op != "move-result-object":
            return None  # the element is not kept (``remove(Object)`` returns a boolean)
        taken = insns[at + 1].regs[0]
        cast = next(
            (i.ref for i in insns[at + 2 : at + 2 + _CAST_WINDOW] if i.op == "check-cast" and i.regs[0] == taken),
            None,
        )
        recv, _params = argument_registers(insns[at])
        env = values_at(body, offset)
        queues, complete = self._queues(body, recv, env.get(recv)) if recv is not None else _UNRESOLVED
        return QueueSite(node=node, offset=offset, queues=queues, complete=complete, element=self._app_class(cast))

    def _queues(self, body: MethodCode, reg: int, value: Value | None) -> tuple[frozenset[str], bool]:
        """The fields that may hold the queue in ``reg`` (every field of a queue type the method loads into
        that register: branches may load one of several), each resolved through a constructor; and whether
        that is every queue the register may hold (not one passed in as a parameter, or set by a setter)."""
        loaded = {
            i.ref
            for i in body.insns
            if i.op in ("iget-object", "sget-object") and i.regs and i.regs[0] == reg and self._holds_queue(i.ref)
        }
        field = value is not None and value.kind in ("ifield", "field") and bool(value.text)
        if field and value is not None and value.text:
            loaded.add(value.text)
        names: set[str] = set()
        complete = field
        for ref in sorted(r for r in loaded if r):
            found, whole = self._field_queues(ref)
            names |= found
            complete = complete and whole
        return frozenset(names), complete

    def _holds_queue(self, ref: str | None) -> bool:
        """``ref`` is a field whose declared type is one of the queue types."""
        return ref is not None and ref.rpartition(":")[2] in self._queue_types

    def _field_queues(self, ref: str) -> tuple[frozenset[str], bool]:
        """What the field ``ref`` stands for: itself and the fields the callers of a constructor that sets it
        from its parameter pass there; and whether every write of it was so resolved (a setter's parameter,
        or a constructor's filled with something else than a field, is not)."""
        found = self._resolved.get(ref)
        if found is not None:
            return found
        own = field_name(ref)
        names = {own} if own else set()
        complete = True
        code = self.graph.code
        for write in code.instance_writes(ref)[:MAX_CONSTRUCTOR_CALLS]:
            body = code.method_code(write.class_name, write.method)
            ins = _insn_at(body, write.offset) if body is not None else None
            if body is None or ins is None or not ins.regs:
                continue
            stored = values_at(body, write.offset).get(ins.regs[0])
            if stored is None or stored.kind != "param" or not stored.text:
                continue  # made here (``new LinkedBlockingQueue()``): the field names it
            passed = self._passed(body, int(stored.text)) if write.method.startswith("<init>(") else None
            if passed is None or None in passed:
                complete = False
            names |= {p for p in passed or () if p is not None}
        self._resolved[ref] = (frozenset(names), complete)
        return self._resolved[ref]

    def _passed(self, ctor: MethodCode, param: int) -> set[str | None]:
        """The fields the callers of constructor ``ctor`` pass as its parameter ``param`` (None for an
        argument that is not a field)."""
        out: set[str | None] = set()
        for site in self.graph.code.callers(java_desc(ctor.class_name), ctor.method, limit=MAX_CONSTRUCTOR_CALLS):
            caller = self.graph.code.method_code(site.class_name, site.method)
            ins = _insn_at(caller, site.offset) if caller is not None else None
            if caller is None or ins is None or ins.ref is None:
                continue
            _recv, regs = argument_registers(ins)
            arg = values_at(caller, site.offset).get(regs[param]) if param < len(regs) else None
            out.add(field_name(arg.text) if arg is not None and arg.kind in ("ifield", "field") else None)
        return out


def _insn_at(body: MethodCode, offset: int) -> Insn | None:
    return next((i for i in body.insns if i.offset == offset), None)


def _value_type(body: MethodCode, value: Value | None) -> str | None:
    """The type descriptor of what a register holds, as far as its value says (its declaration, not the
    run-time class): a parameter's declared type, the class made, a field's or a call's declared type."""
    if value is None or value.text is None:
        return None
    if value.kind == "param":
        index = int(value.text)
        return body.param_types[index] if index < len(body.param_types) else None
    if value.kind == "this":
        return java_desc(value.text)
    if value.kind == "new":
        return value.text
    if value.kind in ("ifield", "field"):
        return value.text.rpartition(":")[2]
    if value.kind == "call":
        return value.text.rpartition(")")[2]
    return None
