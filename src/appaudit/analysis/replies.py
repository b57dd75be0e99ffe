"""Command versus data: does an SMS sink send the data read, or a command's reply?

A harvester that takes commands by SMS or from a C2 server also sends the SMS a command asks for:
a reply to the commander (``"Lock pin [" + pin + "] ok"``), or a text and number the server gave
(a "send SMS" command). The data-flow check (:mod:`.taint`) cannot tell these from the data: the
command arrives in the very message that is read, or the C2 reply is tainted by the request that
carried the data; and the call search reaches the command's sink from any read in the same app.
So an SMS sink a search reaches is traced back from its text and destination arguments
(definitions in program order, the last write before the use, as :mod:`.commands` does; from a
parameter to the caller's arguments along the chain's steps):

* the text is a **command's reply** when all it is made of (``replies.joins``: a
  ``StringBuilder``, ``concat``, ``format``) is constants (strings, string resources:
  ``replies.constants``), yes/no results, values received from outside
  (``triggers.command_sources``: a C2 message's field, a line from a socket, an incoming SMS's
  body, but not the body of the very message read), and parts (``replies.parses``: ``split``,
  ``substring``, ``replace``) of a value the same method tests as a command
  (``triggers.command_compares``);
* for a read of an incoming SMS, a message sent **to that message's sender** (``replies.senders``,
  through the sink's ``to_args``) carries nothing the sender did not write.

Anything else the text is made of (a field, a parameter of the chain's first method, a call not
listed) is taken for data, and the sink stays a channel. A receiver that forwards every incoming
message (its body, to a number of the app's or the C2's choosing) is a channel.

Limits: branches are not followed (the last write in program order wins); at most
``MAX_DEFINITIONS`` definitions are followed per sink; a parameter is followed to the calls of
the chain's previous step only (all of its calls of that method, so that a helper used both to
reply and to forward stays a channel); a field of ``this`` is followed only to the methods of its
class that the chain's earlier steps call, before their call leading on, and that store a parameter
in it (a constructor, a setter); any other field is data.
"""

from __future__ import annotations

from collections.abc import Sequence

from appaudit.analysis.commands import _definition, _insn_at
from appaudit.analysis.facts import ChainStep
from appaudit.analysis.graph import CallGraph
from appaudit.analysis.registers import argument_registers, defines_register
from appaudit.analysis.sinks import Sink
from appaudit.analysis.targets import calls_target
from appaudit.apk.dex.types import Insn, MethodCode
from appaudit.descriptors import java_name
from appaudit.model import Channel, Evidence, MethodId
from appaudit.ruleset.flows import FlowSpec

#: Definitions followed back from one sink's arguments (through joins, passes and callers' arguments).
MAX_DEFINITIONS = 40

# What a traced value is made of.
_CONSTANT = "constant"  # a string, a resource, a yes/no, nothing
_RECEIVED = "received"  # a value received from outside: a C2 message's field, a line from a socket
_BODY = "body"  # the body of an incoming SMS
_SENDER = "sender"  # the sender of an incoming SMS
_COMMAND = "command"  # a part of a value tested as a command
_DATA = "data"  # anything else: taken for the data read


class ReplyTest:
    """Tells an SMS sink that sends a command's reply from one that sends the data read (one scan)."""

    def __init__(self, graph: CallGraph, flows: FlowSpec) -> None:
        self.graph = graph
        self.flows = flows
        self._incoming = frozenset(t.class_desc for t in flows.replies.senders)
        self._seen: dict[tuple[bool, tuple[ChainStep, ...]], bool] = {}

    def is_reply(self, read: Evidence, path: Sequence[ChainStep], node: MethodId, sink: Sink) -> bool:
        """The SMS ``sink`` in ``node``, reached from ``read`` along ``path`` (which ends at ``node``),
        sends a command's reply, not the data read (see the module's rules)."""
        if sink.channel != Channel.SMS or not sink.data_positions:
            return False
        steps = (*path[:-1], ChainStep.at(node, sink.call.offset))
        incoming = bool(read.value) and calls_target(self.flows.sms_receive, read.value or "")
        key = (incoming, steps)
        known = self._seen.get(key)
        if known is None:
            known = self._seen[key] = self._decide(steps, sink, incoming)
        return known

    def _decide(self, steps: tuple[ChainStep, ...], sink: Sink, incoming: bool) -> bool:
        body = self.graph.body(steps[-1].method_id)
        call = _insn_at(body, steps[-1].offset) if body is not None else None
        if call is None:
            return False
        trace = _Trace(self, steps)
        if incoming and sink.to_positions and trace.made_of(call, sink.to_positions) == {_SENDER}:
            return True  # a reply to whoever sent the message read
        text = trace.made_of(call, sink.data_positions or frozenset())
        # the message read's own body, sender or a part of it in the text is the data (a forward)
        data = {_DATA, _BODY, _SENDER, _COMMAND} if incoming else {_DATA}
        return bool(text) and not text & data


