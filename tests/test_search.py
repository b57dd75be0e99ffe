"""The one bounded search (appaudit.analysis.search) on small hand-made graphs."""

from __future__ import annotations

from collections.abc import Iterator

from appaudit.analysis.facts import ChainStep
from appaudit.analysis.search import MAX_VISITS, Hop, SearchBudget, Visit, bounded_search, start_at
from appaudit.model import MethodId


def _n(name: str) -> MethodId:
    return MethodId(class_name="C", method=name)


#: name -> [(callee, offset, free)] down; name -> [(caller, offset)] up.
DOWN: dict[str, list[tuple[str, int, bool]]] = {
    "read": [("a", 2, False), ("task", 4, True)],
    "a": [("b", 6, False)],
    "b": [("c", 8, False)],
    "task": [("sink", 10, False)],
}
UP: dict[str, list[tuple[str, int]]] = {"read": [("caller", 12)], "caller": [("top", 14)]}


def _hops(visit: Visit[None]) -> Iterator[Hop]:
    name = visit.node.method
    if not visit.descending:
        yield from (Hop(to=_n(c), offset=off, up=True) for c, off in UP.get(name, ()))
    yield from (Hop(to=_n(c), offset=off, up=False, free=free) for c, off, free in DOWN.get(name, ()))


def _order(depth: int, **kw: object) -> list[tuple[str, int]]:
    visits = bounded_search(start_at(_n("read"), 0, None), _hops, depth=depth, budget=None, **kw)  # type: ignore[arg-type]
    return [(v.node.method, v.cost) for v in visits]


def test_cheapest_first_and_a_hand_off_costs_nothing() -> None:
    # The free hop to ``task`` is explored before the costly ones queued before it.
    assert _order(2) == [("read", 0), ("task", 0), ("caller", 1), ("a", 1), ("sink", 1), ("top", 2), ("b", 2)]
    assert _order(0) == [("read", 0), ("task", 0)]


def test_without_free_hops_every_step_costs_one_and_full_depth_is_not_expanded() -> None:
    assert _order(1, free_hops=False) == [("read", 0), ("caller", 1), ("a", 1), ("task", 1)]


def test_paths_carry_the_offset_of_the_call_leading_on() -> None:
    visits = {v.node.method: v for v in bounded_search(start_at(_n("read"), 0, None), _hops, depth=3, budget=None)}
    assert visits["top"].path == (
        ChainStep(class_name="C", method="read", offset=0),
        ChainStep(class_name="C", method="caller", offset=12),
        ChainStep(class_name="C", method="top", offset=14),
    )
    # Down a call the offset is the call's, in the method visited; the callee has none yet.
    assert visits["b"].path == (
        ChainStep(class_name="C", method="read", offset=2),
        ChainStep(class_name="C", method="a", offset=6),
        ChainStep(class_name="C", method="b"),
    )
    assert visits["b"].descending and not visits["top"].descending


def test_a_refused_hop_leaves_its_target_open_and_admit_sets_what_is_carried() -> None:
    def admit(visit: Visit[int], hop: Hop) -> int | None:
        return None if hop.to.method == "a" else visit.carried + 1

    def hops(visit: Visit[int]) -> Iterator[Hop]:
        if visit.node.method == "read":
            yield Hop(to=_n("a"), offset=2, up=False)  # refused here ...
            yield Hop(to=_n("x"), offset=4, up=False)
        if visit.node.method == "x":
            yield Hop(to=_n("a"), offset=6, up=False)  # ... so still reachable from here (and refused again)
            yield Hop(to=_n("y"), offset=8, up=True)

    visits = bounded_search(start_at(_n("read"), 0, 0), hops, depth=5, budget=None, admit=admit)
    assert [(v.node.method, v.carried) for v in visits] == [("read", 0), ("x", 1), ("y", 2)]


def test_a_method_is_visited_once_per_leg() -> None:
    def hops(visit: Visit[None]) -> Iterator[Hop]:
        if visit.node.method == "read":
            yield Hop(to=_n("m"), offset=0, up=True)
            yield Hop(to=_n("m"), offset=2, up=False)
            yield Hop(to=_n("m"), offset=4, up=False)

    visits = bounded_search(start_at(_n("read"), 0, None), hops, depth=2, budget=None)
    assert [(v.node.method, v.descending) for v in visits] == [("read", False), ("m", False), ("m", True)]


def test_visits_are_bounded_per_search_and_per_scan() -> None:
    def chain(visit: Visit[None]) -> Iterator[Hop]:
        yield Hop(to=_n(str(int(visit.node.method or "0") + 1)), offset=0, up=False, free=True)

    endless = bounded_search(start_at(_n(""), 0, None), chain, depth=1, budget=None)
    assert sum(1 for _ in endless) == MAX_VISITS
    budget = SearchBudget(total=5)
    assert sum(1 for _ in bounded_search(start_at(_n(""), 0, None), chain, depth=1, budget=budget)) == 5
    assert budget.exhausted and budget.left == 0
