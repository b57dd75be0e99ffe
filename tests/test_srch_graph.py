"""The call graph's per-scan caches (appaudit.analysis.graph): the dispatch walk made once per class, each
invoke reference resolved once, the calls of a method by offset; the same answers as asked afresh."""

from __future__ import annotations

from typing import cast

from appaudit.analysis.graph import MAX_DISPATCH, MAX_HIERARCHY_WALK, CallGraph
from appaudit.apk.dex.types import CodeIndex, Insn, MethodCode
from appaudit.model import MethodId
from appaudit.ruleset import load_ruleset


class _Code:
    """A hand-made app: ``subs`` class -> its direct subtypes, ``defs`` class -> the methods it defines,
    ``bodies`` (class, method) -> its instructions; every class named is the app's."""

    def __init__(
        self,
        subs: dict[str, tuple[str, ...]],
        defs: dict[str, tuple[str, ...]],
        bodies: dict[tuple[str, str], tuple[Insn, ...]] | None = None,
    ) -> None:
        self.subs = subs
        self.defs = defs
        self.bodies = bodies or {}
        self.subtype_asks: list[str] = []

    def defined_classes(self) -> frozenset[str]:
        return frozenset({*self.subs, *self.defs, *(s for v in self.subs.values() for s in v)})

    def subtypes(self, class_name: str) -> tuple[str, ...]:
        self.subtype_asks.append(class_name)
        return self.subs.get(class_name, ())

    def methods_of(self, class_name: str) -> tuple[str, ...]:
        return self.defs.get(class_name, ())

    def supertypes(self, class_name: str) -> tuple[str | None, tuple[str, ...]] | None:
        parents = [c for c, subs in self.subs.items() if class_name in subs]
        return (parents[0] if parents else "java.lang.Object"), ()

    def method_code(self, class_name: str, method: str) -> MethodCode | None:
        insns = self.bodies.get((class_name, method))
        if insns is None:
            return None
        return MethodCode(
            class_name=class_name,
            method=method,
            dex="classes.dex",
            registers_size=2,
            ins_size=1,
            is_static=False,
            param_types=(),
            insns=insns,
        )


def _graph(code: _Code) -> CallGraph:
    return CallGraph(cast(CodeIndex, code), load_ruleset().flows)


def _wide(n: int, defining: range) -> _Code:
    names = tuple(f"S{i:03d}" for i in range(n))
    return _Code({"Base": names}, {names[i]: ("m()V",) for i in defining})


def test_dispatch_takes_the_last_subtype_first_and_stops_at_max_dispatch() -> None:
    graph = _graph(_wide(20, range(20)))
    assert MAX_DISPATCH == 16
    assert graph.implementations("Base", "m()V") == [f"S{i:03d}" for i in range(19, 3, -1)]


def test_dispatch_walk_ends_once_max_hierarchy_walk_classes_are_known() -> None:
    # The walk counts the classes it has queued: past the limit no subtype is looked at, though they define m.
    assert MAX_HIERARCHY_WALK == 200
    assert _graph(_wide(MAX_HIERARCHY_WALK, range(MAX_HIERARCHY_WALK))).implementations("Base", "m()V") == []
    found = _graph(_wide(MAX_HIERARCHY_WALK - 2, range(3))).implementations("Base", "m()V")
    assert found == ["S002", "S001", "S000"]


def test_dispatch_walk_is_made_once_per_class_for_every_method_name() -> None:
    code = _Code({"Base": ("A", "B"), "A": ("C",)}, {"A": ("m()V",), "B": ("n()V",), "C": ("m()V", "n()V")})
    graph = _graph(code)
    assert graph.implementations("Base", "m()V") == ["A", "C"]
    assert graph.implementations("Base", "n()V") == ["B", "C"]
    assert graph.implementations("Base", "o()V") == []
    assert code.subtype_asks == ["Base", "B", "A", "C"]  # one walk, shared by the three names


def _call(offset: int, ref: str, op: str = "invoke-virtual") -> Insn:
    return Insn(offset=offset, op=op, opcode=0x6E, length=3, regs=(1,), ref=ref, ref_kind="method")


def test_down_resolves_a_reference_once_and_shares_the_callee() -> None:
    bodies = {
        ("Main", "a()V"): (_call(0, "LBase;->m()V"), _call(6, "Ljava/lang/String;->length()I")),
        ("Main", "b()V"): (_call(4, "LBase;->m()V"), _call(10, "LBase;->m()V", "invoke-super")),
    }
    code = _Code({"Base": ("Impl",), "Main": ()}, {"Base": ("m()V",), "Impl": ("m()V",), "Main": ()}, bodies)
    graph = _graph(code)
    a, b = MethodId(class_name="Main", method="a()V"), MethodId(class_name="Main", method="b()V")
    base, impl = MethodId(class_name="Base", method="m()V"), MethodId(class_name="Impl", method="m()V")
    # a virtual call may run Base's or Impl's m (the walk's order); the framework's String has no app override
    assert graph.down(a) == [(0, base), (0, impl)]
    # a super call runs the one nearest definition, never a subclass's
    assert graph.down(b) == [(4, base), (4, impl), (10, base)]
    assert graph.down(a)[1][1] is graph.down(b)[1][1]
    assert graph.call_refs(b) == {4: "LBase;->m()V", 10: "LBase;->m()V"}
