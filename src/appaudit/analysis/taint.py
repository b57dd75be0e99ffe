"""Does the data read actually travel along a chain? A light data-flow check.

A chain (``chains.ChainFinder``) says a read and a sink are linked by calls.
This module follows the *data* along that chain, one method at a time:

* in the read's method, the value the read returns (the cursor, the SMS
  message) is tainted, and so is everything computed from it;
* across a call down the chain, the callee's parameters that received
  tainted arguments are tainted; across a call up the chain, the caller's
  result of the call is tainted when the callee returned tainted data, and
  so are arguments the callee filled (a list it added rows to);
* across a hand-off, a ``Runnable``/``Thread`` object that received tainted
  data (in its constructor or a setter) taints ``this`` in ``run()``; a
  component started by an Intent receives tainted parameters when the
  starting method handled tainted data;
* fields written with tainted data taint every later read of that field
  (field-sensitive, object-insensitive);
* in the sink's method, tainted data must be handed to a call.

Inside a method the analysis is flow-sensitive over the instructions'
control flow (branches, fall-through, switch cases, and catch handlers entered
from every instruction of their try blocks; an instruction nothing is seen to
reach starts from everything seen so far), with
these rules: a call with a tainted argument or receiver taints its result and
its receiver (``sb.append(x)``, ``json.put(k, x)``, ``list.add(x)``), except the
result of a call that returns something else than it was handed (a server's
reply, a row id, a size: ``fresh_results`` in rules/flows.yaml), moves
copy taint, arithmetic and conversions taint their result from any tainted
operand, stores into an object or array taint it, loads from a tainted
object or array are tainted, and a write of anything untainted clears a
register.

What it does not see (a chain it cannot follow is reported
``dataflow: "unconfirmed"``, not dropped): data passed through sockets,
reflection and native code; methods of more than ``MAX_INSNS``
instructions. Data stored under a name (a table, a preference, a file, an
Intent extra) and read back elsewhere is followed by :mod:`.stores`, between
the methods this module analyses.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from appaudit import deadline
from appaudit.analysis.taint_rules import RESULT, RULES, WITHOUT_REGISTERS, Rule, Walk, bit, nothing, rule_for
from appaudit.apk.dex.types import Insn, MethodCode

#: Passes over a method before giving up on a fixpoint (loops converge in two or three).
_MAX_PASSES = 6
#: Methods longer than this are not analysed (nothing is tainted in them, so a chain through one
#: stays unconfirmed): bounds the cost of a hostile or generated giant method. Real methods on the
#: corpus's chains have at most a few thousand instructions.
MAX_INSNS = 20_000
_NO_FALLTHROUGH = ("goto", "return", "throw")


@dataclass(frozen=True, slots=True)
class Seeds:
    """What is tainted when a method is entered or at given instructions."""

    params: frozenset[int] = frozenset()
    """Positions in the parameter registers (0 is ``this`` for an instance method)."""
    sites: dict[int, tuple[bool, frozenset[int]]] = field(default_factory=dict)
    """Instruction offset -> (its result or destination is tainted, argument positions tainted after it)."""


@dataclass(frozen=True, slots=True)
class Flow:
    """What tainted data did in one method."""

    tainted: bool
    """Anything in the method was tainted."""
    returns: bool
    """A tainted value is returned."""
    calls: dict[int, frozenset[int]]
    """Call offset -> positions of its tainted arguments (the receiver is position 0)."""
    objects: frozenset[int]
    """Offsets of ``new-instance`` whose object received tainted data."""
    fields: frozenset[str]
    """Fields written with tainted data (``Lc;->f:T``)."""
    params_out: frozenset[int]
    """Parameter positions whose register was tainted (an argument the method filled)."""
    static_puts: frozenset[int] = frozenset()
    """Offsets of ``sput`` instructions that write tainted data itself (not a field whose object was
    only handed tainted data in a call), where :mod:`.stores` follows a static field."""


_NOTHING = Flow(tainted=False, returns=False, calls={}, objects=frozenset(), fields=frozenset(), params_out=frozenset())


def analyse(
    body: MethodCode,
    seeds: Seeds,
    fields: Iterable[str] = (),
    opaque: Callable[[str], bool] | None = None,
    fresh: Callable[[str], bool] | None = None,
    plans: Plans | None = None,
) -> Flow:
    """Follow tainted data through one method.

    ``opaque`` says which receiver classes (descriptors) a call with tainted arguments does not
    fill: the register holding the receiver is tainted, not the object or field it came from.
    Components are such: ``this$0.startActivity(intentWithData)`` does not make the service a
    container of the data (taking it for one taints every later use of ``this$0``).
    ``fresh`` says which calls (``Lc;->m(p)r``) return something other than what they were handed: a
    server's reply (``URLConnection.getInputStream()``), a database's row id, a list's size: their
    result is not tainted by what went in. ``plans`` keeps the methods' plans for a caller that
    analyses a method many times (the searches of one scan).
    """
    insns = body.insns
    known = set(fields)
    if len(insns) > MAX_INSNS:
        return _NOTHING  # too big to analyse: the chain stays unconfirmed
    if (
        not seeds.params
        and not seeds.sites
        and not any(i.ref in known for i in insns if i.op.startswith(("iget", "sget")))
    ):
        return _NOTHING  # nothing tainted comes in
    first = body.first_param_register
    entry, below = 0, False
    for p in seeds.params:
        if first + p >= RESULT:
            entry |= bit(first + p)
        else:  # more ins than registers (a malformed method): no instruction names it, but it is tainted
            below = True
    walk = Walk(seeds, known, opaque, fresh)
    ever = _fixpoint(plans.of(body) if plans is not None else _plan(body), entry, walk, _seeded(insns, seeds))
    params = range(max(first, RESULT), body.registers_size)
    return Flow(
        tainted=below or bool(ever & ~bit(RESULT)),
        returns=walk.returns,
        calls=walk.calls,
        objects=frozenset(walk.objects),
        fields=frozenset(walk.written),
        params_out=frozenset(r - first for r in params if ever & bit(r) and r - first not in seeds.params),
        static_puts=frozenset(walk.sputs),
    )


def _predecessors(body: MethodCode) -> list[tuple[int, ...]]:
    """For each instruction, the indexes of those control reaches it from: fall-through, branches,
    the switch naming it as a case, and, for a catch handler, every instruction its try covers."""
    insns = body.insns
    n = len(insns)
    at = {ins.offset: i for i, ins in enumerate(insns)}
    preds: list[list[int]] = [[] for _ in range(n)]
    for i, ins in enumerate(insns):
        if i + 1 < n and not ins.op.startswith(_NO_FALLTHROUGH):
            preds[i + 1].append(i)
        if ins.target is not None and ins.op.startswith(("if-", "goto")) and ins.target in at:
            preds[at[ins.target]].append(i)
    for switch, case in body.cases:
        if switch in at and case in at:
            preds[at[case]].append(at[switch])
    offsets = [ins.offset for ins in insns]
    for start, end, handler in body.handlers:
        if handler in at:
            preds[at[handler]].extend(range(bisect_left(offsets, start), bisect_left(offsets, end)))
    return [tuple(p) for p in preds]


@dataclass(frozen=True, slots=True)
class _Plan:
    """One method in the form the fixpoint walks, made once per method and kept for the scan's
    analyses of it (a method is met by many searches, with different seeds)."""

    body: MethodCode
    """Kept so that the cache entry's id cannot be reused while the entry exists."""
    preds: list[tuple[int, ...]]
    rules: list[Rule | None]
    """Per instruction, the rule that applies it; None where it changes nothing (``goto``, ``if-``...)."""
    back: list[bool]
    """Per instruction, control goes from it back to itself or an earlier one (a loop, a try's handler
    placed before it): a pass reads its state from the pass before."""


