"""The taint check's per-instruction rules (:mod:`.taint`): what one Dalvik instruction does to the
tainted registers, objects and fields of the method in hand.

Split from :mod:`.taint`, which makes a method's plan (a rule per instruction, the control-flow
predecessors) and runs the fixpoint; the rules themselves, and the walk state they read and write,
are here. The rules are those :mod:`.taint`'s docstring states.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from appaudit.apk.dex.types import Insn

if TYPE_CHECKING:
    from appaudit.analysis.taint import Seeds

#: The pending result of the last call (what ``move-result`` reads).
RESULT = -1
#: A walk's tainted registers are the bits of an int (:func:`bit`): register ``r`` is bit ``r + 1``, the
#: pending result bit 0. An int is copied, compared and merged in one step, where a set is walked.
_RESULT_BIT = 1


def bit(reg: int) -> int:
    """Register ``reg``'s bit in a walk's state (:data:`RESULT` is bit 0)."""
    return 1 << (reg + 1)


#: Mnemonic prefixes of instructions that move no data (branches, locks, casts, payloads).
_KEEP = ("if-", "goto", "packed-switch", "sparse-switch", "monitor-", "throw", "nop", "check-cast", "fill-array-data")


class Walk:
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
        "fills",
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
        fills: Fills | None = None,
    ) -> None:
        self.seeds = seeds
        self.opaque = opaque
        self.fresh = fresh
        self.fills = fills
        """(call, positions of its tainted arguments) -> the positions of the arguments it fills with them."""
        self.fields = fields
        """Tainted fields: those coming in and those written with tainted data since."""
        self.written: set[str] = set()
        self.calls: dict[int, frozenset[int]] = {}
        self.objects: set[int] = set()
        self.inside: dict[int, set[int]] = {}
        self.origin: dict[int, int | str] = {}
        """Per pass: where the object in a register came from."""
        self.state = 0
        """The registers tainted at the instruction in hand, as bits (register ``r`` is bit ``r + 1``)."""
        self.returns = False
        self.sputs: set[int] = set()
        """Offsets of ``sput`` writing tainted data itself."""

    def grown(self) -> tuple[int, int, int]:
        """How much of what the rules read besides the registers' states (tainted objects and fields,
        objects put into others) is known: each only grows, so an equal size means nothing changed.
        A rule that reads more of the walk must count it here (:func:`.taint._fixpoint` relies on it)."""
        return len(self.objects), len(self.fields), sum(len(v) for v in self.inside.values())

    def holds_no_data(self, ref: str | None) -> bool:
        """The field ``ref`` is of an ``opaque`` type (a Context): what is read from it or written to it is
        never the data, however tainted the register or the object it belongs to."""
        return self.opaque is not None and ref is not None and self.opaque(ref.rsplit(":", 1)[-1])

    def hot(self, reg: int) -> bool:
        return bool(self.state >> (reg + 1) & 1) or self.origin.get(reg, -1) in self.objects

    def taint(self, reg: int) -> None:
        """Taint ``reg`` and the object (or field) it holds, and the objects that object was put into."""
        self.state |= 2 << reg
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
            self.state |= 2 << reg
        else:
            self.state &= ~(2 << reg)

    def write_field(self, ref: str | None) -> None:
        if ref:
            self.fields.add(ref)
            self.written.add(ref)


#: (call ``Lc;->m(p)r``, positions of its tainted arguments) -> positions of the arguments the call fills with
#: them (a stream read's buffer, an app method's output stream): those become tainted.
Fills = Callable[[str, frozenset[int]], frozenset[int]]
#: Applies one instruction to the walk: (walk, instruction, its result is seeded) -> it returns tainted data.
Rule = Callable[[Walk, Insn, bool], bool]
_UNSEEDED: tuple[bool, frozenset[int]] = (False, frozenset())


def _invoke(w: Walk, ins: Insn, seeded: bool) -> bool:
    regs = ins.regs
    static = ins.op.startswith("invoke-static")
    container = w.origin.get(regs[0]) if not static and regs else None
    if isinstance(container, int):
        for arg in regs[1:]:
            member = w.origin.get(arg)
            if isinstance(member, int):
                w.inside.setdefault(member, set()).add(container)
    state, origin, objects = w.state, w.origin, w.objects  # ``w.hot`` inlined: the scan's most frequent test
    tainted_args = [k for k, r in enumerate(regs) if state >> (r + 1) & 1 or origin.get(r, -1) in objects]
    if seeded or (tainted_args and not (w.fresh is not None and ins.ref and w.fresh(ins.ref))):
        w.state = state | _RESULT_BIT
    else:
        w.state = state & ~_RESULT_BIT
    if tainted_args:
        w.calls[ins.offset] = handed = frozenset(tainted_args)
        if not static and regs:
            if w.opaque is not None and ins.ref and w.opaque(ins.ref.partition("->")[0]):
                w.state |= 2 << regs[0]
            else:
                w.taint(regs[0])
        _fill(w, ins, handed)
    for k in w.seeds.sites.get(ins.offset, _UNSEEDED)[1]:
        if k < len(regs):
            w.taint(regs[k])
    return False


def _fill(w: Walk, ins: Insn, handed: frozenset[int]) -> None:
    """Taint the arguments a call with tainted ones fills: ``System.arraycopy``'s destination, and what
    ``w.fills`` names (a stream read's buffer, an app method's output argument)."""
    regs = ins.regs
    if ins.ref and ins.ref.startswith("Ljava/lang/System;->arraycopy") and len(regs) >= 3 and w.hot(regs[0]):
        w.taint(regs[2])
    if w.fills is not None and ins.ref:
        for k in w.fills(ins.ref, handed):
            if k < len(regs):
                w.taint(regs[k])


def _move_result(w: Walk, ins: Insn, seeded: bool) -> bool:
    w.write(ins.regs[0], bool(w.state & _RESULT_BIT))
    w.state &= ~_RESULT_BIT
    return False


def _return(w: Walk, ins: Insn, seeded: bool) -> bool:
    return bool(ins.regs) and w.hot(ins.regs[0])


def nothing(w: Walk, ins: Insn, seeded: bool) -> bool:
    return False


def _new(w: Walk, ins: Insn, seeded: bool) -> bool:
    """An object or array: tracked by where it was made."""
    w.write(ins.regs[0], seeded)
    w.origin[ins.regs[0]] = ins.offset
    return False


def _constant(w: Walk, ins: Insn, seeded: bool) -> bool:
    w.write(ins.regs[0], seeded)
    return False


def _move(w: Walk, ins: Insn, seeded: bool) -> bool:
    src_origin = w.origin.get(ins.regs[1])
    w.write(ins.regs[0], w.hot(ins.regs[1]))
    if src_origin is not None:
        w.origin[ins.regs[0]] = src_origin
    return False


def _sget(w: Walk, ins: Insn, seeded: bool) -> bool:
    w.write(ins.regs[0], seeded or (ins.ref in w.fields and not w.holds_no_data(ins.ref)))
    if ins.ref and ins.op == "sget-object":
        w.origin[ins.regs[0]] = ins.ref
    return False


def _iget(w: Walk, ins: Insn, seeded: bool) -> bool:
    w.write(ins.regs[0], seeded or ((w.hot(ins.regs[1]) or ins.ref in w.fields) and not w.holds_no_data(ins.ref)))
    if ins.ref and ins.op == "iget-object":
        w.origin[ins.regs[0]] = ins.ref
    return False


def _aget(w: Walk, ins: Insn, seeded: bool) -> bool:
    w.write(ins.regs[0], w.hot(ins.regs[1]))
    return False


def _iput(w: Walk, ins: Insn, seeded: bool) -> bool:
    value, holder = ins.regs[0], ins.regs[1]
    if w.hot(value) and not w.holds_no_data(ins.ref):
        if isinstance(w.origin.get(holder), str):
            # ``this$0.f = x``: field ``f`` holds the data, not the field the holder was loaded
            # from (else every later ``this$0`` read, and everything read through it, is tainted)
            w.state |= 2 << holder
        else:
            w.taint(holder)
        w.write_field(ins.ref)
    else:
        made, into = w.origin.get(value), w.origin.get(holder)
        if isinstance(made, int) and isinstance(into, int):
            w.inside.setdefault(made, set()).add(into)
    return False


def _sput(w: Walk, ins: Insn, seeded: bool) -> bool:
    if w.hot(ins.regs[0]) and not w.holds_no_data(ins.ref):
        w.write_field(ins.ref)
        w.sputs.add(ins.offset)
    return False


def _aput(w: Walk, ins: Insn, seeded: bool) -> bool:
    if w.hot(ins.regs[0]):
        w.taint(ins.regs[1])
    return False


def _filled_new_array(w: Walk, ins: Insn, seeded: bool) -> bool:
    if any(w.hot(r) for r in ins.regs):
        w.state |= _RESULT_BIT
    else:
        w.state &= ~_RESULT_BIT
    return False


def _compute(w: Walk, ins: Insn, seeded: bool) -> bool:
    """Arithmetic, conversions, comparisons, instance-of, array-length: the first register is the
    destination (also a source in the /2addr forms)."""
    regs = ins.regs
    sources = regs if ins.op.endswith("/2addr") else regs[1:]
    w.write(regs[0], any(w.hot(r) for r in sources))
    return False


#: Opcode families, tried in order: (mnemonic prefixes, rule). Earlier entries win (``move-result``
#: before ``move``); an instruction without registers past ``return`` does nothing.
_FAMILIES: tuple[tuple[tuple[str, ...], Rule], ...] = (
    (("invoke",), _invoke),
    (("move-result",), _move_result),
    (("return",), _return),
    (_KEEP, nothing),
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
WITHOUT_REGISTERS = (_invoke, _move_result, _return)
#: Mnemonic -> rule, filled as mnemonics are met (a method has a few dozen distinct ones).
RULES: dict[str, Rule] = {}


def rule_for(op: str) -> Rule:
    """The rule for mnemonic ``op`` (``new-instance``/``new-array`` only as themselves); for an
    instruction writing a 64-bit value, that rule and then :func:`_pair`."""
    rule = _family_rule(op)
    return _pair(rule) if writes_wide(op) else rule


def _family_rule(op: str) -> Rule:
    for prefixes, rule in _FAMILIES:
        if rule is _new:
            if op in prefixes:
                return rule
        elif op.startswith(prefixes):
            return rule
    return _compute


#: Mnemonics (before any ``/`` suffix) of the instructions that write a long or double into a register
#: pair besides the arithmetic ones (``add-long``, ``mul-double``...) and conversions to one.
_WIDE_WRITES = ("move-wide", "move-result-wide", "iget-wide", "sget-wide", "aget-wide")


def writes_wide(op: str) -> bool:
    """``op`` writes a 64-bit value (long or double): its destination is the register pair ``vN, vN+1``,
    of which the instruction names only ``vN``."""
    base = op.partition("/")[0]
    if base in _WIDE_WRITES or base.startswith("const-wide"):
        return True
    if base.startswith("cmp"):  # cmp-long, cmpl-double: an int result
        return False
    if "-to-" in base:
        return base.endswith(("-to-long", "-to-double"))
    return base.endswith(("-long", "-double"))


def _pair(rule: Rule) -> Rule:
    """``rule``, then the pair's second register takes the first's taint: the value written replaces
    whatever ``vN+1`` held (a cursor, a string), which must not stay tainted under a row id or a
    timestamp (``long id = db.insert(...)`` into the registers an SMS body was in)."""

    def wide(w: Walk, ins: Insn, seeded: bool) -> bool:
        returned = rule(w, ins, seeded)
        if ins.regs:
            w.write(ins.regs[0] + 1, bool(w.state & bit(ins.regs[0])))
        return returned

    return wide
