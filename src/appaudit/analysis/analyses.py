"""The taint analyses (:mod:`.taint`) of one scan's data searches, each made once.

The reads of one app meet the same methods again and again, along paths that carry different
tainted fields; an analysis is remembered by the method, its seeds and the tainted fields it
reads (the others change nothing in it), and the methods' plans are kept for the scan.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from appaudit.analysis.graph import CallGraph
from appaudit.analysis.returns import ReturnSummaries
from appaudit.analysis.taint import Flow, Plans, Seeds, analyse
from appaudit.analysis.targets import calls_target
from appaudit.apk.dex.types import MethodCode
from appaudit.descriptors import java_name
from appaudit.model import MethodId
from appaudit.ruleset.flows import FlowSpec

#: Framework Context types: calls on them with data do not fill them (:meth:`Analyses.is_component`).
_CONTEXTS = frozenset(
    {
        "Landroid/content/Context;",
        "Landroid/content/ContextWrapper;",
        "Landroid/app/Activity;",
        "Landroid/app/Service;",
        "Landroid/app/Application;",
    }
)


class Analyses:
    """One scan's remembered analyses, over its call graph (which says which classes are Contexts) and
    rules data (which calls return fresh results)."""

    def __init__(self, graph: CallGraph, flows: FlowSpec) -> None:
        self.graph = graph
        self.flows = flows
        self._flows: dict[tuple[object, ...], Flow] = {}
        self._fills: dict[tuple[str, frozenset[int]], frozenset[int]] = {}
        self._plans = Plans()
        # What the summaries and the store index are handed holds no reference back to this object: a
        # bound method of it would make a reference cycle through the scan's whole call graph and code
        # index, freed only by the garbage collector (see appaudit.pipeline.collection).
        self.is_component: Callable[[str], bool] = _Contexts(graph).test
        """A Context (an app's Activity, Service, Application, or the framework's own types): handing
        it data (``startActivity(intent)``) does not put the data in it."""
        self._returns = ReturnSummaries(
            graph,
            self._plans,
            self.is_component,
            partial(calls_target, flows.fresh_results),
            partial(calls_target, flows.triggers.command_fills),
        )

    def of(self, node: MethodId, body: MethodCode, seeds: Seeds, fields: frozenset[str]) -> Flow:
        """:func:`.taint.analyse` of ``body`` (the method ``node``) entered with ``seeds`` and the tainted
        ``fields``, with Contexts opaque (:meth:`is_component`) and fresh results untainted (:meth:`fresh`)."""
        if fields:
            fields = fields & self._plans.reads(body)
        key = (node, seeds.params, tuple(sorted(seeds.sites.items())), fields)
        flow = self._flows.get(key)
        if flow is None:
            flow = self._flows[key] = analyse(
                body, seeds, fields, self.is_component, self.fresh, self._plans, self.fills
            )
        return flow

    def reads(self, body: MethodCode) -> frozenset[str]:
        """The fields ``body`` reads (``iget``/``sget``), remembered for the scan."""
        return self._plans.reads(body)

    def fresh(self, ref: str) -> bool:
        """A call whose result is not the data handed to it: ``fresh_results`` in rules/flows.yaml, or an
        app method whose return does not depend on its arguments (:mod:`.returns`)."""
        return self._returns.fresh(ref)

    def fills(self, ref: str, tainted: frozenset[int]) -> frozenset[int]:
        """The arguments the call ``ref`` fills with its tainted ones: a stream read on a tainted stream
        fills its buffer (``command_fills`` in rules/flows.yaml: the calls that fill their first argument
        from a stream), an app method what :meth:`.returns.ReturnSummaries.filled` finds."""
        key = (ref, tainted)
        known = self._fills.get(key)
        if known is None:  # asked for every call with tainted arguments: remembered for the scan
            known = self._fills[key] = self._returns.filled(ref, tainted)
        return known


class _Contexts:
    """:attr:`Analyses.is_component`, remembered per class for the scan."""

    def __init__(self, graph: CallGraph) -> None:
        self.graph = graph
        self._components: dict[str, bool] = {}

    def test(self, class_desc: str) -> bool:
        """Whether ``class_desc`` is a Context (:attr:`Analyses.is_component`)."""
        known = self._components.get(class_desc)
        if known is None:  # asked for each call with tainted arguments: remembered per class for the scan
            cls = java_name(class_desc)
            known = self._components[class_desc] = class_desc in _CONTEXTS or (
                cls in self.graph.app_classes and "android.content.Context" in self.graph.ancestors(cls)
            )
        return known
