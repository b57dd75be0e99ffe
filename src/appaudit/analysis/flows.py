"""Harvest chains: read -> bulk -> leaves the device -> at start-up.

From each read of protected data (a resolved provider query, an incoming-SMS
decode) a bounded search looks for a method that sends data off the device:
first up through the callers (the data is returned), then down through what
they call (the data is passed on), along the app's call graph
(``graph.CallGraph``), within ``CHAIN_DEPTH`` calls (hand-offs to another
thread or component cost none). The search follows the data first
(``analysis.taint``: chains marked ``confirmed``), then calls alone for the
channels the data was not followed to (``unconfirmed``).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import cached_property, lru_cache
from typing import TypeVar

from appaudit import deadline
from appaudit.analysis.depth import CHAIN_DEPTH
from appaudit.analysis.facts import ChainStep, HarvestChain, HarvestFacts, ProviderAccess, StartupPath
from appaudit.analysis.graph import CallGraph, Node
from appaudit.analysis.providers import ProviderClassifier, ProviderQuery, provider_queries
from appaudit.analysis.registers import Value, argument_registers, values_at
from appaudit.analysis.taint import Flow, Seeds, analyse
from appaudit.apk.app import AppInfo
from appaudit.apk.dex.types import CodeIndex, MethodCode
from appaudit.descriptors import java_desc, java_name
from appaudit.model import PROTECTED_CLASSES, Channel, Dataflow, Evidence, EvidenceKind, Trigger
from appaudit.ruleset.flows import ApiTarget, FlowSpec

#: Steps from a manifest entry point back to a read.
STARTUP_DEPTH = 6
#: Methods one search may visit before it gives up (bounds time on huge apps).
MAX_VISITS = 400
#: Methods all searches of one scan may visit together. Each visit of a new
#: method looks up its callers across every DEX, so on apps with many reads the
#: total, not each search, is what grows; past it the remaining searches are
#: skipped and the report says so (coverage reason ``search_budget``).
MAX_TOTAL_VISITS = 3000


#: A chain search's queue item: (method, phase 0 = going up / 1 = down, cost so far, path).
_Item = tuple[Node, int, int, tuple[ChainStep, ...]]
#: The data-following search's item: the same, with what the data did in the method and whether it
#: was published (to a Handler, queue or broadcast) on the way.
_DataItem = tuple[Node, int, int, tuple[ChainStep, ...], Flow, bool]
_T = TypeVar("_T")
#: A sink found in a method: (channel, the call, URL strings of the method).
_Sink = tuple[Channel, Evidence, tuple[str, ...]]


class SearchBudget:
    """Visits left for the chain and start-up searches of one scan."""

    def __init__(self, total: int = MAX_TOTAL_VISITS) -> None:
        self.left = total
        self.exhausted = False

    def take(self) -> bool:
        if self.left <= 0:
            self.exhausted = True
            return False
        self.left -= 1
        return True


_URL = re.compile(r"(https?|wss?)://\S+|/?[A-Za-z0-9_.-]+(/[A-Za-z0-9_.{}-]+){1,}")
_SMS_EVENTS = ("android.provider.Telephony.SMS_RECEIVED", "android.provider.Telephony.SMS_DELIVER")
_CALL_EVENTS = ("android.intent.action.PHONE_STATE", "android.intent.action.NEW_OUTGOING_CALL")


def _object_type(value: Value, params: tuple[str, ...]) -> str | None:
    """The static type of an object value, when the pass knows it."""
    if value.kind == "new":
        return value.text
    if value.kind == "call" and value.text:
        return value.text.rsplit(")", 1)[-1]
    if value.kind in ("field", "ifield") and value.text:
        return value.text.rsplit(":", 1)[-1]
    if value.kind == "param" and value.text is not None:
        return params[int(value.text)]
    return None


def _matches(targets: tuple[ApiTarget, ...], ref: str) -> bool:
    owner, _, rest = ref.partition("->")
    return (owner, rest.split("(", 1)[0]) in _method_set(targets)


@lru_cache(maxsize=256)
def _method_set(targets: tuple[ApiTarget, ...]) -> frozenset[tuple[str, str]]:
    """(class descriptor, method name) of every target, for one set lookup per call site."""
    return frozenset((t.class_desc, name) for t in targets for name in t.names)


def _in_loop(graph: CallGraph, node: Node, targets: tuple[ApiTarget, ...]) -> bool:
    """``node`` calls one of ``targets`` inside a loop (a backward branch spans the call)."""
    body = graph.body(node)
    if body is None:
        return False
    calls = [i.offset for i in body.insns if i.op.startswith("invoke") and i.ref and _matches(targets, i.ref)]
    if not calls:
        return False
    back = [(i.target, i.offset) for i in body.insns if i.target is not None and i.target <= i.offset]
    return any(t <= c <= b for c in calls for t, b in back)


def is_bulk(graph: CallGraph, query: ProviderQuery, flows: FlowSpec) -> bool:
    """The cursor of ``query`` is iterated in a loop, in its method or where the cursor goes next."""
    node = (query.site.class_name, query.site.method)
    if _in_loop(graph, node, flows.cursor_iteration):
        return True
    cursor_takers = [callee for _off, callee in graph.down(node) if "Landroid/database/Cursor;" in callee[1]]
    callers = [caller for caller, _off in graph.up(node)[:8]] if node[1].endswith("Landroid/database/Cursor;") else []
    return any(_in_loop(graph, n, flows.cursor_iteration) for n in cursor_takers + callers)


class ChainFinder:
    """Searches sinks reachable from reads."""

    def __init__(self, graph: CallGraph, flows: FlowSpec, depth: int = CHAIN_DEPTH) -> None:
        self.graph = graph
        self.flows = flows
        self.depth = depth
        self._sinks: dict[Node, list[_Sink]] = {}
        self._flows: dict[tuple[object, ...], Flow] = {}

    @cached_property
    def js_bridges(self) -> dict[str, Evidence]:
        """App classes whose objects are handed to ``WebView.addJavascriptInterface`` -> that call.

        Every public method of such an object can be called by the page's
        JavaScript, so what it returns is handed to web content: a network sink.
        """
        bridges: dict[str, Evidence] = {}
        for site in self.graph.code.invocations("Landroid/webkit/WebView;", ["addJavascriptInterface"]):
            body = self.graph.body((site.class_name, site.method))
            insn = next((i for i in body.insns if i.offset == site.offset), None) if body else None
            if body is None or insn is None or insn.ref is None:
                continue
            _recv, regs = argument_registers(insn)
            value = values_at(body, site.offset).get(regs[0]) if regs else None
            desc = _object_type(value, body.param_types) if value is not None else None
            if desc is not None and java_name(desc) in self.graph.app_classes:
                bridges.setdefault(java_name(desc), site.to_evidence())
        return bridges

    def sinks_in(self, node: Node) -> list[_Sink]:
        """(channel, sink evidence, URL strings) for each sink call in ``node``."""
        if node in self._sinks:
            return self._sinks[node]
        found: list[_Sink] = []
        bridge = self.js_bridges.get(node[0])
        if bridge is not None and not node[1].startswith("<"):
            found.append((Channel.NETWORK, replace(bridge, value=f"JavaScript bridge: {bridge.value}"), ()))
        for atype, _elements in self.graph.code.annotations_of(*node):
            if atype == "Landroid/webkit/JavascriptInterface;":
                marker = Evidence(
                    kind=EvidenceKind.INVOKE, value="@JavascriptInterface method", class_name=node[0], method=node[1]
                )
                found.append((Channel.NETWORK, marker, ()))
        annotated_sinks: list[_Sink] = []
        urls = tuple(sorted({s for s in self.graph.strings(node) if _URL.fullmatch(s)}))[:5]
        for ev in self.graph.invokes(node):
            annotated = self._annotated_sink(ev)
            if annotated:  # an app's Retrofit-style upload method says more than Call.execute
                annotated_sinks.extend((ch, sink, paths + urls) for ch, sink, paths in annotated)
                continue
            for channel, targets in self.flows.sinks:
                if _matches(targets, ev.value):
                    found.append((channel, ev, urls))
                    break
        self._sinks[node] = annotated_sinks + found
        return self._sinks[node]

    def _annotated_sink(self, ev: Evidence) -> list[_Sink]:
        owner, _, method = ev.value.partition("->")
        cls = java_name(owner)
        if cls not in self.graph.app_classes:
            return []
        for atype, elements in self.graph.code.annotations_of(cls, method):
            if atype in self.flows.network_annotations:
                paths = tuple(v for k, v in elements if k == "value")
                return [(Channel.NETWORK, ev, paths)]
        return []

    def transformers(self, nodes: Sequence[Node]) -> tuple[str, ...]:
        seen = set()
        for node in nodes:
            for ev in self.graph.invokes(node):
                for kind, targets in self.flows.transformers:
                    if _matches(targets, ev.value):
                        owner, _, rest = ev.value.partition("->")
                        seen.add(f"{kind}: {java_name(owner)}.{rest.split('(', 1)[0]}")
        return tuple(sorted(seen))

    def search(
        self, data_class: str, read: Evidence, budget: SearchBudget | None = None, also: Sequence[int] = ()
    ) -> list[HarvestChain]:
        """The shortest chain per channel from ``read`` to a sink.

        First along the data (:meth:`follow_data`: chains marked ``confirmed``), then, for channels
        the data was not followed to, along calls alone (:meth:`follow_calls`: ``unconfirmed``).
        """
        chains = self.follow_data(data_class, read, budget, also)
        for chain in self.follow_calls(data_class, read, budget, skip=frozenset(chains)):
            chains.setdefault(chain.channel, chain)
        return [chains[c] for c in sorted(chains)]

    def _chain(
        self, data_class: str, read: Evidence, path: tuple[ChainStep, ...], node: Node, found: _Sink, dataflow: Dataflow
    ) -> HarvestChain:
        channel, sink, urls = found
        steps = (*path[:-1], ChainStep(class_name=node[0], method=node[1], offset=sink.offset))
        return HarvestChain(
            data_class=data_class,
            read=read,
            steps=steps,
            channel=channel,
            sink=sink,
            transformers=self.transformers([(s.class_name, s.method) for s in steps]),
            urls=urls,
            dataflow=dataflow,
        )

    def follow_calls(
        self, data_class: str, read: Evidence, budget: SearchBudget | None = None, skip: frozenset[str] = frozenset()
    ) -> list[HarvestChain]:
        """Chains by calls alone: up through callers (the data is returned), then down through callees.

        A hop costs 1, except a hand-off to another thread or component (``Thread.start()`` to
        ``run()``, ``execute()`` to ``doInBackground()``, an Intent to a Service), which costs 0:
        it is the same logical call, and Android forbids network calls on the main thread, so
        nearly every upload sits behind one. Searched cheapest first (0-1 breadth-first).
        """
        start: Node = (read.class_name or "", read.method or "")
        queue: deque[_Item] = deque(
            [(start, 0, 0, (ChainStep(class_name=start[0], method=start[1], offset=read.offset),))]
        )
        seen = {(start, 0)}
        chains: dict[str, HarvestChain] = {}
        handoffs = self.graph.handoffs

        def visit(item: _Item) -> None:
            node, phase, cost, path = item
            for found in self.sinks_in(node):
                if found[0] not in chains and found[0] not in skip:
                    chains[found[0]] = self._chain(data_class, read, path, node, found, Dataflow.UNCONFIRMED)
            if phase == 0:
                for caller, off in self.graph.up(node):
                    if (caller, 0) not in seen:
                        free = (caller, node) in handoffs
                        if cost + (not free) > self.depth:
                            continue
                        seen.add((caller, 0))
                        step = ChainStep(class_name=caller[0], method=caller[1], offset=off)
                        _push(queue, (caller, 0, cost + (not free), (*path, step)), free)
            for off, callee in self.graph.down(node):
                if (callee, 1) not in seen:
                    free = (node, callee) in handoffs
                    if cost + (not free) > self.depth:
                        continue
                    seen.add((callee, 1))
                    here = ChainStep(class_name=node[0], method=node[1], offset=off)
                    step = ChainStep(class_name=callee[0], method=callee[1])
                    _push(queue, (callee, 1, cost + (not free), (*path[:-1], here, step)), free)

        _drain(queue, visit, budget)
        return [chains[c] for c in sorted(chains)]

    def follow_data(
        self, data_class: str, read: Evidence, budget: SearchBudget | None = None, also: Sequence[int] = ()
    ) -> dict[str, HarvestChain]:
        """Chains along which the data read is followed (:mod:`.taint`), by channel.

        The same search as :meth:`follow_calls` (costs, depth, hand-offs), but a hop is taken only
        when the data goes with it: down a call that gets tainted arguments, up to a caller when the
        method returns tainted data or fills an argument, across a hand-off when the object handed
        on (or, for a component, the method handing it over) holds tainted data, or when tainted
        data was published to a Handler, queue or broadcast on the way. Fields written with tainted
        data travel with the path. A sink counts when tainted data is handed to a call in its method.
        """
        start: Node = (read.class_name or "", read.method or "")
        body = self.graph.body(start)
        if body is None:
            return {}
        reads = {read.offset or 0, *also}  # every read of the class in this method is a source
        first = self._analyse(start, body, Seeds(sites={o: (True, frozenset()) for o in sorted(reads)}), frozenset())
        origin = ChainStep(class_name=start[0], method=start[1], offset=read.offset)
        queue: deque[_DataItem] = deque([(start, 0, 0, (origin,), first, self._published(body, first))])
        seen = {(start, 0)}
        chains: dict[str, HarvestChain] = {}
        handoffs = self.graph.handoffs

        def visit(item: _DataItem) -> None:
            node, phase, cost, path, flow, published = item
            handed = set(flow.calls) - (reads if node == start else set())
            if handed:
                for found in self.sinks_in(node):
                    if found[0] not in chains:
                        chains[found[0]] = self._chain(data_class, read, path, node, found, Dataflow.CONFIRMED)
            nexts: list[tuple[Node, int, int, Seeds, bool, bool]] = []  # node, phase, offset, seeds, free, up
            if phase == 0:
                for caller, off in self.graph.up(node):
                    free = (caller, node) in handoffs
                    if free:  # back across a hand-off: only fields or a publication carry the data
                        if flow.fields or published:
                            nexts.append((caller, 0, off, Seeds(), True, True))
                    elif flow.returns or flow.params_out or flow.fields:
                        nexts.append((caller, 0, off, Seeds(sites={off: (flow.returns, flow.params_out)}), False, True))
            for off, callee in self.graph.down(node):
                free = (node, callee) in handoffs
                if free:
                    nexts.append((callee, 1, off, self._handoff_seeds(node, off, callee, flow, published), True, False))
                elif flow.calls.get(off) or flow.fields:
                    nexts.append((callee, 1, off, Seeds(params=flow.calls.get(off, frozenset())), False, False))
            for target, tphase, off, seeds, free, up in nexts:
                if (target, tphase) in seen or cost + (not free) > self.depth:
                    continue
                target_body = self.graph.body(target)
                if target_body is None:
                    continue
                tflow = self._analyse(target, target_body, seeds, flow.fields)
                passes_through = free and up and published  # a constructor linking two hand-offs
                if not tflow.tainted and not passes_through:
                    continue
                seen.add((target, tphase))
                tflow = _with_fields(tflow, flow.fields)
                tpublished = published or self._published(target_body, tflow)
                if up:
                    tpath = (*path, ChainStep(class_name=target[0], method=target[1], offset=off))
                else:
                    here = ChainStep(class_name=node[0], method=node[1], offset=off)
                    tpath = (*path[:-1], here, ChainStep(class_name=target[0], method=target[1]))
                _push(queue, (target, tphase, cost + (not free), tpath, tflow, tpublished), free)

        _drain(queue, visit, budget)
        return chains

    def _analyse(self, node: Node, body: MethodCode, seeds: Seeds, fields: frozenset[str]) -> Flow:
        """:func:`.taint.analyse`, remembered for the scan (reads of one app meet the same methods)."""
        key = (node, seeds.params, tuple(sorted(seeds.sites.items())), fields)
        flow = self._flows.get(key)
        if flow is None:
            flow = self._flows[key] = analyse(body, seeds, fields)
        return flow

    def _handoff_seeds(self, node: Node, off: int, callee: Node, flow: Flow, published: bool) -> Seeds:
        """What is tainted in a hand-off's callback (``run()``, ``onStartCommand()``...)."""
        body = self.graph.body(callee)
        everything = frozenset(range(body.ins_size)) if body is not None else frozenset()
        if published:
            return Seeds(params=everything)
        src = self.graph.body(node)
        via = next((i.op for i in src.insns if i.offset == off), "") if src is not None else ""
        if via == "new-instance":  # a task object that received the data (constructor, setter, execute(data)):
            # ``this`` holds it, and the callback's parameters get what execute() was given
            return Seeds(params=everything if off in flow.objects else frozenset())
        if via.startswith("invoke"):  # the object handed itself over (``new Thread(this)``): as it was
            return Seeds(params=frozenset({0}) if flow.calls.get(off) else frozenset())
        return Seeds(params=everything if flow.calls else frozenset())  # an Intent carrying the data

    def _published(self, body: MethodCode, flow: Flow) -> bool:
        """Tainted data handed to a Handler, queue, broadcast or event bus (read by a callback later)."""
        if not flow.calls:
            return False
        for ins in body.insns:
            if ins.offset not in flow.calls or not ins.ref:
                continue
            if _matches(self.flows.publishers, ins.ref):
                return True
            owner, _, rest = ins.ref.partition("->")
            if java_name(owner) in self.graph.app_classes:  # an app's Handler subclass, a queue wrapper...
                for base in self.graph.ancestors(java_name(owner)):
                    if _matches(self.flows.publishers, f"{java_desc(base)}->{rest}"):
                        return True
        return False


