"""Command dispatch: does a call on a trigger path depend on a string comparison of a received value?

A read is ``command``-triggered when some method on its path, before the call
that leads on, compares (``String.equals``, a string switch's ``hashCode``,
``startsWith``...: ``triggers.command_compares``) a value received from
outside: the result of a ``command_sources`` call (an SMS body, a line read
from a socket, a JSON field, a push message's data), passed through
``command_passes`` calls (``trim``, ``split``, ``Map.get``...), array reads and
moves, into the method's parameters from the caller on the path, back to the
parameters of a message handler (``triggers.messages``: a push or socket
handler). The test is structural: it names no command. Within one method,
definitions are found in program order (the last write before the use wins,
branches not followed, as in :mod:`.registers`); at most ``MAX_TRACE``
definitions are followed from one compared register.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Sequence

from appaudit.analysis.facts import ChainStep
from appaudit.analysis.graph import CallGraph
from appaudit.analysis.registers import argument_registers, defines_register
from appaudit.analysis.startup import matches_callback
from appaudit.analysis.targets import calls_target
from appaudit.apk.dex.types import Insn, MethodCode
from appaudit.model import Evidence, EvidenceKind
from appaudit.ruleset.flows import FlowSpec

#: Definitions followed back from one compared register (calls passed through, moves, callers' arguments).
MAX_TRACE = 6

_WIDE = ("J", "D")


def _param_index(body: MethodCode, reg: int) -> int | None:
    """The declared parameter whose (first) register ``reg`` is on entry; None for ``this`` or a local."""
    at = body.first_param_register + (0 if body.is_static else 1)
    for i, p in enumerate(body.param_types):
        if reg == at:
            return i
        at += 2 if p in _WIDE else 1
    return None


#: Per register, the offsets of the instructions that write it (in code order) and what each wrote: the
#: instruction, or for a ``move-result`` its invoke (None: a ``move-result`` with no invoke before it).
_Writes = dict[int, tuple[list[int], list[Insn | None]]]


#: Methods whose register writes are kept, per thread: the guard and reply tests ask about the few
#: methods of a path many times.
MAX_INDEXED = 64


class _Indexed(threading.local):
    def __init__(self) -> None:
        self.writes: dict[int, tuple[MethodCode, _Writes]] = {}
        """By id of a decoded body (kept in the entry, so the id is not reused while it is there)."""


_INDEXED = _Indexed()


def _definition(body: MethodCode, reg: int, offset: int) -> Insn | int | None:
    """What last wrote ``reg`` before ``offset``: the instruction (for a ``move-result``, its invoke), or the
    index of the parameter it still holds from entry, or None (``this``, a local never written)."""
    known = _INDEXED.writes.get(id(body))
    if known is None or known[0] is not body:
        if len(_INDEXED.writes) >= MAX_INDEXED:
            _INDEXED.writes.clear()
        known = _INDEXED.writes[id(body)] = (body, _writes(body))
    offsets, wrote = known[1].get(reg, ((), ()))
    k = bisect_left(offsets, offset)
    last = wrote[k - 1] if k else None
    if last is not None:
        return last
    return _param_index(body, reg)


def _writes(body: MethodCode) -> _Writes:
    """Every register write of ``body``, for :func:`_definition`."""
    table: _Writes = {}
    pending: Insn | None = None
    for ins in body.insns:
        if ins.op.startswith(("invoke", "filled-new-array")):
            pending = ins
        elif defines_register(ins):
            offsets, wrote = table.setdefault(ins.regs[0], ([], []))
            offsets.append(ins.offset)
            wrote.append(pending if ins.op.startswith("move-result") else ins)
    return table


def _insn_at(body: MethodCode, offset: int | None) -> Insn | None:
    return next((i for i in body.insns if i.offset == offset), None)


class CommandGuards:
    """Finds the command guard of trigger paths, over one scan's call graph and rules data."""

    def __init__(self, graph: CallGraph, flows: FlowSpec) -> None:
        self.graph = graph
        self.flows = flows

    def guard(self, steps: Sequence[ChainStep]) -> Evidence | None:
        """The first comparison of a received value before a call leading on along ``steps`` (root first)."""
        compares = self.flows.triggers.command_compares
        for i, step in enumerate(steps):
            body = self.graph.body(step.method_id)
            if body is None or step.offset is None:
                continue
            for ins in body.insns:
                if ins.offset >= step.offset:
                    break
                if not (ins.op.startswith("invoke") and ins.ref and calls_target(compares, ins.ref)):
                    continue
                receiver, params = argument_registers(ins)
                regs = [r for r in (receiver, *params) if r is not None and r >= 0]
                if any(self._received(steps, i, r, ins.offset, MAX_TRACE) for r in regs):
                    return Evidence(
                        kind=EvidenceKind.INVOKE,
                        value=ins.ref,
                        dex=body.dex,
                        class_name=step.class_name,
                        method=step.method,
                        offset=ins.offset,
                    )
        return None

    def _received(self, steps: Sequence[ChainStep], i: int, reg: int, offset: int, left: int) -> bool:
        """Register ``reg`` of ``steps[i]`` holds a value received from outside just before ``offset``."""
        body = self.graph.body(steps[i].method_id)
        if left <= 0 or body is None:
            return False
        found = _definition(body, reg, offset)
        if isinstance(found, int):
            return self._received_param(steps, i, found, left)
        if found is None:
            return False
        if found.op.startswith("invoke") and found.ref:
            return self._received_call(steps, i, found, left)
        if found.op.startswith("aget") or (found.op.startswith("move") and len(found.regs) == 2):
            return self._received(steps, i, found.regs[1], found.offset, left - 1)
        if found.op == "new-instance":
            return self._received_new(steps, i, found, offset, left)
        if found.op.startswith("iget-object") and found.ref:
            return self._received_field(steps, i, found.ref, offset, left)
        return False

    def _received_new(self, steps: Sequence[ChainStep], i: int, new: Insn, offset: int, left: int) -> bool:
        """A new object (``new String(buffer, 0, n)``) made from a received first constructor argument."""
        body = self.graph.body(steps[i].method_id)
        for ins in body.insns if body is not None else ():
            if ins.offset >= offset:
                break
            constructs = ins.op.startswith("invoke-direct") and ins.regs[:1] == (new.regs[0],)
            if ins.offset > new.offset and constructs and ins.ref and "-><init>(" in ins.ref and len(ins.regs) > 1:
                return self._received(steps, i, ins.regs[1], ins.offset, left - 1)
        return False

    def _received_field(self, steps: Sequence[ChainStep], i: int, field: str, offset: int, left: int) -> bool:
        """Field ``field`` holds a received value before ``offset``: the method last stored one in it, or
        a ``command_fills`` call filled the buffer it holds."""
        body = self.graph.body(steps[i].method_id)
        fills = self.flows.triggers.command_fills
        stored: Insn | None = None
        filled = False
        for ins in body.insns if body is not None else ():
            if ins.offset >= offset:
                break
            if ins.op.startswith("iput-object") and ins.ref == field:
                stored = ins
            elif ins.op.startswith("invoke") and ins.ref and calls_target(fills, ins.ref) and len(ins.regs) > 1:
                buffer = _definition(body, ins.regs[1], ins.offset) if body is not None else None
                filled = filled or (isinstance(buffer, Insn) and buffer.op.startswith("iget") and buffer.ref == field)
        if filled:
            return True
        return stored is not None and self._received(steps, i, stored.regs[0], stored.offset, left - 1)

    def _received_call(self, steps: Sequence[ChainStep], i: int, call: Insn, left: int) -> bool:
        spec = self.flows.triggers
        ref = call.ref or ""
        if calls_target(spec.command_sources, ref):
            return True
        if not calls_target(spec.command_passes, ref):
            return False
        receiver, params = argument_registers(call)
        source = receiver if receiver is not None else (params[0] if params else None)
        return source is not None and source >= 0 and self._received(steps, i, source, call.offset, left - 1)

    def _received_param(self, steps: Sequence[ChainStep], i: int, index: int, left: int) -> bool:
        """Parameter ``index`` of ``steps[i]`` is a received value: the root is a message handler, or the
        caller on the path passes one (a direct call; a hand-off's parameters are not followed)."""
        if i == 0:
            return matches_callback(self.graph, steps[0].method_id, self.flows.triggers.messages)
        caller = steps[i - 1]
        body = self.graph.body(caller.method_id)
        call = _insn_at(body, caller.offset) if body is not None else None
        if call is None or not call.op.startswith("invoke") or call.ref is None:
            return False
        if call.ref.partition("->")[2] != steps[i].method:
            return False
        _receiver, params = argument_registers(call)
        if index >= len(params) or params[index] < 0:
            return False
        return self._received(steps, i - 1, params[index], call.offset, left - 1)
