"""Where the trigger search stops: the callbacks that start a read, from the manifest and by type.

The manifest's components give the callbacks the system calls: the
Application's, a launcher activity's or a provider's (trigger ``startup``), a
boot receiver's (``boot``), an SMS or call receiver's (``event``), another
activity's (``user_action``: the user opens it). A service (``startup``) or
another receiver (``event``) is a fallback only: the search goes on to the code
that starts it, whose trigger it takes when there is one. Classes deriving from
a callback type of ``rules/flows.yaml`` (``triggers``) add clicks and menus
(``user_action``), content observers, phone-state and network listeners and
push handlers (``event``) and the callbacks a scheduler runs (``scheduled``,
again a fallback: the read inherits the trigger of the code that scheduled it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from appaudit.analysis.facts import ChainStep
from appaudit.analysis.graph import CallGraph
from appaudit.apk.app import AppInfo
from appaudit.descriptors import java_name
from appaudit.model import MethodId, Trigger
from appaudit.ruleset.flows import Callback, FlowSpec

#: Steps from a callback that starts a read back to the read.
STARTUP_DEPTH = 6

_SMS_EVENTS = ("android.provider.Telephony.SMS_RECEIVED", "android.provider.Telephony.SMS_DELIVER")
#: Categories that make a MAIN activity the app's launch entry (``getLaunchIntentForPackage`` takes INFO too).
_LAUNCH = (
    "android.intent.category.LAUNCHER",
    "android.intent.category.INFO",
    "android.intent.category.LEANBACK_LAUNCHER",
)
_CALL_EVENTS = ("android.intent.action.PHONE_STATE", "android.intent.action.NEW_OUTGOING_CALL")


@dataclass(frozen=True, slots=True, kw_only=True)
class Root:
    """A callback that starts what it calls: the trigger search stops here, or, when not ``terminal``,
    takes it as a fallback and goes on up to the code that starts it."""

    trigger: Trigger
    label: str
    """The component (or callback class) and method, e.g. ``com.x.App.onCreate``."""
    terminal: bool = True
    events: frozenset[str] = frozenset()
    """Data classes whose reads this boot receiver runs as an event: it also receives SMS (``sms``) or
    call-state (``call_log``) broadcasts, and reading those is what the broadcast is for."""

    def trigger_for(self, data_class: str) -> Trigger:
        """This root's trigger for a read of ``data_class``."""
        return Trigger.EVENT if data_class in self.events else self.trigger


#: (class, method name) -> the root of every manifest component's callback.
EntryPoints = dict[tuple[str, str], Root]


def _receiver_root(actions: Sequence[str], flows: FlowSpec) -> tuple[Trigger, bool, frozenset[str]]:
    """(trigger, terminal, event classes) of a manifest receiver with ``actions``."""
    events = frozenset(
        dc for dc, acts in (("sms", _SMS_EVENTS), ("call_log", _CALL_EVENTS)) if any(a in acts for a in actions)
    )
    if any(a in flows.boot_actions for a in actions):
        return Trigger.BOOT, True, events
    return Trigger.EVENT, bool(events), frozenset()


def entry_points(app: AppInfo, flows: FlowSpec, graph: CallGraph) -> EntryPoints:
    """The roots of the manifest's components, in their classes and their app superclasses."""
    table: EntryPoints = {}

    def add(cls: str, kind: str, trigger: Trigger, terminal: bool = True, events: frozenset[str] = frozenset()) -> None:
        for c in (cls, *(a for a in graph.ancestors(cls) if a in graph.app_classes)):
            for name in flows.entry_methods(kind):
                # The system instantiates a component; an app's own ``new`` of it starts nothing.
                ends = terminal or name == "<init>"
                root = Root(trigger=trigger, label=f"{cls}.{name}", terminal=ends, events=events)
                table.setdefault((c, name), root)

    if app.application_class:
        add(app.application_class, "application", Trigger.STARTUP)
    for name in app.launcher_activities:
        add(name, "launcher", Trigger.STARTUP)
    for comp in app.components:
        if comp.kind == "provider":
            add(comp.name, "provider", Trigger.STARTUP)
        elif comp.kind == "service":
            add(comp.name, "service", Trigger.STARTUP, terminal=False)
        elif comp.kind == "receiver":
            trigger, terminal, events = _receiver_root(comp.actions, flows)
            add(comp.name, "boot_receiver", trigger, terminal, events)
    for comp in app.components:  # after the launchers: an activity the user opens
        if comp.kind == "activity":
            launched = "android.intent.action.MAIN" in comp.actions and any(c in _LAUNCH for c in comp.categories)
            add(comp.name, "launcher", Trigger.STARTUP if launched else Trigger.USER_ACTION)
    return table


def matches_callback(graph: CallGraph, node: MethodId, callbacks: tuple[Callback, ...]) -> bool:
    """``node`` is one of ``callbacks``: its name is listed for a type its class is or derives from."""
    name = node.method.split("(", 1)[0]
    types = {node.class_name, *graph.ancestors(node.class_name)}
    return any(name in cb.methods and java_name(cb.type_desc) in types for cb in callbacks)


def derives_from(graph: CallGraph, cls: str, callbacks: tuple[Callback, ...]) -> bool:
    """Class ``cls`` is or derives from one of the types of ``callbacks``."""
    types = {cls, *graph.ancestors(cls)}
    return any(java_name(cb.type_desc) in types for cb in callbacks)


def callback_root(graph: CallGraph, flows: FlowSpec, node: MethodId) -> Root | None:
    """The root ``node`` is by the type its class derives from (a click, an observer, a worker), if any."""
    label = f"{node.class_name}.{node.method.split('(', 1)[0]}"
    spec = flows.triggers
    if matches_callback(graph, node, spec.scheduled):
        return Root(trigger=Trigger.SCHEDULED, label=label, terminal=False)
    for trigger, callbacks in spec.callbacks:
        if matches_callback(graph, node, callbacks):
            return Root(trigger=Trigger(trigger), label=label)
    return None


def _asks(graph: CallGraph, node: MethodId, consent: tuple[str, ...], before: int | None = None) -> bool:
    body = graph.body(node)
    for ins in body.insns if body is not None else ():
        if before is not None and ins.offset >= before:
            break
        if ins.op.startswith("invoke") and ins.ref and ins.ref.partition("->")[2].split("(", 1)[0] in consent:
            return True
    return False


def asks_permission_first(graph: CallGraph, flows: FlowSpec, steps: Sequence[ChainStep]) -> bool:
    """The user is asked before the read: some method on the path (root first) asks for permissions or
    shows an agree button before the call leading on; or the path starts in the answer to a permission
    request; or in a click of a component (the root's outer class) that asks in one of its methods."""
    consent = flows.triggers.consent
    if any(_asks(graph, s.method_id, consent, s.offset) for s in steps):
        return True
    if not steps:
        return False
    root = steps[0].method_id
    name = root.method.split("(", 1)[0]
    if name == "onRequestPermissionsResult":
        return True
    clicked = callback_root(graph, flows, root)
    if clicked is None or clicked.trigger != Trigger.USER_ACTION:
        return False
    outer = root.class_name.split("$", 1)[0]
    return any(
        _asks(graph, MethodId(class_name=cls, method=m), consent)
        for cls in {outer, root.class_name}
        for m in graph.code.methods_of(cls)
    )