def _with_fields(flow: Flow, fields: frozenset[str]) -> Flow:
    """``flow`` with the tainted fields of the path so far (they stay tainted further on)."""
    return flow if fields <= flow.fields else replace(flow, fields=flow.fields | fields)


def _drain(queue: deque[_T], visit: Callable[[_T], None], budget: SearchBudget | None) -> None:
    """Visit queued items until the queue, the per-search visits or the scan's budget run out."""
    visits = 0
    while queue and visits < MAX_VISITS and (budget is None or budget.take()):
        deadline.check()
        visits += 1
        visit(queue.popleft())


def _push(queue: deque[_T], item: _T, free: bool) -> None:
    """0-1 breadth-first order: a free hop is explored before the costly ones already queued."""
    if free:
        queue.appendleft(item)
    else:
        queue.append(item)


def _entries(app: AppInfo, flows: FlowSpec, graph: CallGraph) -> dict[tuple[str, str], tuple[Trigger, str]]:
    """(class, method name) -> (trigger, entry label) for every callback the system calls unasked."""
    table: dict[tuple[str, str], tuple[Trigger, str]] = {}

    def add(cls: str, kind: str, trigger: Trigger) -> None:
        for c in (cls, *(a for a in graph.ancestors(cls) if a in graph.app_classes)):
            for name in flows.entry_methods(kind):
                table.setdefault((c, name), (trigger, f"{cls}.{name}"))

    if app.application_class:
        add(app.application_class, "application", Trigger.STARTUP)
    for name in app.launcher_activities:
        add(name, "launcher", Trigger.STARTUP)
    for comp in app.components:
        if comp.kind == "service":
            add(comp.name, "service", Trigger.STARTUP)
        elif comp.kind == "provider":
            add(comp.name, "provider", Trigger.STARTUP)
        elif comp.kind == "receiver":
            if any(a in flows.boot_actions for a in comp.actions):
                add(comp.name, "boot_receiver", Trigger.BOOT)
            elif any(a in _SMS_EVENTS + _CALL_EVENTS for a in comp.actions):
                add(comp.name, "boot_receiver", Trigger.EVENT)
    return table


