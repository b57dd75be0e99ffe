"""The one bounded search over the call graph, shared by the chain and start-up searches.

From one method (a read of protected data) the search visits methods cheapest
first: a hop to a caller or a callee costs one, a hand-off to another thread or
component (``Thread.start()`` to ``run()``, an Intent to a Service) costs none
(0-1 breadth-first: a free hop is explored before the costly ones already
queued). Each method is visited at most once per leg (going up through callers,
then down through callees), within a depth, ``MAX_VISITS`` visits per search
and the scan's :class:`SearchBudget`; the scan's time cap (``deadline``) is
checked before every visit. Every visit carries the path from the start, each
step with the offset of the call that leads on.

What a search looks for, which hops it may take and what it carries along (the
data-flow state of :mod:`.chains`) are its caller's: the search only orders,
bounds and records.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from appaudit import deadline
from appaudit.analysis.facts import ChainStep, StoreHop
from appaudit.model import Evidence, MethodId

#: Methods one search may visit before it gives up (bounds time on huge apps).
MAX_VISITS = 400
#: Methods all searches of one scan may visit together. Each visit of a new
#: method looks up its callers across every DEX, so on apps with many reads the
#: total, not each search, is what grows; past it the remaining searches are
#: skipped and the report says so (coverage reason ``search_budget``).
MAX_TOTAL_VISITS = 3000

_S = TypeVar("_S")


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


def method_of(ev: Evidence) -> MethodId:
    """The method code evidence (a read) is in, where a search starts."""
    return MethodId(class_name=ev.class_name or "", method=ev.method or "")


@dataclass(frozen=True, slots=True, kw_only=True)
class Hop:
    """An edge the search may take from the method it visits."""

    to: MethodId
    offset: int
    """The call's offset: in the caller (a hop up) or in the method visited (a hop down)."""
    up: bool
    """To a caller (the data is returned); else down to a callee (the data is passed on)."""
    free: bool = False
    """A hand-off to another thread or component: the same logical call, costing no depth."""
    via: StoreHop | None = None
    """A jump through storage or a named hand-off (:mod:`.stores`): to a method that reads back what the
    visited one stored (``offset`` is the store), neither its caller nor its callee; reached as a start is
    (its callers are followed too)."""
    at: int | None = None
    """For a jump: the offset of the read back in ``to``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Visit(Generic[_S]):
    """A method the search has reached: the queue's item."""

    node: MethodId
    descending: bool
    """Reached down a call (only callees are followed from here), not up through callers."""
    cost: int
    """Depth used so far (hand-offs cost none)."""
    path: tuple[ChainStep, ...]
    """Methods from the start to ``node`` (last, with no offset yet unless it is the start)."""
    carried: _S
    """What the caller's search carries along (the data-flow state; None for calls alone)."""


def start_at(node: MethodId, offset: int | None, carried: _S) -> Visit[_S]:
    """The first visit of a search from ``node`` (the read at ``offset``)."""
    return Visit(node=node, descending=False, cost=0, path=(ChainStep.at(node, offset),), carried=carried)


def path_to(visit: Visit[_S], hop: Hop) -> tuple[ChainStep, ...]:
    """The path to ``hop``'s target: a caller is appended at its call; a callee, or a jump's target, after
    the visited method's step, which then gets the offset of the call (or store) leading on."""
    if hop.via is not None:
        return (*visit.path[:-1], ChainStep.at(visit.node, hop.offset), ChainStep.at(hop.to, hop.at))
    if hop.up:
        return (*visit.path, ChainStep.at(hop.to, hop.offset))
    return (*visit.path[:-1], ChainStep.at(visit.node, hop.offset), ChainStep.at(hop.to))


def bounded_search(
    start: Visit[_S],
    hops: Callable[[Visit[_S]], Iterable[Hop]],
    *,
    depth: int,
    budget: SearchBudget | None,
    admit: Callable[[Visit[_S], Hop], _S | None] | None = None,
    free_hops: bool = True,
) -> Iterator[Visit[_S]]:
    """Each method reached from ``start`` within ``depth``, cheapest first; stop by leaving the loop.

    A visit is yielded before its ``hops`` are taken, so the caller may stop at it. A hop is taken
    when its target was not reached on that leg yet, the depth allows it, and ``admit`` (if given)
    returns what to carry into the target (None: the hop is not taken). Without ``free_hops`` every
    hop costs one (the start-up search counts every step), so a visit at full depth is not expanded.
    """
    queue: deque[Visit[_S]] = deque([start])
    seen = {(start.node, start.descending)}
    visits = 0
    while queue and visits < MAX_VISITS and (budget is None or budget.take()):
        deadline.check()
        visits += 1
        visit = queue.popleft()
        yield visit
        if not free_hops and visit.cost >= depth:
            continue
        for hop in hops(visit):
            key = (hop.to, not hop.up and hop.via is None)
            free = free_hops and hop.free
            cost = visit.cost + (not free)
            if key in seen or cost > depth:
                continue
            carried = visit.carried
            if admit is not None:
                admitted = admit(visit, hop)
                if admitted is None:
                    continue
                carried = admitted
            seen.add(key)
            reached = Visit(node=hop.to, descending=key[1], cost=cost, path=path_to(visit, hop), carried=carried)
            if free:
                queue.appendleft(reached)
            else:
                queue.append(reached)
