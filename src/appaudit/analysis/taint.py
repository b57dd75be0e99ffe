"""Does the data read actually travel along a chain? A light data-flow check.

A chain (``flows.ChainFinder``) says a read and a sink are linked by calls.
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
control flow (branches, fall-through; a handler or switch case, whose
predecessors are not decoded, starts from everything seen so far), with
these rules: a call with a tainted argument or receiver taints its result and
its receiver (``sb.append(x)``, ``json.put(k, x)``, ``list.add(x)``), moves
copy taint, arithmetic and conversions taint their result from any tainted
operand, stores into an object or array taint it, loads from a tainted
object or array are tainted, and a write of anything untainted clears a
register.

What it does not see (a chain it cannot follow is reported
``dataflow: "unconfirmed"``, not dropped): data passed through databases,
files, preferences, sockets or Intents' extras read by name elsewhere,
reflection and native code; methods of more than ``MAX_INSNS`` instructions.
"""

from __future__ import annotations

from collections.abc import Iterable
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


_NOTHING = Flow(tainted=False, returns=False, calls={}, objects=frozenset(), fields=frozenset(), params_out=frozenset())


def analyse(body: MethodCode, seeds: Seeds, fields: Iterable[str] = ()) -> Flow:
    """Follow tainted data through one method."""
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
    n = len(insns)
    at = {ins.offset: i for i, ins in enumerate(insns)}
    preds: list[list[int]] = [[] for _ in range(n)]
    for i, ins in enumerate(insns):
        if i + 1 < n and not ins.op.startswith(_NO_FALLTHROUGH):
            preds[i + 1].append(i)
        if ins.target is not None and ins.op.startswith(("if-", "goto")) and ins.target in at:
            preds[at[ins.target]].append(i)
    first = body.first_param_register
    entry = frozenset(first + p for p in seeds.params)
    out: list[frozenset[int] | None] = [None] * n
    calls: dict[int, frozenset[int]] = {}
    objects: set[int] = set()
    inside: dict[int, set[int]] = {}
    written: set[str] = set()
    returns = False
    ever: set[int] = set(entry)
    for _ in range(_MAX_PASSES):
        deadline.check()
        changed = False
        seen_union: set[int] = set(entry)
        origin: dict[int, int | str] = {}
        for i, ins in enumerate(insns):
            if i == 0 or preds[i]:
                state = set(entry) if i == 0 else set()
                for p in preds[i]:
                    prev = out[p]
                    if prev is not None:
                        state |= prev
            else:  # a handler or switch case: its predecessors are not decoded
                state = set(seen_union)
            returns |= _step(ins, state, seeds, known, written, calls, objects, origin, inside)
            new = frozenset(state)
            if new != out[i]:
                out[i] = new
                changed = True
            seen_union |= new
        ever |= seen_union
        if not changed:
            break
    params = range(first, body.registers_size)
    return Flow(
        tainted=bool(ever - {_RESULT}),
        returns=returns,
        calls=calls,
        objects=frozenset(objects),
        fields=frozenset(written),
        params_out=frozenset(r - first for r in params if r in ever and r - first not in seeds.params),
    )


