"""Harvest facts: read -> bulk -> leaves the device -> at start-up, for the protected data classes.

The orchestrator of the chain analysis: the reads (resolved provider queries,
incoming-SMS decodes, :mod:`.providers`), whether each is bulk
(:mod:`.bulk`), the chains from each read to a sink (:mod:`.chains`) and the
start-up path to it (:mod:`.startup`), all searched with the one bounded
search of :mod:`.search` over the app's call graph (:mod:`.graph`) under one
budget per scan.
"""

from __future__ import annotations

from dataclasses import replace

from appaudit import deadline
from appaudit.analysis.attribution import Attributor
from appaudit.analysis.bulk import BulkDecider
from appaudit.analysis.chains import ChainFinder
from appaudit.analysis.depth import CHAIN_DEPTH
from appaudit.analysis.facts import (
    HarvestChain,
    HarvestFacts,
    IncomingRead,
    ProviderAccess,
    ProviderWrite,
    StartupPath,
)
from appaudit.analysis.graph import CallGraph
from appaudit.analysis.incoming import IncomingSms
from appaudit.analysis.providers import ProviderClassifier, provider_queries
from appaudit.analysis.search import MAX_TOTAL_VISITS, SearchBudget, method_of
from appaudit.analysis.startup import entry_points
from appaudit.analysis.triggers import TriggerSearch
from appaudit.analysis.writes import provider_writes
from appaudit.apk.app import AppInfo
from appaudit.apk.dex.types import CodeIndex
from appaudit.model import PROTECTED_CLASSES, Dataflow, Evidence, MethodId, Trigger
from appaudit.ruleset.flows import FlowSpec

__all__ = ["MAX_TOTAL_VISITS", "ChainFinder", "harvest_facts"]


class _Harvest:
    """What one scan's chain analysis has found so far (kept as found, so a time cap keeps it)."""

    def __init__(self, code: CodeIndex, flows: FlowSpec, attributor: Attributor, depth: int) -> None:
        self.code = code
        self.flows = flows
        self.attributor = attributor
        self.graph = CallGraph(code, flows)
        self.finder = ChainFinder(self.graph, flows, attributor, depth)
        self.budget = SearchBudget()
        self.bulk = BulkDecider(code, self.graph, flows)
        self.accesses: list[ProviderAccess] = []
        self.writes: list[ProviderWrite] = []
        self.incoming: list[IncomingRead] = []
        self.sms: list[Evidence] = []
        self.chains: list[HarvestChain] = []
        self.triggers: list[StartupPath] = []
        self.untracked: set[str] = set()
        self.messaged: list[HarvestChain] = []

    def find_reads(self, classifier: ProviderClassifier) -> list[tuple[str, Evidence]]:
        """(data class, read) of every resolved provider query of a protected class and SMS decode."""
        reads: list[tuple[str, Evidence]] = []
        for q in provider_queries(self.code, self.flows, classifier):
            if q.data_class not in PROTECTED_CLASSES or q.uri is None:
                continue
            deadline.check()
            ev = self.attributor.code_evidence(q.site)
            why = self.bulk.reason(q)
            self.accesses.append(
                ProviderAccess(
                    data_class=q.data_class,
                    uri=q.uri,
                    how=q.how,
                    evidence=ev,
                    bulk_reason=why,
                )
            )
            reads.append((q.data_class, ev))
        self.writes = provider_writes(self.code, self.flows, classifier, self.attributor)
        receive = self.flows.sms_receive
        sites = [h for t in receive for h in self.code.invocations(t.class_desc, t.names)]
        self.sms = [self.attributor.code_evidence(h) for h in sites]
        reads.extend(("sms", ev) for ev in self.sms)
        return reads

    def add_chains(self, data_class: str, read: Evidence, also: list[int]) -> None:
        """The chains from ``read``: one per class and channel, a confirmed one beating one that is not, then
        one from a bulk read beating one from a single-item read (so that ``harvested`` can be told).

        A channel whose held chain no call-only chain from ``read`` could beat is ``known`` to the search,
        which then skips looking for call-only sinks in it (their cost, not their answer)."""
        bulk = {method_of(a.evidence) for a in self.accesses if a.data_class == data_class and a.bulk}

        def rank(c: HarvestChain) -> tuple[bool, bool]:
            return (c.dataflow == Dataflow.CONFIRMED, method_of(c.read) in bulk)

        floor = (False, method_of(read) in bulk)  # the best a call-only chain from ``read`` can rank
        held = frozenset(c.channel for c in self.chains if c.data_class == data_class and rank(c) >= floor)
        reach = self.finder.search(data_class, read, self.budget, also=also, known=held)
        if reach.lost:
            self.untracked.add(data_class)
        if reach.messaged is not None and not any(m.data_class == data_class for m in self.messaged):
            self.messaged.append(reach.messaged)
        for chain in reach.chains:
            known = [i for i, c in enumerate(self.chains) if c.data_class == data_class and c.channel == chain.channel]
            if not known:
                self.chains.append(chain)
            elif rank(chain) > rank(self.chains[known[0]]):
                self.chains[known[0]] = chain  # a chain the data is seen to travel beats one it may not

    def startup(self) -> tuple[StartupPath, ...]:
        """Per class, one path run without the user: the first at start-up, else the first on an event; in the
        shape start-up paths always had (a scheduled one named by what scheduled it, no read or guard)."""
        out = []
        for dc in sorted({p.data_class for p in self.triggers}):
            mine = [p for p in self.triggers if p.data_class == dc]
            first = next((p for p in mine if p.at_startup), None) or next(
                (p for p in mine if p.trigger == Trigger.EVENT), None
            )
            if first is not None:  # as start-up paths were always reported: a scheduled read by its origin
                trigger = first.origin if first.trigger == Trigger.SCHEDULED and first.origin else first.trigger
                out.append(replace(first, trigger=trigger, origin=None, read=None, guard=None))
        return tuple(out)

    def decide_incoming(self) -> None:
        """Whether each incoming-SMS decode reads every message (after its chains are known)."""
        decider = IncomingSms(self.code, self.graph)
        chains = [c for c in self.chains if c.data_class == "sms"]
        for ev in sorted(set(self.sms), key=lambda e: e.sort_key()):
            deadline.check()
            self.incoming.append(IncomingRead(evidence=ev, reason=decider.reason(ev, chains)))

    def facts(self, triggers_truncated: bool = False) -> HarvestFacts:
        return HarvestFacts(
            accesses=tuple(self.accesses),
            writes=tuple(self.writes),
            sms_receivers=tuple(sorted(set(self.sms), key=lambda e: e.sort_key())),
            incoming=tuple(self.incoming),
            chains=tuple(self.chains),
            startup=self.startup(),
            triggers=tuple(self.triggers),
            search_truncated=self.budget.exhausted or triggers_truncated,
            untracked=tuple(sorted(self.untracked)),
            messaged=tuple(self.messaged),
        )