def startup_path(
    graph: CallGraph,
    entries: dict[tuple[str, str], tuple[Trigger, str]],
    data_class: str,
    read: Evidence,
    budget: SearchBudget | None = None,
) -> StartupPath | None:
    """The shortest way from a manifest entry point to ``read`` (searching callers backwards).

    The nearest entry wins, an event (an incoming SMS or call) included: preferring a farther
    start-up entry was measured worse on the corpus (at-start-up agreement with the hand traces
    0.77 -> 0.67), since services reached that way are mostly started by C2 commands.
    """
    start: Node = (read.class_name or "", read.method or "")
    queue: deque[tuple[Node, tuple[ChainStep, ...]]] = deque(
        [(start, (ChainStep(class_name=start[0], method=start[1], offset=read.offset),))]
    )
    seen = {start}
    visits = 0
    while queue and visits < MAX_VISITS and (budget is None or budget.take()):
        deadline.check()
        node, path = queue.popleft()
        visits += 1
        hit = entries.get((node[0], node[1].split("(", 1)[0]))
        if hit is not None:
            trigger, label = hit
            steps = tuple(reversed(path))
            return StartupPath(
                data_class=data_class,
                trigger=trigger,
                entry=label,
                steps=steps,
                asks_permission_first=_asks_first(graph, steps),
            )
        if len(path) > STARTUP_DEPTH:
            continue
        for caller, off in graph.up(node):
            if caller not in seen:
                seen.add(caller)
                queue.append((caller, (*path, ChainStep(class_name=caller[0], method=caller[1], offset=off))))
    return None


