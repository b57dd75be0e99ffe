"""What a hand-off's callback is handed: which of its parameters the data search (:mod:`.chains`) taints.

A hand-off (:mod:`.graph`) runs a callback later: ``run()`` of a task object,
``onStartCommand()`` of a service an Intent names, ``handleMessage()`` of a
Handler, the stages of an ``AsyncTask``. Two of them say exactly what they
carry, and are followed so:

* an ``android.os.Handler``'s ``handleMessage(Message)`` sees only what was put
  in a Message before it was sent: ``Message.obtain(h, what, obj)``,
  ``h.obtainMessage(what, obj)``, ``msg.obj = x`` (``arg1``, ``arg2``),
  ``msg.setData(bundle)``. The Message is tainted when such a payload was; a
  Message obtained from a Handler that merely holds the data carries none of it.
  A tainted Message sent whose payload was not seen filled (one handed in as a
  parameter) is taken as carrying everything, as before: that hop is marked
  ``type`` (not resolved);
* an ``android.os.AsyncTask``: ``execute(params)`` hands ``params`` to
  ``doInBackground(params)``; its return value, and only that, to
  ``onPostExecute(result)``; ``publishProgress(v)`` to ``onProgressUpdate(v)``.
  ``this`` is tainted in each stage only when the task object received the data
  otherwise (its constructor, a setter, a field). When the task is not executed
  in the method that creates it (the object is kept and run elsewhere), every
  parameter is taken as tainted, as before, and the hop is marked ``type``.

Either hand-off is recorded on the chain as a :class:`~.facts.StoreHop`
(``handler_message`` or ``async_task``, named by the callback's class), matched
``name`` when resolved as above: so a chain through an unresolved one stays
``unconfirmed``, as a storage hop matched by kind alone does.

Limits: which Handler a Message is sent to is not resolved (any Handler subclass
the path constructs receives it); a Message's ``what`` is not compared;
``AsyncTask`` subclasses are recognised through their supertypes within
``graph.MAX_SUPER_DEPTH`` levels.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable

from appaudit.analysis.chain_state import Carried, MessageTaint
from appaudit.analysis.facts import StoreHop
from appaudit.analysis.graph import CallGraph
from appaudit.analysis.search import Hop
from appaudit.analysis.store_names import call_name
from appaudit.analysis.taint import Flow, Seeds
from appaudit.analysis.targets import calls_target
from appaudit.apk.dex.types import Insn, MethodCode
from appaudit.descriptors import java_desc, java_name, split_params
from appaudit.model import MethodId
from appaudit.ruleset.flows import FlowSpec

_HANDLER = "android.os.Handler"
_ASYNC_TASK = "android.os.AsyncTask"
#: Calls that make or fill a Message (``Lc;->m(`` prefixes): their arguments but the Handler are its payload.
_SET_DATA = "Landroid/os/Message;->setData("
_FILLS = ("Landroid/os/Handler;->obtainMessage(", "Landroid/os/Message;->obtain(", _SET_DATA)
_BUNDLES = frozenset({"Landroid/os/Bundle;", "Landroid/os/BaseBundle;"})
#: Message fields that carry a payload (``what`` is the message's kind, not its content).
_PAYLOAD_FIELDS = frozenset(
    {"Landroid/os/Message;->obj:Ljava/lang/Object;", "Landroid/os/Message;->arg1:I", "Landroid/os/Message;->arg2:I"}
)
#: Calls that send a Message, by method name, with the Message's position among the call's registers.
_SENDS = {
    "sendMessage": 1,
    "sendMessageDelayed": 1,
    "sendMessageAtTime": 1,
    "sendMessageAtFrontOfQueue": 1,
    "dispatchMessage": 1,
    "sendToTarget": 0,
    "send": 1,
}
#: Calls on a Handler that make, send or post work to it: the Handler is their receiver, not a container of
#: the data they are handed.
_HANDS_TO_HANDLER = frozenset({*_SENDS, "obtainMessage", "post", "postDelayed", "postAtTime", "postAtFrontOfQueue"})
_SENDERS = frozenset({"Landroid/os/Handler;", "Landroid/os/Message;", "Landroid/os/Messenger;"})
#: AsyncTask calls that start the task, with the position of the params array among the call's registers.
_EXECUTES = {"execute": 1, "executeOnExecutor": 2}
#: The bridge method javac adds for a generic AsyncTask (it calls the typed ``doInBackground``).
_BRIDGE = "([Ljava/lang/Object;)Ljava/lang/Object;"

#: :meth:`.chains.ChainFinder._analyse`: (method, its code, seeds, tainted fields) -> its flow.
Analyse = Callable[[MethodId, MethodCode, Seeds, frozenset[str]], Flow]


def _handler_positions(ins: Insn) -> frozenset[int]:
    """Positions among ``ins``'s registers that hold a Handler (the receiver of ``obtainMessage``, the
    first parameter of ``Message.obtain(Handler, ...)``) or a callback Runnable: never the payload."""
    assert ins.ref is not None
    static = ins.op.startswith("invoke-static")
    out = set() if static else {0}
    pos = 0 if static else 1
    for param in split_params(ins.ref[ins.ref.find("(") :]):
        if param in ("Landroid/os/Handler;", "Ljava/lang/Runnable;"):
            out.add(pos)
        pos += 2 if param in ("J", "D") else 1
    return frozenset(out)


class HandoffSeeds:
    """What the callbacks of Handler and AsyncTask hand-offs are handed (see the module's docstring)."""

    def __init__(self, graph: CallGraph, flows: FlowSpec, analyse: Analyse) -> None:
        self.graph = graph
        self.flows = flows
        # The search hands its remembered analyses (``Analyses.of``), which refer to nothing that holds
        # this object: no cycle through the scan's code index (see appaudit.pipeline.collection).
        self._analyse = analyse
        self._invokes: dict[tuple[str, str, str], dict[int, Insn]] = {}

    def message(self, body: MethodCode, flow: Flow, before: MessageTaint | None) -> MessageTaint | None:
        """How the method (``flow`` its taint) fills or sends a Message with the data, given how the path did
        before it (``sent``, not resolved, wins: it is the over-approximation).

        A Bundle set as a Message's data whose tainted values are all put under keys that resolve is no
        payload of the Message itself: those values are followed by key, as Intent extras are (the
        ``intent_extra`` store of :mod:`.stores`, read back by ``getData().getString(key)``)."""
        if before == "sent" or not flow.calls:
            return before
        payload, explained, sent = bool(_PAYLOAD_FIELDS & flow.fields), False, False
        at = self._calls(body)
        for off, tainted in flow.calls.items():
            ins = at.get(off)
            if ins is None or not tainted or not ins.ref:
                continue
            owner, _, rest = ins.ref.partition("->")
            owner = self._framework(owner)
            head = f"{owner}->{rest[: rest.find('(') + 1]}"
            if head in _FILLS:
                carried = tainted - _handler_positions(ins)
                keyed = head == _SET_DATA and bool(carried) and self._keyed(body, flow)
                payload |= bool(carried) and not keyed
                explained |= keyed or not carried
                continue
            pos = _SENDS.get(rest.split("(", 1)[0])
            if owner in _SENDERS and pos is not None and pos in tainted:
                sent = True
        if payload:
            return "payload"
        # a Message obtained from a Handler that holds the data, or filled only by key, is tainted through that
        return "sent" if sent and not explained else before

    def _keyed(self, body: MethodCode, flow: Flow) -> bool:
        """Every tainted value put in a Bundle in the method is put under a key that resolves (and some is)."""
        spec = next((s for s in self.flows.stores if s.kind == "intent_extra"), None)
        if spec is None:
            return False
        bundles = tuple(t for t in spec.put if t.class_desc in _BUNDLES)
        names = [
            call_name(spec, body, ins)[1]
            for ins in body.insns
            if ins.ref and calls_target(bundles, ins.ref) and flow.calls.get(ins.offset, frozenset()) - {0}
        ]
        return bool(names) and None not in names

    def _framework(self, owner: str) -> str:
        """``owner`` (a descriptor), or the framework Handler or Messenger an app class of it derives from
        (a call is named by the receiver's static type: ``LMyHandler;->sendMessage``)."""
        if owner in _SENDERS:
            return owner
        cls = java_name(owner)
        if cls in self.graph.app_classes:
            for base in self.graph.ancestors(cls):
                if java_desc(base) in _SENDERS:
                    return java_desc(base)
        return owner

    def _calls(self, body: MethodCode) -> dict[int, Insn]:
        """The invokes of ``body`` by offset (remembered: a method is met by many visits)."""
        key = (body.dex, body.class_name, body.method)
        found = self._invokes.get(key)
        if found is None:
            found = self._invokes[key] = {i.offset: i for i in body.insns if i.op.startswith("invoke")}
        return found

    def published(self, body: MethodCode, flow: Flow) -> bool:
        """Tainted data handed to a Handler, queue, broadcast or event bus (read by a callback later)."""
        if not flow.calls:
            return False
        at = self._calls(body)
        for off in flow.calls:
            ins = at.get(off)
            if ins is None or not ins.ref:
                continue
            if calls_target(self.flows.publishers, ins.ref):
                return True
            owner, _, rest = ins.ref.partition("->")
            if java_name(owner) in self.graph.app_classes:  # an app's Handler subclass, a queue wrapper...
                for base in self.graph.ancestors(java_name(owner)):
                    if calls_target(self.flows.publishers, f"{java_desc(base)}->{rest}"):
                        return True
        return False

    def handed(self, node: MethodId, off: int, callee: MethodId, carried: Carried) -> tuple[Seeds, StoreHop | None]:
        """What is tainted in a hand-off's callback (``run()``, ``onStartCommand()``...) handed work at
        ``off`` in ``node``, and the hop to record when it is a Handler message or an AsyncTask stage."""
        returned = self.returned(node, callee)
        if returned is not None:
            return returned
        body = self.graph.body(callee)
        everything = frozenset(range(body.ins_size)) if body is not None else frozenset()
        src = self.graph.body(node)
        via = next((i.op for i in src.insns if i.offset == off), "") if src is not None else ""
        kind = self.kind(callee) if via == "new-instance" and src is not None else None
        if kind is not None and src is not None:
            return self.seeds(kind, src, off, callee, carried)
        flow = carried.flow
        if carried.published:
            return Seeds(params=everything), None
        if via == "new-instance":  # a task object that received the data (constructor, setter, execute(data)):
            # ``this`` holds it, and the callback's parameters get what execute() was given
            return Seeds(params=everything if off in flow.objects else frozenset()), None
        if via.startswith("invoke"):  # the object handed itself over (``new Thread(this)``): as it was
            return Seeds(params=frozenset({0}) if flow.calls.get(off) else frozenset()), None
        return Seeds(params=everything if flow.calls else frozenset()), None  # an Intent carrying the data

    def kind(self, callee: MethodId) -> str | None:
        """``handler_message`` or ``async_task`` when ``callee`` is such a callback, else None."""
        ancestors = self.graph.ancestors(callee.class_name)
        name = callee.method.split("(", 1)[0]
        if name == "handleMessage" and _HANDLER in ancestors:
            return "handler_message"
        if _ASYNC_TASK in ancestors:
            return "async_task"
        return None

    def seeds(
        self, kind: str, src: MethodCode, off: int, callee: MethodId, carried: Carried
    ) -> tuple[Seeds, StoreHop | None]:
        """What is tainted in ``callee`` (a callback of ``kind``) of the object made at ``off`` in ``src``
        (a ``new-instance``), and the hop to record."""
        body = self.graph.body(callee)
        everything = frozenset(range(body.ins_size)) if body is not None else frozenset()
        flow = carried.flow
        made = next((java_name(i.ref) for i in src.insns if i.offset == off and i.ref), callee.class_name)
        ancestors = self.graph.ancestors(made)
        names = _HANDS_TO_HANDLER if kind == "handler_message" else _EXECUTES.keys()
        starts = [i for i in src.insns if _starts(i, made, ancestors, names)]
        held = frozenset({0}) if off in flow.objects and _held_otherwise(src, flow, made, starts) else frozenset()
        if kind == "handler_message":
            if carried.message == "payload":
                return Seeds(params=held | {1}), StoreHop(kind=kind, name=made, matched_by="name")
            if carried.message == "sent":
                return Seeds(params=everything), StoreHop(kind=kind, name=made, matched_by="type")
            return Seeds(params=held), None
        if not starts:  # made here, run elsewhere: not resolved, every parameter as before
            loose = off in flow.objects
            hop = StoreHop(kind=kind, name=made, matched_by="type") if loose else None
            return Seeds(params=everything if loose else frozenset()), hop
        params = frozenset({1}) if any(_EXECUTES[_name(i)] in flow.calls.get(i.offset, ()) for i in starts) else None
        background = held | (params or frozenset())
        hop = StoreHop(kind=kind, name=made, matched_by="name")
        stage = callee.method.split("(", 1)[0]
        if stage == "doInBackground":
            return Seeds(params=background), hop
        if stage in ("onPostExecute", "onCancelled", "onProgressUpdate"):
            returns, publishes = self._background(made, Seeds(params=background), flow.fields)
            out = publishes if stage == "onProgressUpdate" else returns
            return Seeds(params=held | ({1} if out else set())), hop
        return Seeds(params=held), hop

    def result_hops(self, node: MethodId, body: MethodCode, flow: Flow) -> list[Hop]:
        """From an AsyncTask's ``doInBackground`` that returns tainted data to its ``onPostExecute``, which
        the framework hands that value (at the offset of the method's first ``return-object``)."""
        if not flow.returns or not node.method.startswith("doInBackground(") or self.kind(node) != "async_task":
            return []
        if node.method.endswith(_BRIDGE) and len(self._stage_methods(node.class_name, "doInBackground(")) > 1:
            return []  # javac's bridge returns what the typed method does: its result is followed from there
        ret = next((i.offset for i in body.insns if i.op == "return-object"), 0)
        targets = [t for t in self.graph.async_targets(node.class_name) if t.method.startswith("onPostExecute(")]
        return [Hop(to=t, offset=ret, up=False, free=True) for t in targets]

    def returned(self, node: MethodId, callee: MethodId) -> tuple[Seeds, StoreHop] | None:
        """The seeds of a :meth:`result_hops` hop: ``onPostExecute(result)`` gets the value returned."""
        if not (node.method.startswith("doInBackground(") and callee.method.startswith("onPostExecute(")):
            return None
        if self.kind(node) != "async_task" or callee not in self.graph.async_targets(node.class_name):
            return None  # another task's stage, handed work by this one
        return Seeds(params=frozenset({1})), StoreHop(kind="async_task", name=node.class_name, matched_by="name")

    def _stage_methods(self, cls: str, prefix: str) -> list[str]:
        return [m for m in self.graph.code.methods_of(cls) if m.startswith(prefix)]

    def _background(self, cls: str, seeds: Seeds, fields: frozenset[str]) -> tuple[bool, bool]:
        """Whether ``cls``'s own ``doInBackground`` (the typed one, not javac's bridge), entered with
        ``seeds``, returns tainted data, and whether it hands tainted values to ``publishProgress``."""
        names = self._stage_methods(cls, "doInBackground(")
        returns = publishes = False
        for m in [m for m in names if not m.endswith(_BRIDGE)] or names:
            node = MethodId(class_name=cls, method=m)
            body = self.graph.body(node)
            if body is None:
                continue
            flow = self._analyse(node, body, seeds, fields)
            returns |= flow.returns
            publishes |= any(
                i.ref and _name(i) == "publishProgress" and flow.calls.get(i.offset, frozenset()) - {0}
                for i in body.insns
                if i.op.startswith("invoke")
            )
        return returns, publishes


def _name(ins: Insn) -> str:
    assert ins.ref is not None
    return ins.ref.partition("->")[2].split("(", 1)[0]


def _starts(ins: Insn, made: str, ancestors: Iterable[str], names: Collection[str]) -> bool:
    """``ins`` starts the object of class ``made`` (``execute`` a task, ``sendMessage`` to a Handler: one of
    ``names``) through its class or a supertype."""
    if not ins.op.startswith("invoke") or not ins.ref or _name(ins) not in names:
        return False
    owner = java_name(ins.ref.partition("->")[0])
    return owner == made or owner in ancestors


def _held_otherwise(src: MethodCode, flow: Flow, cls: str, starts: list[Insn]) -> bool:
    """The object got the data other than as the receiver of the calls that start it (``execute(data)``,
    ``sendMessage(msg)``): a tainted argument to another call on its class (its constructor, a setter), or
    a field of its class written with the data."""
    started = {i.offset for i in starts}
    desc = f"L{cls.replace('.', '/')};"
    for ins in src.insns:
        if ins.offset in started or not ins.ref or not ins.ref.startswith(desc + "->"):
            continue
        if ins.op.startswith("invoke") and flow.calls.get(ins.offset, frozenset()) - {0}:
            return True
        if ins.op.startswith("iput") and ins.ref in flow.fields:
            return True
    return False
