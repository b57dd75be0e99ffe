"""Is a provider read bulk: is its cursor iterated in a loop (every row read, not one picked)."""

from __future__ import annotations

from appaudit.analysis.graph import CallGraph
from appaudit.analysis.providers import ProviderQuery
from appaudit.analysis.targets import calls_target
from appaudit.model import MethodId
from appaudit.ruleset.flows import ApiTarget, FlowSpec

#: Callers looked at when the read's method returns the cursor to be iterated there.
MAX_CURSOR_CALLERS = 8


def _in_loop(graph: CallGraph, node: MethodId, targets: tuple[ApiTarget, ...]) -> bool:
    """``node`` calls one of ``targets`` inside a loop (a backward branch spans the call)."""
    body = graph.body(node)
    if body is None:
        return False
    calls = [i.offset for i in body.insns if i.op.startswith("invoke") and i.ref and calls_target(targets, i.ref)]
    if not calls:
        return False
    back = [(i.target, i.offset) for i in body.insns if i.target is not None and i.target <= i.offset]
    return any(t <= c <= b for c in calls for t, b in back)


def is_bulk(graph: CallGraph, query: ProviderQuery, flows: FlowSpec) -> bool:
    """The cursor of ``query`` is iterated in a loop, in its method or where the cursor goes next."""
    node = MethodId(class_name=query.site.class_name, method=query.site.method)
    if _in_loop(graph, node, flows.cursor_iteration):
        return True
    cursor_takers = [callee for _off, callee in graph.down(node) if "Landroid/database/Cursor;" in callee.method]
    returns_cursor = node.method.endswith("Landroid/database/Cursor;")
    callers = [caller for caller, _off in graph.up(node)[:MAX_CURSOR_CALLERS]] if returns_cursor else []
    return any(_in_loop(graph, n, flows.cursor_iteration) for n in cursor_takers + callers)
