"""Read -> sink chains: from a read of protected data to a method that sends data off the device.

From the read's method the bounded search (:mod:`.search`) goes up through the
callers (the data is returned), then down through what they call (the data is
passed on), within ``depth.CHAIN_DEPTH`` calls (hand-offs to another thread or
component cost none). It follows the data first (:mod:`.taint`: chains marked
``confirmed``), then calls alone for the channels the data was not followed to
(``unconfirmed``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import TypeVar

from appaudit.analysis.analyses import Analyses
from appaudit.analysis.attribution import Attributor
from appaudit.analysis.call_hops import CallHops
from appaudit.analysis.chain_state import (
    MAX_STORE_COST,
    MAX_STORE_SEARCHES,
    MAX_STORE_VISITS,
    STORE_BUDGET_FLOOR,
    Carried,
    Followed,
    Found,
    Reach,
    carries,
    with_fields,
)
from appaudit.analysis.depth import CHAIN_DEPTH
from appaudit.analysis.facts import LEAVES_DEVICE, ChainStep, HarvestChain, StoreHop
from appaudit.analysis.graph import CallGraph
from appaudit.analysis.handoff_seeds import HandoffSeeds
from appaudit.analysis.queues import QueueIndex
from appaudit.analysis.replies import ReplyTest
from appaudit.analysis.search import (
    MAX_VISITS,
    Hop,
    SearchBudget,
    Visit,
    bounded_search,
    method_of,
    path_to,
    start_at,
)
from appaudit.analysis.sinks import Sink, SinkFinder
from appaudit.analysis.stores import StoreIndex
from appaudit.analysis.taint import Flow, Seeds
from appaudit.analysis.targets import calls_target
from appaudit.apk.dex.types import MethodCode
from appaudit.descriptors import java_name
from appaudit.model import Channel, Dataflow, Evidence, MethodId
from appaudit.ruleset.flows import FlowSpec

_S = TypeVar("_S")
class ChainFinder:
    """Searches sinks reachable from reads; the sinks' evidence is owned (``attributor``)."""

    def __init__(self, graph: CallGraph, flows: FlowSpec, attributor: Attributor, depth: int = CHAIN_DEPTH) -> None:
        self.graph = graph
        self.flows = flows
        self.depth = depth
        self.sinks = SinkFinder(graph, flows, attributor)
        self.analyses = Analyses(graph, flows)
        self.stores = StoreIndex(graph, flows, self.analyses.is_component)
        self.hops = CallHops(graph)
        self.callbacks = HandoffSeeds(graph, flows, self.analyses.of)
        self.queues = QueueIndex(graph, flows.queues)
        self.replies = ReplyTest(graph, flows)
        self._owners: dict[str, str] = {}
        self._stored: dict[tuple[str, MethodId], int] = {}
        """(data class, read-back method) already searched from in this scan -> the lowest cost it was searched
        at: the chains found from there are the class's already (one per channel), whichever read and store led
        to them; it is searched again only from a cheaper store (depth left for more of the way to a sink)."""

    def search(
        self,
        data_class: str,
        read: Evidence,
        budget: SearchBudget | None = None,
        also: Sequence[int] = (),
        known: frozenset[Channel] = frozenset(),
    ) -> Reach:
        """The shortest chain per channel from ``read`` to a sink.

        First along the data (:meth:`follow_data`: chains marked ``confirmed``), then, for channels
        the data was not followed to, along calls alone (:meth:`follow_calls`: ``unconfirmed``),
        except channels whose sinks the data was seen to reach without going out by them.
        ``known`` are channels the caller already holds a chain of this class for that one by calls
        alone cannot replace: the call-only search looks for sinks of none of these (it still walks
        the same methods, see :meth:`follow_calls`). So the one reported fact it can change is the
        ``unconfirmed`` chain of this class for a channel no search has a chain of that rank for yet.
        """
        followed = self.follow_data(data_class, read, budget, also)
        chains = dict(followed.chains)
        skip = frozenset(chains) | followed.ruled_out | known
        for chain in self.follow_calls(data_class, read, budget, skip=skip):
            chains.setdefault(chain.channel, chain)
        return Reach(chains=[chains[c] for c in sorted(chains)], lost=followed.lost, messaged=followed.messaged)

    def _chain(
        self,
        data_class: str,
        read: Evidence,
        path: tuple[ChainStep, ...],
        node: MethodId,
        sink: Sink,
        dataflow: Dataflow,
        via: tuple[StoreHop, ...] = (),
    ) -> HarvestChain:
        steps = (*path[:-1], ChainStep.at(node, sink.call.offset))
        sources = tuple(u for u in self.sinks.resolved_urls(node) if u.url not in sink.urls)
        return HarvestChain(
            data_class=data_class,
            read=read,
            steps=steps,
            channel=sink.channel,
            sink=sink.call,
            transformers=self.sinks.transformers([s.method_id for s in steps]),
            urls=(*sink.urls, *(u.url for u in sources)),
            url_sources=sources,
            dataflow=dataflow,
            via=via,
        )

    def _call_hops(self, visit: Visit[_S]) -> Iterator[Hop]:
        """Up to every caller (until the search turns down), then down to every callee."""
        if not visit.descending:
            yield from self.hops.of(visit.node, up=True)
        yield from self.hops.of(visit.node, up=False)

    def follow_calls(
        self,
        data_class: str,
        read: Evidence,
        budget: SearchBudget | None = None,
        skip: frozenset[Channel] = frozenset(),
    ) -> list[HarvestChain]:
        """Chains by calls alone: up through callers (the data is returned), then down through callees.

        A hop costs 1, except a hand-off to another thread or component (``Thread.start()`` to
        ``run()``, ``execute()`` to ``doInBackground()``, an Intent to a Service), which costs 0:
        it is the same logical call, and Android forbids network calls on the main thread, so
        nearly every upload sits behind one. Searched cheapest first (0-1 breadth-first).

        Sinks of the channels in ``skip`` are not looked for, and once every other channel has its
        chain no sink is: the walk itself goes on as it would, since its visits count against the
        scan's ``budget`` and the hand-offs it meets steer later searches (so skipping it could
        change their answers), but looking for sinks is most of what a visit costs.
        """
        start = start_at(method_of(read), read.offset, None)
        chains: dict[Channel, HarvestChain] = {}
        wanted = set(Channel) - skip
        for visit in bounded_search(start, self._call_hops, depth=self.depth, budget=budget):
            if not wanted:
                continue
            for sink in self.sinks.sinks_in(visit.node):
                if sink.channel in wanted and not self.replies.is_reply(read, visit.path, visit.node, sink):
                    wanted.discard(sink.channel)
                    chains[sink.channel] = self._chain(
                        data_class, read, visit.path, visit.node, sink, Dataflow.UNCONFIRMED
                    )
        return [chains[c] for c in sorted(chains)]

    def follow_data(
        self, data_class: str, read: Evidence, budget: SearchBudget | None = None, also: Sequence[int] = ()
    ) -> Followed:
        """Chains along which the data read is followed (:mod:`.taint`), by channel.

        The same search as :meth:`follow_calls` (costs, depth, hand-offs), but a hop is taken only
        when the data goes with it: down a call that gets tainted arguments, up to a caller when the
        method returns tainted data or fills an argument, across a hand-off when the object handed
        on (or, for a component, the method handing it over) holds tainted data, or when tainted
        data was published to a Handler, queue or broadcast on the way. Fields written with tainted
        data travel with the path. A sink counts when tainted data is handed to a call in its method,
        or, for a sink that names its data arguments, to one of those.
        """
        node = method_of(read)
        body = self.graph.body(node)
        if body is None:
            return Followed(chains={}, ruled_out=frozenset(), lost=True, messaged=None)
        reads = {read.offset or 0, *also}  # every read of the class in this method is a source
        first = self._analysed(node, body, Seeds(sites={o: (True, frozenset()) for o in sorted(reads)}), frozenset())
        published, message = self.callbacks.published(body, first), self.callbacks.message(body, first, None)
        start = start_at(node, read.offset, Carried(flow=first, published=published, message=message))
        chains: dict[Channel, HarvestChain] = {}
        found = Found(data_class=data_class, read=read, source=node, reads=frozenset(reads), chains=chains)
        visited = self._collect(found, start, budget)
        unsettled = [c for c in LEAVES_DEVICE if c not in found.replied]
        if any(chains.get(c) is None or chains[c].dataflow != Dataflow.CONFIRMED for c in unsettled):
            self._through_stores(found, visited, budget)
        return Followed(
            chains=chains,
            ruled_out=frozenset(found.ruled_out) - frozenset(chains),
            lost=bool(found.lost_at),
            messaged=found.ruled_out.get(Channel.SMS) if Channel.SMS not in chains else None,
        )

    def _escapes(self, visit: Visit[Carried]) -> bool:
        """The data leaves what is followed in this visit: handed to an ``escapes`` call, or still
        carried (returned, passed to an app method) where the search's depth ends."""
        flow = visit.carried.flow
        handed = (self.flows.escapes, self.flows.queues.put)  # stored, or handed on (a queue: to another thread)
        refs = self.graph.call_refs(visit.node) if flow.calls else {}
        for off in flow.calls:  # the calls handed tainted data: a few of the method's
            ref = refs.get(off)
            if ref and any(calls_target(h, ref) for h in handed):
                return True
        if visit.cost < self.depth:
            return False
        return flow.returns or any(off in flow.calls for off, _callee in self.graph.down(visit.node))

    def _collect(
        self, found: Found, start: Visit[Carried], budget: SearchBudget | None, limit: int = MAX_VISITS
    ) -> list[Visit[Carried]]:
        """Search along the data from ``start``, adding the chains to the sinks it reaches to ``found``
        (one per channel; a confirmed one beats one that is not); the visits where tainted data was
        handed to a call or written to a field (where it may have been stored)."""
        handing: list[Visit[Carried]] = []
        visits = bounded_search(start, self._data_hops, depth=self.depth, budget=budget, admit=self._admit)
        for visit in itertools.islice(visits, limit):
            flow = visit.carried.flow
            if flow.fields or flow.calls:
                handing.append(visit)
            if not set(flow.calls) - (found.reads if visit.node == found.source else set()):
                continue
            via = visit.carried.via
            # a hop matched by kind alone weighs less: the data may have gone elsewhere
            dataflow = Dataflow.CONFIRMED if all(v.matched_by == "name" for v in via) else Dataflow.UNCONFIRMED
            if self._escapes(visit):
                found.lost_at.add(visit.node)
            for sink in self.sinks.sinks_in(visit.node):
                known = found.chains.get(sink.channel)
                if not carries(sink, flow):
                    handed = sink.data_positions is not None and (sink.call.offset or 0) in flow.calls
                    if handed and sink.channel not in found.ruled_out:  # the first stands: make no other
                        found.ruled_out[sink.channel] = self._chain(
                            found.data_class, found.read, visit.path, visit.node, sink, dataflow, via
                        )
                    continue
                if self.replies.is_reply(found.read, visit.path, visit.node, sink):
                    found.replied.add(sink.channel)  # a command's reply (``analysis.replies``), not the data
                    continue
                if known is None or (dataflow == Dataflow.CONFIRMED and known.dataflow != Dataflow.CONFIRMED):
                    found.chains[sink.channel] = self._chain(
                        found.data_class, found.read, visit.path, visit.node, sink, dataflow, via
                    )
        return handing

    def _through_stores(self, found: Found, visited: list[Visit[Carried]], budget: SearchBudget | None) -> None:
        """Where the data search stored the data (:mod:`.stores`), search on from each place the app
        reads it back, for the channels it did not confirm.

        A second pass, after the search without storage, so that a read back (which taints less than
        a hand-off) never takes a method from a path the data is seen to travel along; at most
        ``MAX_STORE_SEARCHES`` searches per read, from each method reading back once per class and scan
        (again when a cheaper store reaches it), under the scan's budget.
        """
        searches = 0
        for visit in visited:
            if visit.cost > MAX_STORE_COST or any(self.sinks.sinks_in(s.method_id) for s in visit.path[:-1]):
                continue  # far from the read, or past a sink: the data stored is more often derived data
            body = self.graph.body(visit.node)
            stored = self.stores.stores_in(visit.node, body, visit.carried.flow, _methods(visit)) if body else []
            for store in stored:
                for target, via in self.stores.reads_of(store):
                    if searches >= MAX_STORE_SEARCHES or (budget is not None and budget.left < STORE_BUDGET_FLOOR):
                        return
                    key = (found.data_class, target.node)
                    if self._stored.get(key, visit.cost + 1) <= visit.cost:
                        continue
                    self._stored[key] = visit.cost
                    searches += 1
                    hop = Hop(to=target.node, offset=store.offset, up=False, free=True, via=via, at=target.offset)
                    carried = self._admit(visit, hop)
                    if carried is not None:
                        path = path_to(visit, hop)
                        self._collect(
                            found,
                            Visit(node=hop.to, descending=False, cost=visit.cost, path=path, carried=carried),
                            budget,
                            MAX_STORE_VISITS,
                        )

    def _data_hops(self, visit: Visit[Carried]) -> Iterator[Hop]:
        """The hops the data may go along (see :meth:`follow_data`)."""
        flow, published = visit.carried.flow, visit.carried.published
        for hop in self._call_hops(visit):
            if hop.up and hop.free:  # back across a hand-off: only fields or a publication carry the data
                goes = bool(flow.fields) or published
            elif hop.up:
                goes = flow.returns or bool(flow.params_out or flow.fields)
            else:
                goes = hop.free or bool(flow.calls.get(hop.offset) or flow.fields)
            if goes:
                yield hop
        body = self.graph.body(visit.node)
        if body is not None:  # an AsyncTask's result, to onPostExecute
            yield from self.callbacks.result_hops(visit.node, body, flow)
        if body is not None and flow.calls:  # an object holding the data put into a queue another thread takes
            yield from self.queues.hops(visit.node, body, flow)
        if visit.carried.via:  # past one store (:meth:`_through_stores`): the data may be stored again
            yield from self._store_hops(visit)

    def _store_hops(self, visit: Visit[Carried]) -> Iterator[Hop]:
        """Jumps from where the visited method stores the data (a table, a key, a file...) to where the
        app reads it back (:mod:`.stores`): free, as a hand-off is."""
        flow = visit.carried.flow
        if not flow.calls and not flow.fields:
            return
        body = self.graph.body(visit.node)
        if body is None:
            return
        for store in self.stores.stores_in(visit.node, body, flow, _methods(visit)):
            for read, via in self.stores.reads_of(store):
                yield Hop(to=read.node, offset=store.offset, up=False, free=True, via=via, at=read.offset)

    def _admit(self, visit: Visit[Carried], hop: Hop) -> Carried | None:
        """What the data does in the hop's target; None when nothing there is tainted.

        A constructor linking two hand-offs (reached back across one after a publication) passes
        the data through untainted.
        """
        body = self.graph.body(hop.to)
        if body is None:
            return None
        flow, published = visit.carried.flow, visit.carried.published
        seeds, handed = self._seeds(visit, hop)
        reached = self._analysed(hop.to, body, seeds, flow.fields)
        if not reached.tainted and not (hop.free and hop.up and published):
            return None
        reached = with_fields(reached, flow.fields)
        via = (*visit.carried.via, *(h for h in (hop.via, handed) if h is not None))
        return Carried(
            flow=reached,
            published=published or self.callbacks.published(body, reached),
            message=self.callbacks.message(body, reached, visit.carried.message),
            via=via,
        )

    def _seeds(self, visit: Visit[Carried], hop: Hop) -> tuple[Seeds, StoreHop | None]:
        """What is tainted in the hop's target as it is entered (or, up, after the call returns), and the
        hand-off to record on the way (a Handler message, an AsyncTask stage: :mod:`.handoff_seeds`)."""
        flow = visit.carried.flow
        if hop.via is not None and hop.at is not None:
            body = self.graph.body(hop.to)
            return (self.stores.seeds(hop.to, body, hop.at) if body is not None else Seeds()), None
        if hop.up:
            return (Seeds() if hop.free else Seeds(sites={hop.offset: (flow.returns, flow.params_out)})), None
        if hop.free:
            return self.callbacks.handed(visit.node, hop.offset, hop.to, visit.carried)
        return Seeds(params=flow.calls.get(hop.offset, frozenset())), None

    def _analysed(self, node: MethodId, body: MethodCode, seeds: Seeds, fields: frozenset[str]) -> Flow:
        """:meth:`_analyse`, and again with the fields its callees write with the data when it reads them (a
        helper that builds the payload in a field the method then sends): field taint is object-insensitive,
        so a field written anywhere on the way is tainted where it is read. One level of callees: methods of
        a class holding a tainted field, called without tainted arguments (the search follows the others)."""
        flow = self._analyse(node, body, seeds, fields)
        tainted = fields | flow.fields
        owners = {self._owner(f) for f in tainted}
        helpers = [
            c
            for off, c in (self.graph.down(node) if owners else ())
            if c.class_name in owners and off not in flow.calls and (node, c) not in self.graph.handoffs
        ]
        # only the fields the method reads make a difference
        reads = self.analyses.reads(body) if helpers else frozenset()
        back: set[str] = set()
        for callee in helpers if reads - tainted else ():
            code = self.graph.body(callee)
            back |= self._analyse(callee, code, Seeds(), tainted).fields & reads if code is not None else set()
        back -= tainted
        return self._analyse(node, body, seeds, fields | back) if back else flow

    def _owner(self, field_ref: str) -> str:
        """The class (Java name) declaring the field ``Lc;->f:T``, remembered for the scan (asked for every
        tainted field at every analysed hop)."""
        owner = self._owners.get(field_ref)
        if owner is None:
            owner = self._owners[field_ref] = java_name(field_ref.partition("->")[0])
        return owner

    def _analyse(self, node: MethodId, body: MethodCode, seeds: Seeds, fields: frozenset[str]) -> Flow:
        """:func:`.taint.analyse`, remembered for the scan (:class:`.analyses.Analyses`)."""
        return self.analyses.of(node, body, seeds, fields)


def _methods(visit: Visit[Carried]) -> frozenset[MethodId]:
    """The methods on the path to ``visit`` (a store's name passed in is what they pass)."""
    return frozenset(step.method_id for step in visit.path)