def _step(
    ins: Insn,
    state: set[int],
    seeds: Seeds,
    fields: set[str],
    written: set[str],
    calls: dict[int, frozenset[int]],
    objects: set[int],
    origin: dict[int, int | str],
    inside: dict[int, set[int]],
) -> bool:
    """Apply one instruction to ``state``; True when it returns tainted data.

    ``origin`` maps a register to the ``new-instance``/``new-array`` that made the object it holds (an offset) or
    the field it was loaded from (``Lc;->f:T``); ``objects`` are such objects that hold tainted data
    (whichever register refers to them), ``inside`` maps an object to the objects it was put into (a
    JSONObject added to a JSONArray, then filled). An object loaded from a field that then receives
    tainted data (``this.rows.add(x)``) taints the field.
    """
    op, regs = ins.op, ins.regs
    seeded, seeded_args = seeds.sites.get(ins.offset, (False, frozenset()))

    def hot(reg: int) -> bool:
        return reg in state or origin.get(reg, -1) in objects

    def taint(reg: int) -> None:
        state.add(reg)
        source = origin.get(reg)
        if isinstance(source, str):
            fields.add(source)
            written.add(source)
            return
        todo = [source] if source is not None else []
        while todo:
            obj = todo.pop()
            if obj not in objects:
                objects.add(obj)
                todo.extend(inside.get(obj, ()))

    def write(reg: int, tainted: bool) -> None:
        origin.pop(reg, None)
        if tainted:
            state.add(reg)
        else:
            state.discard(reg)

    if op.startswith("invoke"):
        static = op.startswith("invoke-static")
        container = origin.get(regs[0]) if not static and regs else None
        if isinstance(container, int):
            for arg in regs[1:]:
                member = origin.get(arg)
                if isinstance(member, int):
                    inside.setdefault(member, set()).add(container)
        tainted_args = [k for k, r in enumerate(regs) if hot(r)]
        state.discard(_RESULT)
        if tainted_args or seeded:
            state.add(_RESULT)
        if tainted_args:
            calls[ins.offset] = frozenset(tainted_args)
            if not static and regs:
                taint(regs[0])
            if ins.ref and ins.ref.startswith("Ljava/lang/System;->arraycopy") and len(regs) >= 3 and hot(regs[0]):
                taint(regs[2])
        for k in seeded_args:
            if k < len(regs):
                taint(regs[k])
        return False
    if op.startswith("move-result"):
        write(regs[0], _RESULT in state)
        state.discard(_RESULT)
        return False
    if op.startswith("return"):
        return bool(regs) and hot(regs[0])
    if op.startswith(_KEEP) or not regs:
        return False
    if op in ("new-instance", "new-array"):  # an object or array: tracked by where it was made
        write(regs[0], seeded)
        origin[regs[0]] = ins.offset
        return False
    if op.startswith(("move-exception", "const")):
        write(regs[0], seeded)
        return False
    if op.startswith("move"):
        src_origin = origin.get(regs[1])
        write(regs[0], hot(regs[1]))
        if src_origin is not None:
            origin[regs[0]] = src_origin
        return False
    if op.startswith("sget"):
        write(regs[0], seeded or ins.ref in fields)
        if ins.ref and op == "sget-object":
            origin[regs[0]] = ins.ref
        return False
    if op.startswith("iget"):
        write(regs[0], seeded or hot(regs[1]) or ins.ref in fields)
        if ins.ref and op == "iget-object":
            origin[regs[0]] = ins.ref
        return False
    if op.startswith("aget"):
        write(regs[0], hot(regs[1]))
        return False
    if op.startswith("iput"):
        if hot(regs[0]):
            taint(regs[1])
            if ins.ref:
                fields.add(ins.ref)
                written.add(ins.ref)
        else:
            value, holder = origin.get(regs[0]), origin.get(regs[1])
            if isinstance(value, int) and isinstance(holder, int):
                inside.setdefault(value, set()).add(holder)
        return False
    if op.startswith("sput"):
        if hot(regs[0]) and ins.ref:
            fields.add(ins.ref)
            written.add(ins.ref)
        return False
    if op.startswith("aput"):
        if hot(regs[0]):
            taint(regs[1])
        return False
    if op.startswith("filled-new-array"):
        state.discard(_RESULT)
        if any(hot(r) for r in regs):
            state.add(_RESULT)
        return False
    # Arithmetic, conversions, comparisons, instance-of, array-length: the first register is the
    # destination (also a source in the /2addr forms).
    sources = regs if op.endswith("/2addr") else regs[1:]
    write(regs[0], any(hot(r) for r in sources))
    return False