class Plans:
    """The plans of the methods one scan's searches analyse, made on a method's first analysis and
    kept while the scan runs (by identity of the decoded body: hashing a body costs more)."""

    __slots__ = ("_by_id", "_reads")

    def __init__(self) -> None:
        self._by_id: dict[int, _Plan] = {}
        self._reads: dict[int, tuple[MethodCode, frozenset[str]]] = {}

    def reads(self, body: MethodCode) -> frozenset[str]:
        """The fields ``body`` reads (``iget``/``sget``): of the tainted fields a method is entered with,
        only these change its analysis, so a caller remembering analyses keys them by these alone."""
        known = self._reads.get(id(body))
        if known is None or known[0] is not body:
            refs = frozenset(i.ref for i in body.insns if i.ref and i.op.startswith(("iget", "sget")))
            known = self._reads[id(body)] = (body, refs)
        return known[1]

    def of(self, body: MethodCode) -> _Plan:
        plan = self._by_id.get(id(body))
        if plan is None or plan.body is not body:
            plan = self._by_id[id(body)] = _plan(body)
        return plan


def _plan(body: MethodCode) -> _Plan:
    """``body`` in the form :func:`_fixpoint` walks."""
    rules: list[Rule | None] = []
    for ins in body.insns:
        rule = RULES.get(ins.op)
        if rule is None:
            rule = RULES[ins.op] = rule_for(ins.op)
        skip = rule is nothing or (not ins.regs and rule not in WITHOUT_REGISTERS)
        rules.append(None if skip else rule)
    preds = _predecessors(body)
    back = [False] * len(preds)
    for i, before in enumerate(preds):
        for p in before:
            if p >= i:
                back[p] = True
    return _Plan(body=body, preds=preds, rules=rules, back=back)


