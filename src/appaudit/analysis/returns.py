"""Is an app method's result the data it was handed? A per-method return summary.

:mod:`.taint` takes the result of a call with a tainted argument or receiver for tainted (``sb.append(x)``,
``json.put(k, x)``), except the framework calls listed in ``fresh_results`` (rules/flows.yaml: a
server's reply, a row id, a size). An app's own method is judged by what it does instead: a wrapper
around ``SQLiteDatabase.insert`` returns the row id, not the rows; a method that returns the rows it
was given (or a JSON object it put them in, or ``this`` after a setter) returns the data.

:class:`ReturnSummaries` analyses the called method once per scan with every parameter (and ``this``)
tainted and no tainted field: when nothing tainted is returned, the call's result is *fresh* (not
tainted by what went in). A virtual call must be fresh in every app implementation the call may run
(the named class's own method and its subclasses' overrides, as :meth:`.graph.CallGraph.implementations`
finds them).

Bounded and conservative (an answer not known is "not fresh": the result stays tainted, as before):
a method the named class does not define itself (inherited, abstract, an interface's), a framework
method, one of more than :data:`.taint.MAX_INSNS` instructions, more overrides than the call graph
follows, a summary asked for while another is being made (:data:`MAX_NESTING`: a wrapper of a wrapper),
or recursion. Limits: a method that returns data through a field it read (not a parameter) is fresh
here, as the framework's calls are: the field's readers are followed by field taint, not by this.

:meth:`ReturnSummaries.filled` answers the other half of a call's effect: which of its arguments an app
method fills with the tainted ones (``copy(in, out)`` writes what it reads from ``in`` into ``out``), from
the method analysed with those arguments tainted (its ``params_out``), once per call and set of tainted
positions. Only arrays and container types (:data:`_CONTAINERS`: streams, writers, builders, collections,
JSON) never reassigned in the callee are filled. Bounded as above, but :data:`MAX_FILL_NESTING` deep
(a fill inside a return summary: a ``toByteArray(in)`` that copies through ``copy(in, out)``); an answer
not known is "fills nothing", as
before.
"""

from __future__ import annotations

from collections.abc import Callable

from appaudit import deadline
from appaudit.analysis.graph import MAX_DISPATCH, CallGraph
from appaudit.analysis.registers import defines_register
from appaudit.analysis.taint import MAX_INSNS, Plans, Seeds, analyse
from appaudit.apk.dex.types import MethodCode
from appaudit.descriptors import java_name

#: Summaries are made inside other summaries at most this deep. 1: inside a summary, another app
#: method's result is taken as tainted (a wrapper of a wrapper is not fresh). Nesting them cost twice
#: the scan time on an app with many small helpers (1264c25d67: 0.12 -> 0.25 s) and changed no
#: corpus report.
MAX_NESTING = 1
#: Fill summaries are made inside other summaries at most this deep: 3, so that a return summary can ask
#: which argument a helper it calls fills, through one more helper (``toByteArray(in)`` -> ``copy(in, out)``
#: -> ``copyLarge(in, out)``, the stream-copy helpers of commons-io and its many copies).
MAX_FILL_NESTING = 3
#: Says whether a call (``Lc;->m(p)r``) or a class (descriptor) has a property.
_Test = Callable[[str], bool]


#: The argument a framework stream read fills (its first, after the receiver).
_BUFFER = frozenset({1})
#: Parameter types a callee fills data into (besides arrays): streams and writers it writes to, builders and
#: collections it appends to. Others (an app's own object, a Context) are not summarised as filled: an
#: app object filled by a setter is already tainted by the call's receiver rule, a field written by field taint.
_CONTAINERS = frozenset(
    {
        "Ljava/io/OutputStream;",
        "Ljava/io/ByteArrayOutputStream;",
        "Ljava/io/DataOutputStream;",
        "Ljava/io/BufferedOutputStream;",
        "Ljava/io/Writer;",
        "Ljava/io/StringWriter;",
        "Ljava/io/PrintWriter;",
        "Ljava/lang/StringBuilder;",
        "Ljava/lang/StringBuffer;",
        "Ljava/lang/Appendable;",
        "Ljava/util/List;",
        "Ljava/util/ArrayList;",
        "Ljava/util/Collection;",
        "Ljava/util/Map;",
        "Ljava/util/HashMap;",
        "Lorg/json/JSONObject;",
        "Lorg/json/JSONArray;",
        "Ljava/nio/ByteBuffer;",
    }
)


def fillable(body: MethodCode) -> frozenset[int]:
    """Positions of ``body``'s parameters (0 is ``this`` of an instance method) a caller's object can be filled
    through: an array or a container type (:data:`_CONTAINERS`), never written in the method (a parameter
    register reused for another value is tainted without the caller's object being touched)."""
    first = body.first_param_register
    written = {i.regs[0] for i in body.insns if defines_register(i)}
    kinds = ([] if body.is_static else ["L"]) + [
        k for p in body.param_types for k in ((p, "") if p in ("J", "D") else (p,))
    ]
    return frozenset(
        k for k, kind in enumerate(kinds) if (kind[:1] == "[" or kind in _CONTAINERS) and first + k not in written
    )


