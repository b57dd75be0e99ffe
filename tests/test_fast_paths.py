"""The scan's hot paths keep their answers: remembered hops, taint plans and the last pass left out,
analyses keyed by the fields a method reads, register passes that go on from the last one (#13)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from appaudit.analysis import taint
from appaudit.analysis.call_hops import CallHops
from appaudit.analysis.registers import Value, values_at
from appaudit.analysis.taint import Plans, Seeds, analyse
from appaudit.build import compiled_modules
from appaudit.model import MethodId
from test_registers import _const, _method
from test_taint import POST, method, read_then

FIELD = "Lcom/x/A;->rows:Ljava/util/List;"
OTHER = "Lcom/x/A;->name:Ljava/lang/String;"
LIST_ADD = "Ljava/util/List;->add(Ljava/lang/Object;)Z"


class _Passes:
    """Stands in for :mod:`appaudit.deadline` in taint: counts the fixpoint's passes."""

    def __init__(self) -> None:
        self.count = 0

    def check(self) -> None:
        self.count += 1


@pytest.fixture
def passes(monkeypatch: pytest.MonkeyPatch) -> _Passes:
    counter = _Passes()
    monkeypatch.setattr(taint, "deadline", counter)
    return counter


def test_straight_code_is_walked_once(passes: _Passes) -> None:
    # no back edge and nothing but registers tainted: a second pass would repeat the first
    body = read_then((16, "invoke-static", (2,), POST), (22, "return-object", (2,)))
    flow = analyse(body, Seeds(sites={0: (True, frozenset())}))
    assert (flow.calls, flow.returns, passes.count) == ({8: frozenset({0}), 16: frozenset({0})}, True, 1)


def test_an_object_tainted_after_its_use_is_walked_again(passes: _Passes) -> None:
    # v3 is handed to post() at 20 before the read's value is put in it at 26: the second pass sees
    # the object tainted at 20; a third (which the fixpoint ran before) would repeat the second
    body = read_then(
        (16, "new-instance", (3,), "Lcom/x/Row;"),
        (20, "invoke-static", (3,), POST),
        (26, "iput-object", (2, 3), "Lcom/x/Row;->v:Ljava/lang/String;"),
        (30, "return-void", ()),
    )
    flow = analyse(body, Seeds(sites={0: (True, frozenset())}))
    assert (flow.calls[20], flow.objects, passes.count) == (frozenset({0}), frozenset({16}), 2)


def test_a_loop_is_walked_until_its_back_edge_is_stable(passes: _Passes) -> None:
    # 16: post(v2); 22: v2 = v1.getString() ... goto 16: the back edge changes in pass 1 only
    body = read_then(
        (16, "invoke-static", (2,), POST),
        (22, "goto", (), None, 16),
    )
    flow = analyse(body, Seeds(sites={0: (True, frozenset())}))
    assert (flow.calls[16], passes.count) == (frozenset({0}), 2)


def test_fields_a_method_does_not_read_do_not_change_its_analysis() -> None:
    body = method(
        (0, "iget-object", (1, 0), FIELD),
        (4, "invoke-interface", (1, 2), LIST_ADD),
        (10, "return-void", ()),
        registers=3,
        static=False,
    )
    plans = Plans()
    assert plans.reads(body) == frozenset({FIELD})
    read = analyse(body, Seeds(), {FIELD}, plans=plans)
    assert analyse(body, Seeds(), {FIELD, OTHER}, plans=plans) == read
    assert read.calls == {4: frozenset({0})}
    assert analyse(body, Seeds(), {OTHER}, plans=plans).tainted is False


def test_a_plain_pass_goes_on_from_the_last_and_starts_again_behind_it() -> None:
    one = _method(_const(0, 0, "a"), _const(4, 0, "b"), _const(8, 1, "c"))
    two = _method(_const(0, 0, "z"))
    a, b, c, z = (Value("string", t) for t in "abcz")
    asked = [(one, 8), (one, 8), (one, 1000), (two, 1000), (one, 4), (one, 0), (one, 6), (one, 9)]
    assert [values_at(m, off) for m, off in asked] == [
        {0: b},
        {0: b},
        {0: b, 1: c},
        {0: z},
        {0: a},
        {},
        {0: b},
        {0: b, 1: c},
    ]
    values_at(one, 8)[0] = z  # the caller's copy: the next pass does not see it
    assert values_at(one, 9) == {0: b, 1: c}


@dataclass
class _Graph:
    """The part of :class:`.CallGraph` the hops read."""

    callers: dict[MethodId, list[tuple[MethodId, int]]]
    callees: dict[MethodId, list[tuple[int, MethodId]]]
    handoffs: set[tuple[MethodId, MethodId]] = field(default_factory=set)

    def up(self, node: MethodId) -> list[tuple[MethodId, int]]:
        return self.callers.get(node, [])

    def down(self, node: MethodId) -> list[tuple[int, MethodId]]:
        return self.callees.get(node, [])


def _m(name: str) -> MethodId:
    return MethodId(class_name="com.x.A", method=f"{name}()V")


@pytest.mark.skipif(
    "appaudit.analysis.call_hops" in compiled_modules(),
    reason="a stand-in call graph: the compiled CallHops takes only a real CallGraph (the sources run this test)",
)
def test_remembered_hops_follow_the_hand_offs_the_graph_learns() -> None:
    start, run, caller, other = _m("start"), _m("run"), _m("caller"), _m("other")
    graph = _Graph(callers={start: [(caller, 4)]}, callees={start: [(2, run), (8, other)]})
    hops = CallHops(graph)  # type: ignore[arg-type]
    down = hops.of(start, up=False)
    assert [(h.to, h.offset, h.up, h.free) for h in down] == [(run, 2, False, False), (other, 8, False, False)]
    graph.handoffs.add((caller, other))  # learnt elsewhere: these hops stay as they were
    assert hops.of(start, up=False) is down
    graph.handoffs.add((start, run))  # ``start`` hands work to ``run``: that hop is now free
    assert [(h.to, h.free) for h in hops.of(start, up=False)] == [(run, True), (other, False)]
    graph.handoffs.add((caller, start))
    assert [(h.to, h.offset, h.up, h.free) for h in hops.of(start, up=True)] == [(caller, 4, True, True)]