class _Trace:
    """One backward trace of a sink's arguments along ``steps``, under one definition budget."""

    def __init__(self, test: ReplyTest, steps: tuple[ChainStep, ...]) -> None:
        self.graph = test.graph
        self.flows = test.flows
        self.incoming = test._incoming
        self.steps = steps
        self.left = MAX_DEFINITIONS

    def made_of(self, call: Insn, positions: frozenset[int]) -> set[str]:
        """What the arguments at ``positions`` (receiver 0) of the last step's ``call`` are made of."""
        out: set[str] = set()
        for pos in sorted(positions):
            if pos < len(call.regs):
                out |= self.origins(len(self.steps) - 1, call.regs[pos], call.offset)
        return out

    def origins(self, i: int, reg: int, offset: int) -> set[str]:
        """What register ``reg`` of ``steps[i]`` holds just before ``offset`` is made of."""
        body = self.graph.body(self.steps[i].method_id)
        if self.left <= 0 or body is None:
            return {_DATA}
        self.left -= 1
        found = _definition(body, reg, offset)
        if isinstance(found, int):
            return self._param(i, found)
        if found is None:
            return {_DATA}
        op = found.op
        if op.startswith(("const", "move-exception")):
            return {_CONSTANT}
        if op.startswith("aget") or (op.startswith("move") and len(found.regs) == 2):
            return self.origins(i, found.regs[1], found.offset)
        if op in ("new-instance", "new-array"):
            return self._filled(i, body, found, offset)
        if op.startswith("invoke") and found.ref:
            return self._call(i, body, found)
        if op == "iget-object" and found.ref and len(found.regs) > 1 and found.regs[1] == body.first_param_register:
            return self._captured(i, found.ref)
        return {_DATA}

    def _captured(self, i: int, field: str) -> set[str]:
        """A field of ``this`` (an anonymous task's captured value, a setter's value): what the earlier steps
        pass, before their call leading on, to a method of the field's class that stores a parameter in
        it (``new Task(text)``, ``obj.setNumber(from)``); data when no step on the path does."""
        owner = field.partition("->")[0]
        out: set[str] = set()
        for j in range(i - 1, -1, -1):
            step = self.steps[j]
            body = self.graph.body(step.method_id)
            limit = _leading_on(body, step.offset) if body is not None else None
            for ins in body.insns if body is not None else ():
                if limit is not None and ins.offset > limit:
                    break
                if ins.op.startswith("invoke") and ins.ref and ins.ref.partition("->")[0] == owner:
                    index = self._stores_param(ins.ref, field)
                    _receiver, params = argument_registers(ins)
                    if index is not None and index < len(params) and params[index] >= 0:
                        out |= self.origins(j, params[index], ins.offset)
        return out or {_DATA}

    def _stores_param(self, ref: str, field: str) -> int | None:
        """The parameter the method ``ref`` stores in ``field`` (``iput-object``), or None."""
        owner, _, method = ref.partition("->")
        body = self.graph.body(MethodId(class_name=java_name(owner), method=method))
        store = next((x for x in body.insns if x.op == "iput-object" and x.ref == field), None) if body else None
        if body is None or store is None:
            return None
        index = _definition(body, store.regs[0], store.offset)
        return index if isinstance(index, int) else None

    def _filled(self, i: int, body: MethodCode, made: Insn, offset: int) -> set[str]:
        """A new object or array: what its constructor, appends (calls on it) or element stores put in it
        before ``offset`` (while its register still holds it)."""
        reg = made.regs[0]
        out: set[str] = set()
        for ins in body.insns:
            if ins.offset <= made.offset:
                continue
            if ins.offset >= offset:
                break
            if ins.op.startswith("invoke") and ins.regs[:1] == (reg,):
                for r in ins.regs[1:]:
                    out |= self.origins(i, r, ins.offset)
            elif ins.op.startswith("aput") and len(ins.regs) > 1 and ins.regs[1] == reg:
                out |= self.origins(i, ins.regs[0], ins.offset)
            elif defines_register(ins) and ins.regs[0] == reg:
                break  # the register is written again: what follows is another object
        return out or {_CONSTANT}

    def _call(self, i: int, body: MethodCode, call: Insn) -> set[str]:
        """What a call's result is made of."""
        ref = call.ref or ""
        spec, triggers = self.flows.replies, self.flows.triggers
        receiver, params = argument_registers(call)
        source = receiver if receiver is not None else (params[0] if params else None)
        if calls_target(spec.senders, ref):
            return {_SENDER}
        if calls_target(triggers.command_sources, ref):
            return {_BODY} if ref.partition("->")[0] in self.incoming else {_RECEIVED}
        if calls_target(spec.constants, ref) or ref.endswith(")Z"):
            return {_CONSTANT}  # a resource by id; a yes/no carries no data
        if calls_target(spec.joins, ref):
            regs = [r for r in (receiver, *params) if r is not None and r >= 0]
            out: set[str] = set()
            for r in regs:
                out |= self.origins(i, r, call.offset)
            return out
        if calls_target(spec.passes, ref):
            source = params[0] if params else None
        elif not (calls_target(triggers.command_passes, ref) or calls_target(spec.parses, ref)):
            return {_DATA}
        if source is None or source < 0:
            return {_DATA}
        parses = calls_target(spec.parses, ref)
        if parses and _base(body, source, call.offset, self.flows) in _compared(body, call.offset, self.flows):
            return {_COMMAND}
        return self.origins(i, source, call.offset)

    def _param(self, i: int, index: int) -> set[str]:
        """Parameter ``index`` of ``steps[i]``: what the previous step passes in it, at every one of its
        calls of this method (a helper used both to reply and to forward is a channel)."""
        if i == 0:
            return {_DATA}
        caller = self.steps[i - 1]
        body = self.graph.body(caller.method_id)
        at = _insn_at(body, caller.offset) if body is not None else None
        if body is None or at is None or not at.op.startswith("invoke") or at.ref is None:
            return {_DATA}
        if at.ref.partition("->")[2] != self.steps[i].method:
            return {_DATA}  # reached up or across a hand-off: the value is not an argument here
        out: set[str] = set()
        for ins in body.insns:
            if ins.op.startswith("invoke") and ins.ref == at.ref:
                _receiver, params = argument_registers(ins)
                if index >= len(params) or params[index] < 0:
                    return {_DATA}
                out |= self.origins(i - 1, params[index], ins.offset)
        return out or {_DATA}


