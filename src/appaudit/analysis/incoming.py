"""Is every incoming SMS read, or only the one a receiver waits for? (issue #12 item 1, incoming SMS)

A receiver that decodes incoming messages (``createFromPdu``) reads all of them in bulk when what it
does with them happens whatever they say. It does not when it acts only on a message whose content
passes a test (``body.equals(expected)``, ``startsWith``, ``contains``, ``matches``): a phone
verification, a command, an operator's reply it hides. In the decoding method, the call that leads
on to the sink (the chain's first step) is looked for on the paths where every such test of the
message found no match (:func:`reached_without_match`); when no such path reaches it, only matching
messages go on (``content_test``).

A message handed to native code (a ``native`` method of the app, called with the message, or with a
field the decoding method filled, from another method of the receiver) is read in bulk too
(``to_native``): what the native library does with it is not visible, and it gets every message.

Limits: a test in a caller of the decoding method, or one whose result is stored and tested later,
is not seen (the read then counts as every message, as before). A method is taken for native when
an app class declares it without code, so an abstract method of the app's own interface handed the
message counts as native too.
"""

from __future__ import annotations

from functools import cached_property

from appaudit.analysis import taint
from appaudit.analysis.facts import HarvestChain, IncomingReason
from appaudit.analysis.graph import CallGraph
from appaudit.analysis.search import method_of
from appaudit.apk.dex.types import CodeIndex, Insn, MethodCode
from appaudit.descriptors import java_desc, java_name
from appaudit.model import Dataflow, Evidence

#: String calls whose result says whether a message's text matched something.
_TESTS = frozenset(
    {"equals", "equalsIgnoreCase", "contentEquals", "startsWith", "endsWith", "contains", "matches", "regionMatches"}
)
_TEST_OWNERS = frozenset({"Ljava/lang/String;", "Landroid/text/TextUtils;", "Ljava/util/regex/Matcher;"})


def _match_edges(body: MethodCode, flow: taint.Flow) -> dict[int, str]:
    """Branch offset -> the edge taken when a tainted content test matched (``jump`` or ``fall``)."""
    out: dict[int, str] = {}
    tested: dict[int, bool] = {}  # register -> holds the result of a content test of the message
    last_test = False
    for insn in body.insns:
        if insn.op.startswith("invoke"):
            owner, _, rest = (insn.ref or "").partition("->")
            name = rest.split("(", 1)[0]
            last_test = insn.offset in flow.calls and owner in _TEST_OWNERS and name in (_TESTS | {"find"})
        elif insn.op.startswith("move-result") and insn.regs:
            tested[insn.regs[0]] = last_test
        elif insn.op in ("if-eqz", "if-nez") and insn.regs and tested.get(insn.regs[0]):
            out[insn.offset] = "fall" if insn.op == "if-eqz" else "jump"  # eqz jumps when there is no match
        elif insn.regs and not insn.op.startswith(("if-", "goto", "return", "throw", "iput", "sput", "aput")):
            tested.pop(insn.regs[0], None)
    return out


def reached_without_match(body: MethodCode, target: int, match_edges: dict[int, str]) -> bool | None:
    """Is the instruction at ``target`` reached from the method's entry when no content test matched?
    None when it is not reached at all (an exception handler, code not decoded)."""
    index = {insn.offset: k for k, insn in enumerate(body.insns)}
    if target not in index:
        return None

    def reach(restricted: bool) -> bool:
        seen, todo = set(), [0]
        while todo:
            k = todo.pop()
            if k in seen or k >= len(body.insns):
                continue
            seen.add(k)
            insn = body.insns[k]
            if insn.offset == target:
                return True
            todo.extend(_successors(insn, k, index, match_edges.get(insn.offset) if restricted else None))
        return False

    if not reach(False):
        return None
    return reach(True)