def _asks_first(graph: CallGraph, steps: Sequence[ChainStep]) -> bool:
    """Some method on a start-up path calls ``requestPermissions`` before the call leading on (or the read)."""
    for step in steps:
        body = graph.body((step.class_name, step.method))
        if body is None:
            continue
        for ins in body.insns:
            if step.offset is not None and ins.offset >= step.offset:
                break
            if ins.op.startswith("invoke") and ins.ref and "->requestPermissions(" in ins.ref:
                return True
    return False


def harvest_facts(
    app: AppInfo, code: CodeIndex, flows: FlowSpec, classifier: ProviderClassifier, depth: int = CHAIN_DEPTH
) -> HarvestFacts:
    """Provider accesses, SMS decodes, chains to sinks and start-up paths for the protected classes.

    Under a time cap (``deadline``) the search stops where the cap passes and
    returns what it has proven so far.
    """
    accesses: list[ProviderAccess] = []
    sms: list[Evidence] = []
    chains: list[HarvestChain] = []
    startup: list[StartupPath] = []
    budget = SearchBudget()
    try:
        graph = CallGraph(code, flows)
        queries = provider_queries(code, flows, classifier)
        reads: list[tuple[str, Evidence]] = []
        for q in queries:
            if q.data_class not in PROTECTED_CLASSES or q.uri is None:
                continue
            deadline.check()
            ev = q.site.to_evidence()
            accesses.append(
                ProviderAccess(
                    data_class=q.data_class, uri=q.uri, how=q.how, bulk=is_bulk(graph, q, flows), evidence=ev
                )
            )
            reads.append((q.data_class, ev))
        sms = [h.to_evidence() for t in flows.sms_receive for h in code.invocations(t.class_desc, t.names)]
        reads.extend(("sms", ev) for ev in sms)

        finder = ChainFinder(graph, flows, depth)
        entries = _entries(app, flows, graph)
        done_chains: set[tuple[str, tuple[str, str]]] = set()
        done_startup: set[str] = set()
        paths: dict[tuple[str, str], StartupPath | None] = {}  # per reading method: its path, if any
        offsets: dict[tuple[str, Node], set[int]] = {}  # every read of a class in a method is a source
        for dc, ev in reads:
            offsets.setdefault((dc, (ev.class_name or "", ev.method or "")), set()).add(ev.offset or 0)
        for dc, ev in sorted(set(reads), key=lambda r: (r[0], r[1].sort_key())):
            method = (ev.class_name or "", ev.method or "")
            if (dc, method) not in done_chains:
                done_chains.add((dc, method))
                for chain in finder.search(dc, ev, budget, also=sorted(offsets[(dc, method)])):
                    known = [i for i, c in enumerate(chains) if c.data_class == dc and c.channel == chain.channel]
                    if not known:
                        chains.append(chain)
                    elif chain.dataflow == Dataflow.CONFIRMED and chains[known[0]].dataflow != Dataflow.CONFIRMED:
                        chains[known[0]] = chain  # a chain the data is seen to travel beats one it may not
            if dc not in done_startup:
                if method not in paths:  # a method's path to an entry point serves every class it reads
                    paths[method] = startup_path(graph, entries, dc, ev, budget)
                path = paths[method]
                if path is not None:
                    done_startup.add(dc)
                    startup.append(replace(path, data_class=dc))
    except deadline.ScanTimeout:
        deadline.note("harvest chains")
    return HarvestFacts(
        accesses=tuple(accesses),
        sms_receivers=tuple(sorted(set(sms), key=lambda e: e.sort_key())),
        chains=tuple(chains),
        startup=tuple(startup),
        search_truncated=budget.exhausted,
    )
