"""The call graph's edges as the searches' hops (:class:`.search.Hop`), made once per method and scan.

The chain searches (:mod:`.chains`) ask for the hops of each method they visit, and the searches of
one scan visit the same methods again and again; a hop is a frozen value, so making it is most of
what asking costs.
"""

from __future__ import annotations

from appaudit.analysis.graph import CallGraph
from appaudit.analysis.search import Hop
from appaudit.model import MethodId


class CallHops:
    """The hops up to each method's callers and down to its callees, remembered for the scan."""

    def __init__(self, graph: CallGraph) -> None:
        self.graph = graph
        self._known: dict[tuple[MethodId, bool], tuple[int, tuple[Hop, ...]]] = {}

    def of(self, node: MethodId, *, up: bool) -> tuple[Hop, ...]:
        """The hops up to ``node``'s callers (in :meth:`.CallGraph.up` order), or down to its callees.

        Whether a hop is a hand-off is read from the graph's hand-offs as they are when the hops are
        asked for (the graph learns more as it is walked), so the hops are remembered with the count
        of hand-offs known then; once the graph knows more, they are checked again, and made again
        where one has become a hand-off.
        """
        handoffs = self.graph.handoffs
        known = self._known.get((node, up))
        if known is not None and known[0] == len(handoffs):
            return known[1]
        edges = self.graph.up(node) if up else [(callee, off) for off, callee in self.graph.down(node)]
        free = [((to, node) if up else (node, to)) in handoffs for to, _off in edges]
        if known is None or [h.free for h in known[1]] != free:
            hops = tuple(Hop(to=to, offset=off, up=up, free=f) for (to, off), f in zip(edges, free, strict=True))
        else:
            hops = known[1]
        self._known[(node, up)] = (len(handoffs), hops)
        return hops