def _leading_on(body: MethodCode, offset: int | None) -> int | None:
    """The offset of the call by which ``body`` leads on at ``offset``: for a task it makes
    (``new-instance``, a hand-off), the task's constructor call; None when the step has no offset."""
    made = _insn_at(body, offset)
    if made is None or made.op != "new-instance":
        return offset
    init = next(
        (
            ins
            for ins in body.insns
            if ins.offset > made.offset and ins.op.startswith("invoke-direct") and ins.regs[:1] == made.regs[:1]
        ),
        None,
    )
    return init.offset if init is not None else offset


def _base(body: MethodCode, reg: int, offset: int, flows: FlowSpec) -> tuple[str, int] | None:
    """Where the value in ``reg`` before ``offset`` was first made, through moves, array reads and calls
    that pass or parse a value (``trim``, ``split``...): the defining instruction's offset or the
    parameter's index; None when unknown."""
    passes = (flows.triggers.command_passes, flows.replies.parses)
    for _ in range(MAX_DEFINITIONS):
        found = _definition(body, reg, offset)
        if isinstance(found, int):
            return ("param", found)
        if found is None:
            return None
        if found.op.startswith("aget") or (found.op.startswith("move") and len(found.regs) == 2):
            reg, offset = found.regs[1], found.offset
            continue
        if found.op.startswith("invoke") and found.ref and any(calls_target(p, found.ref) for p in passes):
            receiver, params = argument_registers(found)
            source = receiver if receiver is not None else (params[0] if params else None)
            if source is None or source < 0:
                return ("insn", found.offset)
            reg, offset = source, found.offset
            continue
        return ("insn", found.offset)
    return None


def _compared(body: MethodCode, offset: int, flows: FlowSpec) -> set[tuple[str, int]]:
    """The bases (:func:`_base`) of the values compared as commands before ``offset`` in ``body``."""
    out: set[tuple[str, int]] = set()
    for ins in body.insns:
        if ins.offset >= offset:
            break
        if ins.op.startswith("invoke") and ins.ref and calls_target(flows.triggers.command_compares, ins.ref):
            receiver, params = argument_registers(ins)
            for r in (receiver, *params):
                if r is not None and r >= 0:
                    base = _base(body, r, ins.offset, flows)
                    if base is not None:
                        out.add(base)
    return out
