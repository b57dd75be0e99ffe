"""Triggers: what makes each read run (start-up, boot, a user action, an event, a schedule, a command).

From a reading method the bounded search (:mod:`.search`) goes back through
callers, every step costing one, within ``STARTUP_DEPTH`` steps, and records
every root (:mod:`.startup`) it reaches with the path from it: a terminal root
(a launcher, a click, an SMS receiver) ends its branch, a fallback (a service,
a worker) is kept only when nothing above it is found. Each path is then named:

- ``command`` when a call on it depends on a string comparison of a received
  value (:mod:`.commands`), whatever started it;
- ``event`` when the read decodes an incoming SMS, or the path runs through a
  class deriving from an event callback type (a content observer's helpers);
- ``scheduled`` when it runs through a scheduler's callback (a worker, a job,
  a timer task), with ``origin`` the trigger of the code that scheduled it;
- else the root's trigger (a boot receiver that also receives SMS is the SMS
  event for SMS reads).

Per reading method the search runs once and the nearest path of each trigger is
kept. The searches take visits from their own :class:`SearchBudget`
(``MAX_TRIGGER_VISITS`` per scan), so they never starve the chain searches.
"""

from __future__ import annotations

from collections.abc import Iterator

from appaudit.analysis.commands import CommandGuards
from appaudit.analysis.facts import ChainStep, StartupPath
from appaudit.analysis.graph import CallGraph
from appaudit.analysis.search import Hop, SearchBudget, Visit, bounded_search, method_of, start_at
from appaudit.analysis.startup import (
    STARTUP_DEPTH,
    EntryPoints,
    Root,
    asks_permission_first,
    callback_root,
    derives_from,
    matches_callback,
)
from appaudit.analysis.targets import calls_target
from appaudit.model import Evidence, MethodId, Trigger
from appaudit.ruleset.flows import FlowSpec

#: Methods all trigger searches of one scan may visit together (their own budget, beside the chains').
MAX_TRIGGER_VISITS = 3000

#: A recorded root: (root, path from it to the read, root first, command guard).
_Record = tuple[Root, tuple[ChainStep, ...], Evidence | None]


class TriggerSearch:
    """The trigger paths of one scan's reads, each reading method searched once."""

    def __init__(self, graph: CallGraph, flows: FlowSpec, entries: EntryPoints) -> None:
        self.graph = graph
        self.flows = flows
        self.entries = entries
        self.budget = SearchBudget(MAX_TRIGGER_VISITS)
        self.guards = CommandGuards(graph, flows)
        self._roots: dict[MethodId, Root | None] = {}
        self._records: dict[MethodId, list[_Record]] = {}

    def root(self, node: MethodId) -> Root | None:
        """The root ``node`` is (a manifest component's callback first, then by callback type), if any."""
        if node not in self._roots:
            found = self.entries.get((node.class_name, node.method.split("(", 1)[0]))
            self._roots[node] = found if found is not None else callback_root(self.graph, self.flows, node)
        return self._roots[node]

    def _search(self, read: Evidence) -> list[_Record]:
        method = method_of(read)
        if method in self._records:
            return self._records[method]

        def callers(visit: Visit[None]) -> Iterator[Hop]:
            root = self.root(visit.node)
            if root is not None and root.terminal:
                return iter(())
            return (Hop(to=caller, offset=off, up=True) for caller, off in self.graph.up(visit.node))

        found: list[tuple[MethodId, Root, tuple[ChainStep, ...]]] = []
        start = start_at(method, read.offset, None)
        for visit in bounded_search(start, callers, depth=STARTUP_DEPTH, budget=self.budget, free_hops=False):
            root = self.root(visit.node)
            if root is not None:
                found.append((visit.node, root, tuple(reversed(visit.path))))
        # A fallback (a service, a worker) something above was found for is not a root of its own.
        below = {s.method_id for _node, _root, steps in found for s in steps[1:]}
        records = [(r, steps, self.guards.guard(steps)) for node, r, steps in found if r.terminal or node not in below]
        self._records[method] = records
        return records

    def paths(self, data_class: str, read: Evidence, decodes_sms: bool = False) -> list[StartupPath]:
        """The nearest path of each trigger to ``read`` (``decodes_sms``: it decodes an incoming SMS; a read that
        registers a content observer runs on each change: an event too)."""
        out: list[StartupPath] = []
        seen: set[tuple[Trigger, Trigger | None]] = set()
        for root, steps, guard in self._search(read):
            observes = calls_target(self.flows.triggers.observes, read.value)
            trigger, origin = self._name(data_class, root, steps, guard, decodes_sms or observes)
            if (trigger, origin) in seen:
                continue
            seen.add((trigger, origin))
            out.append(
                StartupPath(
                    data_class=data_class,
                    trigger=trigger,
                    entry=root.label,
                    steps=steps,
                    asks_permission_first=asks_permission_first(self.graph, self.flows, steps),
                    origin=origin,
                    read=read,
                    guard=guard,
                )
            )
        return out

    def _name(
        self, data_class: str, root: Root, steps: tuple[ChainStep, ...], guard: Evidence | None, event: bool
    ) -> tuple[Trigger, Trigger | None]:
        """(trigger, origin) of one path (``event``: the read itself runs on an event)."""
        if guard is not None:
            return Trigger.COMMAND, None
        events = dict(self.flows.triggers.callbacks).get(Trigger.EVENT.value, ())
        if event or any(derives_from(self.graph, s.class_name, events) for s in steps[1:]):
            return Trigger.EVENT, None
        if root.trigger == Trigger.SCHEDULED:
            return Trigger.SCHEDULED, None
        if any(matches_callback(self.graph, s.method_id, self.flows.triggers.scheduled) for s in steps[1:]):
            return Trigger.SCHEDULED, root.trigger_for(data_class)
        return root.trigger_for(data_class), None