class ReturnSummaries:
    """Which app methods return something other than what they are handed, for one scan (cached)."""

    def __init__(
        self,
        graph: CallGraph,
        plans: Plans,
        is_component: _Test,
        framework_fresh: _Test,
        framework_fills: _Test = lambda ref: False,
    ) -> None:
        self.graph = graph
        self.plans = plans
        self.is_component = is_component
        self.framework_fresh = framework_fresh
        self.framework_fills = framework_fills
        """Framework calls that fill their first argument from their tainted receiver (a stream read)."""
        self._known: dict[str, bool] = {}
        self._filled: dict[tuple[str, frozenset[int]], frozenset[int]] = {}
        self._active: list[str] = []
        #: Whether a fills answer being made met the recursion or nesting cut. Such an answer is kept
        #: only when asked from the top level (the answer within the bounds); one made below it is not,
        #: so a later question from the top looks as deep as the bounds allow whatever was asked first.
        #: A nested question may still find a top-level answer kept earlier (one that looked deeper).
        self._cut = False

    def fresh(self, ref: str) -> bool:
        """The call ``ref`` (``Lc;->m(p)r``) returns something other than the data handed to it: a
        framework call in ``fresh_results``, or app methods (every implementation it may run) that
        return nothing tainted by their parameters or ``this``."""
        if self.framework_fresh(ref):
            return True
        known = self._known.get(ref)
        if known is None:
            if ref.endswith(")V") or ref in self._active or len(self._active) >= MAX_NESTING:
                return False  # no result, or recursion / nesting: not known, stays tainted (not cached)
            known = self._known[ref] = self._summarise(ref)
        return known

    def _implementations(self, ref: str) -> tuple[str, list[str]] | None:
        """(method, the app classes implementing it) for the call ``ref`` to an app method; None when it is
        not one, or its overrides may not all be known."""
        owner, _, method = ref.partition("->")
        cls = java_name(owner)
        if cls not in self.graph.app_classes or self.graph.code.method_code(cls, method) is None:
            return None
        impls = self.graph.implementations(cls, method)
        if len(impls) >= MAX_DISPATCH:  # the hierarchy walk may have stopped early: overrides not all known
            return None
        deadline.check()  # each summary analyses methods: within the scan's time cap
        return method, impls

    def _summarise(self, ref: str) -> bool:
        found = self._implementations(ref)
        if found is None:
            return False
        method, impls = found
        self._active.append(ref)
        try:
            return all(self._returns_fresh(c, method) for c in impls)
        finally:
            self._active.pop()

    def _returns_fresh(self, cls: str, method: str) -> bool:
        """``cls.method`` entered with every parameter tainted returns nothing tainted."""
        body = self.graph.code.method_code(cls, method)
        if body is None or len(body.insns) > MAX_INSNS:
            return False
        seeds = Seeds(params=frozenset(range(body.registers_size - body.first_param_register)))
        return not analyse(body, seeds, (), self.is_component, self.fresh, self.plans, self.filled).returns

    def filled(self, ref: str, tainted: frozenset[int]) -> frozenset[int]:
        """The argument positions (0 is the receiver of an instance call) the app method ``ref`` fills with
        what it is handed at ``tainted``, in any implementation the call may run; empty when not known."""
        if self.framework_fills(ref):
            return _BUFFER if 0 in tainted else frozenset()
        key = (ref, tainted)
        known = self._filled.get(key)
        if known is None:
            if ref in self._active or len(self._active) >= MAX_FILL_NESTING:
                self._cut = True
                return frozenset()  # recursion / nesting: not known (not cached)
            outer, self._cut = self._cut, False
            known = self._summarise_fills(ref, tainted)
            if not self._cut or not self._active:  # exact, or the top level's answer within the bounds
                self._filled[key] = known
            self._cut = outer or self._cut
        return known

    def _summarise_fills(self, ref: str, tainted: frozenset[int]) -> frozenset[int]:
        found = self._implementations(ref)
        if found is None:
            return frozenset()
        method, impls = found
        self._active.append(ref)
        try:
            out: set[int] = set()
            for c in impls:
                body = self.graph.code.method_code(c, method)
                if body is None or len(body.insns) > MAX_INSNS:
                    continue
                # ``this`` is filled by any call with tainted arguments already (taint_rules' invoke rule)
                open_ = fillable(body) - tainted - (frozenset() if body.is_static else frozenset({0}))
                if open_:  # else nothing the caller holds can be filled: no analysis
                    flow = analyse(
                        body, Seeds(params=tainted), (), self.is_component, self.fresh, self.plans, self.filled
                    )
                    out |= flow.params_out & open_
            return frozenset(out)
        finally:
            self._active.pop()