def _seeded(insns: tuple[Insn, ...], seeds: Seeds) -> list[bool]:
    """Per instruction, whether ``seeds`` taints its result or destination."""
    flags = [False] * len(insns)
    if seeds.sites:
        for i, ins in enumerate(insns):
            site = seeds.sites.get(ins.offset)
            if site is not None and site[0]:
                flags[i] = True
    return flags


def _fixpoint(plan: _Plan, entry: int, walk: Walk, seeded: list[bool]) -> int:
    """Passes over the method until no instruction's tainted registers change; every register ever tainted.

    The hot loop of the scan: an instruction's state is an int of register bits (``taint_rules.bit``),
    so it is shared, compared and merged as one value, and an instruction no rule applies to keeps its
    single predecessor's.

    A pass is repeated until one changes no instruction's state. The last pass is left out where it is
    known to repeat the one before exactly (so the result is the same): when no state that a later
    pass reads across a back edge changed, and nothing the rules read besides the states (the
    tainted objects and fields, :meth:`Walk.grown`) grew during the pass.
    """
    insns, preds, rules = plan.body.insns, plan.preds, plan.rules
    out: list[int | None] = [None] * len(insns)
    ever = entry
    back = plan.back
    for _ in range(_MAX_PASSES):
        deadline.check()
        changed = looped = False
        grown = walk.grown()
        seen_union = entry
        walk.origin = {}
        for i, rule in enumerate(rules):
            before = preds[i]
            if i == 0 or len(before) != 1:
                state = entry if i == 0 else 0 if before else seen_union
                for p in before:
                    prev = out[p]
                    if prev is not None:
                        state |= prev
            else:
                prev = out[before[0]]
                state = 0 if prev is None else prev
            if rule is not None:
                walk.state = state
                if rule(walk, insns[i], seeded[i]):
                    walk.returns = True
                state = walk.state
            if state != out[i]:
                out[i] = state
                changed = True
                looped = looped or back[i]
            seen_union |= state
        ever |= seen_union
        if not changed or (not looped and walk.grown() == grown):
            break
    return ever
