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
from appaudit.analysis.bulk import is_bulk
from appaudit.analysis.chains import ChainFinder
from appaudit.analysis.depth import CHAIN_DEPTH
from appaudit.analysis.facts import HarvestChain, HarvestFacts, ProviderAccess, StartupPath
from appaudit.analysis.graph import CallGraph
from appaudit.analysis.providers import ProviderClassifier, provider_queries
from appaudit.analysis.search import MAX_TOTAL_VISITS, SearchBudget, method_of
from appaudit.analysis.startup import EntryPoints, entry_points, startup_path
from appaudit.apk.app import AppInfo
from appaudit.apk.dex.types import CodeIndex
from appaudit.model import PROTECTED_CLASSES, Dataflow, Evidence, MethodId
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
        self.accesses: list[ProviderAccess] = []
        self.sms: list[Evidence] = []
        self.chains: list[HarvestChain] = []
        self.startup: list[StartupPath] = []
        self.untracked: set[str] = set()
        self.messaged: list[HarvestChain] = []
        self._paths: dict[MethodId, StartupPath | None] = {}  # per reading method: its path, if any

    def find_reads(self, classifier: ProviderClassifier) -> list[tuple[str, Evidence]]:
        """(data class, read) of every resolved provider query of a protected class and SMS decode."""
        reads: list[tuple[str, Evidence]] = []
        for q in provider_queries(self.code, self.flows, classifier):
            if q.data_class not in PROTECTED_CLASSES or q.uri is None:
                continue
            deadline.check()
            ev = self.attributor.code_evidence(q.site)
            bulk = is_bulk(self.graph, q, self.flows)
            self.accesses.append(ProviderAccess(data_class=q.data_class, uri=q.uri, how=q.how, bulk=bulk, evidence=ev))
            reads.append((q.data_class, ev))
        receive = self.flows.sms_receive
        sites = [h for t in receive for h in self.code.invocations(t.class_desc, t.names)]
        self.sms = [self.attributor.code_evidence(h) for h in sites]
        reads.extend(("sms", ev) for ev in self.sms)
        return reads

    def add_chains(self, data_class: str, read: Evidence, also: list[int]) -> None:
        """The chains from ``read``: one per class and channel, a confirmed one beating one that is not."""
        reach = self.finder.search(data_class, read, self.budget, also=also)
        if reach.lost:
            self.untracked.add(data_class)
        if reach.messaged is not None and not any(m.data_class == data_class for m in self.messaged):
            self.messaged.append(reach.messaged)
        for chain in reach.chains:
            known = [i for i, c in enumerate(self.chains) if c.data_class == data_class and c.channel == chain.channel]
            if not known:
                self.chains.append(chain)
            elif chain.dataflow == Dataflow.CONFIRMED and self.chains[known[0]].dataflow != Dataflow.CONFIRMED:
                self.chains[known[0]] = chain  # a chain the data is seen to travel beats one it may not

    def add_startup(self, entries: EntryPoints, data_class: str, read: Evidence) -> bool:
        """The start-up path to ``read``'s method for ``data_class``, if there is one (True: found)."""
        method = method_of(read)
        if method not in self._paths:  # a method's path to an entry point serves every class it reads
            self._paths[method] = startup_path(self.graph, entries, data_class, read, self.budget)
        path = self._paths[method]
        if path is None:
            return False
        self.startup.append(replace(path, data_class=data_class))
        return True

    def facts(self) -> HarvestFacts:
        return HarvestFacts(
            accesses=tuple(self.accesses),
            sms_receivers=tuple(sorted(set(self.sms), key=lambda e: e.sort_key())),
            chains=tuple(self.chains),
            startup=tuple(self.startup),
            search_truncated=self.budget.exhausted,
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
    are sources); each class gets the first start-up path found. Under a time
    cap (``deadline``) the search stops where the cap passes and returns what
    it has proven so far.
    """
    harvest = _Harvest(code, flows, attributor, depth)
    try:
        reads = harvest.find_reads(classifier)
        entries = entry_points(app, flows, harvest.graph)
        offsets: dict[tuple[str, MethodId], set[int]] = {}  # every read of a class in a method is a source
        for dc, ev in reads:
            offsets.setdefault((dc, method_of(ev)), set()).add(ev.offset or 0)
        done_chains: set[tuple[str, MethodId]] = set()
        done_startup: set[str] = set()
        for dc, ev in sorted(set(reads), key=lambda r: (r[0], r[1].sort_key())):
            if (dc, method_of(ev)) not in done_chains:
                done_chains.add((dc, method_of(ev)))
                harvest.add_chains(dc, ev, sorted(offsets[(dc, method_of(ev))]))
            if dc not in done_startup and harvest.add_startup(entries, dc, ev):
                done_startup.add(dc)
    except deadline.ScanTimeout:
        deadline.note("harvest chains")
    return harvest.facts()
