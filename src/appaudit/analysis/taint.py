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
from appaudit.apk.dex.types import Insn, MethodCode

#: The pending result of the last call (what ``move-result`` reads).
_RESULT = -1
#: Passes over a method before giving up on a fixpoint (loops converge in two or three).
_MAX_PASSES = 6
#: Methods longer than this are not analysed (nothing is tainted in them, so a chain through one
#: stays unconfirmed): bounds the cost of a hostile or generated giant method. Real methods on the
#: corpus's chains have at most a few thousand instructions.
MAX_INSNS = 20_000
_NO_FALLTHROUGH = ("goto", "return", "throw")
_KEEP = ("if-", "goto", "packed-switch", "sparse-switch", "monitor-", "throw", "nop", "check-cast", "fill-array-data")


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
    entry = frozenset(first + p for p in seeds.params)
    walk = _Walk(seeds, known, opaque, fresh)
    ever = _fixpoint(plans.of(body) if plans is not None else _plan(body), entry, walk, _seeded(insns, seeds))
    params = range(first, body.registers_size)
    return Flow(
        tainted=bool(ever - {_RESULT}),
        returns=walk.returns,
        calls=walk.calls,
        objects=frozenset(walk.objects),
        fields=frozenset(walk.written),
        params_out=frozenset(r - first for r in params if r in ever and r - first not in seeds.params),
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
    rules: list[_Rule | None]
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
    rules: list[_Rule | None] = []
    for ins in body.insns:
        rule = _RULES.get(ins.op)
        if rule is None:
            rule = _RULES[ins.op] = _rule(ins.op)
        skip = rule is _nothing or (not ins.regs and rule not in _WITHOUT_REGISTERS)
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


def _fixpoint(plan: _Plan, entry: frozenset[int], walk: _Walk, seeded: list[bool]) -> set[int]:
    """Passes over the method until no instruction's tainted registers change; every register ever tainted.

    The hot loop of the scan: an instruction's state is a set of its own, built from its
    predecessors' and never changed once the next instruction is in hand, so a state is kept as it
    is (not frozen), and an instruction no rule applies to shares its single predecessor's state.

    A pass is repeated until one changes no instruction's state. The last pass is left out where it is
    known to repeat the one before exactly (so the result is the same): when no state that a later
    pass reads across a back edge changed, and nothing the rules read besides the states (the
    tainted objects and fields, :meth:`_Walk.grown`) grew during the pass.
    """
    insns, preds, rules = plan.body.insns, plan.preds, plan.rules
    out: list[set[int] | None] = [None] * len(insns)
    ever: set[int] = set(entry)
    back = plan.back
    for _ in range(_MAX_PASSES):
        deadline.check()
        changed = looped = False
        grown = walk.grown()
        seen_union: set[int] = set(entry)
        walk.origin = {}
        for i, rule in enumerate(rules):
            before = preds[i]
            if i == 0 or len(before) != 1:
                state = set(entry) if i == 0 else set() if before else set(seen_union)
                for p in before:
                    prev = out[p]
                    if prev is not None:
                        state |= prev
            else:
                prev = out[before[0]]
                state = set() if prev is None else prev if rule is None else set(prev)
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


class _Walk:
    """What one analysis has learnt so far, and the registers tainted at the instruction in hand.

    ``origin`` maps a register to the ``new-instance``/``new-array`` that made the object it holds (an
    offset) or the field it was loaded from (``Lc;->f:T``); ``objects`` are such objects that hold
    tainted data (whichever register refers to them), ``inside`` maps an object to the objects it was
    put into (a JSONObject added to a JSONArray, then filled). An object loaded from a field that then
    receives tainted data (``this.rows.add(x)``) taints the field.
    """

    __slots__ = (
        "calls",
        "fields",
        "fresh",
        "inside",
        "objects",
        "opaque",
        "origin",
        "returns",
        "seeds",
        "sputs",
        "state",
        "written",
    )

    def __init__(
        self,
        seeds: Seeds,
        fields: set[str],
        opaque: Callable[[str], bool] | None = None,
        fresh: Callable[[str], bool] | None = None,
    ) -> None:
        self.seeds = seeds
        self.opaque = opaque
        self.fresh = fresh
        self.fields = fields
        """Tainted fields: those coming in and those written with tainted data since."""
        self.written: set[str] = set()
        self.calls: dict[int, frozenset[int]] = {}
        self.objects: set[int] = set()
        self.inside: dict[int, set[int]] = {}
        self.origin: dict[int, int | str] = {}
        """Per pass: where the object in a register came from."""
        self.state: set[int] = set()
        self.returns = False
        self.sputs: set[int] = set()
        """Offsets of ``sput`` writing tainted data itself."""

    def grown(self) -> tuple[int, int, int]:
        """How much of what the rules read besides the registers' states (tainted objects and fields,
        objects put into others) is known: each only grows, so an equal size means nothing changed.
        A rule that reads more of the walk must count it here (:func:`_fixpoint` relies on it)."""
        return len(self.objects), len(self.fields), sum(len(v) for v in self.inside.values())

    def holds_no_data(self, ref: str | None) -> bool:
        """The field ``ref`` is of an ``opaque`` type (a Context): what is read from it or written to it is
        never the data, however tainted the register or the object it belongs to."""
        return self.opaque is not None and ref is not None and self.opaque(ref.rsplit(":", 1)[-1])

    def hot(self, reg: int) -> bool:
        return reg in self.state or self.origin.get(reg, -1) in self.objects

    def taint(self, reg: int) -> None:
        """Taint ``reg`` and the object (or field) it holds, and the objects that object was put into."""
        self.state.add(reg)
        source = self.origin.get(reg)
        if isinstance(source, str):
            self.fields.add(source)
            self.written.add(source)
            return
        todo = [source] if source is not None else []
        while todo:
            obj = todo.pop()
            if obj not in self.objects:
                self.objects.add(obj)
                todo.extend(self.inside.get(obj, ()))

    def write(self, reg: int, tainted: bool) -> None:
        self.origin.pop(reg, None)
        if tainted:
            self.state.add(reg)
        else:
            self.state.discard(reg)

    def write_field(self, ref: str | None) -> None:
        if ref:
            self.fields.add(ref)
            self.written.add(ref)


#: Applies one instruction to the walk: (walk, instruction, its result is seeded) -> it returns tainted data.
_Rule = Callable[[_Walk, Insn, bool], bool]
_UNSEEDED: tuple[bool, frozenset[int]] = (False, frozenset())


def _invoke(w: _Walk, ins: Insn, seeded: bool) -> bool:
    regs = ins.regs
    static = ins.op.startswith("invoke-static")
    container = w.origin.get(regs[0]) if not static and regs else None
    if isinstance(container, int):
        for arg in regs[1:]:
            member = w.origin.get(arg)
            if isinstance(member, int):
                w.inside.setdefault(member, set()).add(container)
    state, origin, objects = w.state, w.origin, w.objects  # ``w.hot`` inlined: the scan's most frequent test
    tainted_args = [k for k, r in enumerate(regs) if r in state or origin.get(r, -1) in objects]
    w.state.discard(_RESULT)
    if seeded or (tainted_args and not (w.fresh is not None and ins.ref and w.fresh(ins.ref))):
        w.state.add(_RESULT)
    if tainted_args:
        w.calls[ins.offset] = frozenset(tainted_args)
        if not static and regs:
            if w.opaque is not None and ins.ref and w.opaque(ins.ref.partition("->")[0]):
                w.state.add(regs[0])
            else:
                w.taint(regs[0])
        if ins.ref and ins.ref.startswith("Ljava/lang/System;->arraycopy") and len(regs) >= 3 and w.hot(regs[0]):
            w.taint(regs[2])
    for k in w.seeds.sites.get(ins.offset, _UNSEEDED)[1]:
        if k < len(regs):
            w.taint(regs[k])
    return False


def _move_result(w: _Walk, ins: Insn, seeded: bool) -> bool:
    w.write(ins.regs[0], _RESULT in w.state)
    w.state.discard(_RESULT)
    return False


def _return(w: _Walk, ins: Insn, seeded: bool) -> bool:
    return bool(ins.regs) and w.hot(ins.regs[0])


def _nothing(w: _Walk, ins: Insn, seeded: bool) -> bool:
    return False


def _new(w: _Walk, ins: Insn, seeded: bool) -> bool:
    """An object or array: tracked by where it was made."""
    w.write(ins.regs[0], seeded)
    w.origin[ins.regs[0]] = ins.offset
    return False


def _constant(w: _Walk, ins: Insn, seeded: bool) -> bool:
    w.write(ins.regs[0], seeded)
    return False


def _move(w: _Walk, ins: Insn, seeded: bool) -> bool:
    src_origin = w.origin.get(ins.regs[1])
    w.write(ins.regs[0], w.hot(ins.regs[1]))
    if src_origin is not None:
        w.origin[ins.regs[0]] = src_origin
    return False


def _sget(w: _Walk, ins: Insn, seeded: bool) -> bool:
    w.write(ins.regs[0], seeded or (ins.ref in w.fields and not w.holds_no_data(ins.ref)))
    if ins.ref and ins.op == "sget-object":
        w.origin[ins.regs[0]] = ins.ref
    return False


def _iget(w: _Walk, ins: Insn, seeded: bool) -> bool:
    w.write(ins.regs[0], seeded or ((w.hot(ins.regs[1]) or ins.ref in w.fields) and not w.holds_no_data(ins.ref)))
    if ins.ref and ins.op == "iget-object":
        w.origin[ins.regs[0]] = ins.ref
    return False


def _aget(w: _Walk, ins: Insn, seeded: bool) -> bool:
    w.write(ins.regs[0], w.hot(ins.regs[1]))
    return False


def _iput(w: _Walk, ins: Insn, seeded: bool) -> bool:
    value, holder = ins.regs[0], ins.regs[1]
    if w.hot(value) and not w.holds_no_data(ins.ref):
        if isinstance(w.origin.get(holder), str):
            # ``this$0.f = x``: field ``f`` holds the data, not the field the holder was loaded
            # from (else every later ``this$0`` read, and everything read through it, is tainted)
            w.state.add(holder)
        else:
            w.taint(holder)
        w.write_field(ins.ref)
    else:
        made, into = w.origin.get(value), w.origin.get(holder)
        if isinstance(made, int) and isinstance(into, int):
            w.inside.setdefault(made, set()).add(into)
    return False


def _sput(w: _Walk, ins: Insn, seeded: bool) -> bool:
    if w.hot(ins.regs[0]) and not w.holds_no_data(ins.ref):
        w.write_field(ins.ref)
        w.sputs.add(ins.offset)
    return False


def _aput(w: _Walk, ins: Insn, seeded: bool) -> bool:
    if w.hot(ins.regs[0]):
        w.taint(ins.regs[1])
    return False


def _filled_new_array(w: _Walk, ins: Insn, seeded: bool) -> bool:
    w.state.discard(_RESULT)
    if any(w.hot(r) for r in ins.regs):
        w.state.add(_RESULT)
    return False


def _compute(w: _Walk, ins: Insn, seeded: bool) -> bool:
    """Arithmetic, conversions, comparisons, instance-of, array-length: the first register is the
    destination (also a source in the /2addr forms)."""
    regs = ins.regs
    sources = regs if ins.op.endswith("/2addr") else regs[1:]
    w.write(regs[0], any(w.hot(r) for r in sources))
    return False


#: Opcode families, tried in order: (mnemonic prefixes, rule). Earlier entries win (``move-result``
#: before ``move``); an instruction without registers past ``return`` does nothing.
_FAMILIES: tuple[tuple[tuple[str, ...], _Rule], ...] = (
    (("invoke",), _invoke),
    (("move-result",), _move_result),
    (("return",), _return),
    (_KEEP, _nothing),
    (("new-instance", "new-array"), _new),
    (("move-exception", "const"), _constant),
    (("move",), _move),
    (("sget",), _sget),
    (("iget",), _iget),
    (("aget",), _aget),
    (("iput",), _iput),
    (("sput",), _sput),
    (("aput",), _aput),
    (("filled-new-array",), _filled_new_array),
)
_WITHOUT_REGISTERS = (_invoke, _move_result, _return)
#: Mnemonic -> rule, filled as mnemonics are met (a method has a few dozen distinct ones).
_RULES: dict[str, _Rule] = {}


def _rule(op: str) -> _Rule:
    """The rule for mnemonic ``op`` (``new-instance``/``new-array`` only as themselves)."""
    for prefixes, rule in _FAMILIES:
        if rule is _new:
            if op in prefixes:
                return rule
        elif op.startswith(prefixes):
            return rule
    return _compute