def _leads(body: MethodCode, chain: HarvestChain, lead: int) -> list[int]:
    """The chain's call out of the decoding method, and every other call (or construction) there of the
    same next method: the chain keeps one path, the message may take another."""
    if len(chain.steps) < 2:
        return [lead]
    nxt = chain.steps[1].method_id
    desc = java_desc(nxt.class_name)
    out = [lead]
    for insn in body.insns:
        calls_next = insn.op.startswith("invoke") and insn.ref == f"{desc}->{nxt.method}"
        if calls_next or (insn.op == "new-instance" and insn.ref == desc):
            out.append(insn.offset)
    return out


def _successors(insn: Insn, k: int, index: dict[int, int], banned: str | None) -> list[int]:
    op = insn.op
    if op.startswith(("return", "throw")):
        return []
    jump = [index[insn.target]] if insn.target is not None and insn.target in index else []
    if op.startswith("goto"):
        return jump
    if op.startswith("if-"):
        return ([] if banned == "jump" else jump) + ([] if banned == "fall" else [k + 1])
    return [k + 1]


class IncomingSms:
    """Decides, per incoming-SMS decode, whether it reads every message; one per scan."""

    def __init__(self, code: CodeIndex, graph: CallGraph) -> None:
        self.code = code
        self.graph = graph

    @cached_property
    def _app_classes(self) -> frozenset[str]:
        return self.code.defined_classes()

    def _is_native(self, owner: str, method: str) -> bool:
        """``owner->method`` is declared by an app class and has no code: a native method (listing
        every native method of the app, ``CodeIndex.native_methods``, costs a walk of every class)."""
        cls = java_name(owner)
        if cls not in self._app_classes or method not in self.code.methods_of(cls):
            return False
        return self.code.method_code(cls, method) is None

    def reason(self, read: Evidence, chains: list[HarvestChain]) -> IncomingReason:
        """Why ``read`` (a decode) reads every incoming message, or not; ``chains`` are its chains."""
        body = self.graph.body(method_of(read))
        confirmed = [c for c in chains if c.read == read and c.dataflow == Dataflow.CONFIRMED]
        if body is None:
            return IncomingReason.PASSED_ON if confirmed else IncomingReason.NOT_FOLLOWED
        flow = taint.analyse(body, taint.Seeds(sites={read.offset or 0: (True, frozenset())}))
        if confirmed:
            edges = _match_edges(body, flow)
            for chain in confirmed:
                lead = chain.steps[0].offset
                if lead is None or lead == read.offset and len(chain.steps) > 1:
                    return IncomingReason.PASSED_ON  # the message leaves through a caller: not tested here
                if any(reached_without_match(body, at, edges) is not False for at in _leads(body, chain, lead)):
                    return IncomingReason.PASSED_ON
            return IncomingReason.CONTENT_TEST
        return IncomingReason.TO_NATIVE if self._to_native(body, flow) else IncomingReason.NOT_FOLLOWED

    def _to_native(self, body: MethodCode, flow: taint.Flow) -> bool:
        """The message, or a field of the receiver filled with it, is handed to a native method."""
        if self._calls_native(body, flow):
            return True
        fields = {f for f in flow.fields if f.startswith(java_desc(body.class_name) + "->")}
        if not fields:
            return False
        for method in self.code.methods_of(body.class_name):
            other = self.code.method_code(body.class_name, method)
            if other is None or other.method == body.method:
                continue
            if self._calls_native(other, taint.analyse(other, taint.Seeds(), fields)):
                return True
        return False

    def _calls_native(self, body: MethodCode, flow: taint.Flow) -> bool:
        for insn in body.insns:
            if insn.offset in flow.calls and insn.ref:
                owner, _, rest = insn.ref.partition("->")
                first_arg = 0 if insn.op.startswith("invoke-static") else 1  # not the receiver
                tainted = any(p >= first_arg for p in flow.calls[insn.offset])
                if tainted and self._is_native(owner, rest):
                    return True
        return False