def harvest_facts(
    app: AppInfo,
    code: CodeIndex,
    flows: FlowSpec,
    classifier: ProviderClassifier,
    attributor: Attributor,
    depth: int = CHAIN_DEPTH,
) -> HarvestFacts:
    """Provider accesses, SMS decodes, chains to sinks and start-up paths for the protected classes.

    The reads' and sinks' evidence carries its owner (``attributor``) from the start.

    Each reading method is searched once per class (all its reads of the class
    are sources) for chains, and once for what triggers it (:mod:`.triggers`).
    Under a time
    cap (``deadline``) the search stops where the cap passes and returns what
    it has proven so far.
    """
    harvest = _Harvest(code, flows, attributor, depth)
    search: TriggerSearch | None = None
    try:
        reads = harvest.find_reads(classifier)
        search = TriggerSearch(harvest.graph, flows, entry_points(app, flows, harvest.graph))
        offsets: dict[tuple[str, MethodId], set[int]] = {}  # every read of a class in a method is a source
        for dc, ev in reads:
            offsets.setdefault((dc, method_of(ev)), set()).add(ev.offset or 0)
        done: set[tuple[str, MethodId]] = set()
        decodes = set(harvest.sms)
        for dc, ev in sorted(set(reads), key=lambda r: (r[0], r[1].sort_key())):
            if (dc, method_of(ev)) not in done:
                done.add((dc, method_of(ev)))
                harvest.add_chains(dc, ev, sorted(offsets[(dc, method_of(ev))]))
                harvest.triggers.extend(search.paths(dc, ev, decodes_sms=ev in decodes))
        harvest.decide_incoming()
    except deadline.ScanTimeout:
        deadline.note("harvest chains")
    return harvest.facts(triggers_truncated=search is not None and search.budget.exhausted)
