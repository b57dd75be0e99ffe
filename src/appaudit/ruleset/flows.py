"""The harvest-chain data (rules/flows.yaml) in typed form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from appaudit.model import Channel


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiTarget:
    """Methods ``names`` of class ``class_desc`` (any prototype)."""

    class_desc: str
    names: tuple[str, ...]
    uri_arg: int | None = None
    """For provider queries: position of the Uri among the declared parameters."""
    data_args: tuple[int, ...] | None = None
    """For sinks: positions among the declared parameters that carry the data out (an SMS's text, not
    its destination). None: data handed to any call in the sink's method counts (a stream written
    after ``getOutputStream()``)."""
    to_args: tuple[int, ...] = ()
    """For SMS sinks: positions among the declared parameters naming the destination (``analysis.replies``
    tells a reply to the message's own sender by it)."""
    local_prefixes: tuple[str, ...] = ()
    """For sinks: a data argument whose string starts with one of these stays in the app
    (``WebView.loadUrl("javascript:...")`` runs a script in the page already loaded)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AsyncHandoff:
    type_desc: str
    methods: tuple[str, ...]
    via: str = "new-instance"
    """What hands the work over: constructing the class, or naming it (``const-class``) in an Intent."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Callback:
    """Methods ``methods`` of classes deriving from ``type_desc``, called by the framework or a library."""

    type_desc: str
    methods: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplySpec:
    """What an SMS sink's text and destination are made of (rules/flows.yaml ``replies``, read by
    ``analysis.replies``): the calls a backward trace of the text ends at or passes through."""

    senders: tuple[ApiTarget, ...] = ()
    """Calls whose result is the sender of a received message (``SmsMessage.getOriginatingAddress``)."""
    constants: tuple[ApiTarget, ...] = ()
    """Calls whose result is fixed by the app (a string resource by id)."""
    joins: tuple[ApiTarget, ...] = ()
    """Calls whose result is made of their receiver and arguments (``StringBuilder.append``, ``concat``)."""
    passes: tuple[ApiTarget, ...] = ()
    """Calls whose result is made of their first argument (``SmsManager.divideMessage``), beside
    ``triggers.command_passes`` (made of their receiver: ``trim``; or a static call's first argument)."""
    parses: tuple[ApiTarget, ...] = ()
    """Calls that take a part of a string (``split``, ``substring``, ``replace``): a part of a value tested
    as a command is the command's argument."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TriggerSpec:
    """What makes a read run, beside the manifest's entry points (rules/flows.yaml ``triggers``)."""

    callbacks: tuple[tuple[str, tuple[Callback, ...]], ...] = ()
    """(trigger, callbacks) pairs: ``user_action`` (clicks, menus, permission answers), ``event``."""
    scheduled: tuple[Callback, ...] = ()
    """Callbacks a scheduler runs later (a worker, a job, a timer task)."""
    messages: tuple[Callback, ...] = ()
    """Handlers whose parameters are a received message (push, socket)."""
    observes: tuple[ApiTarget, ...] = ()
    """Calls that register an observer of a provider: the "read" runs on each change (an event)."""
    command_sources: tuple[ApiTarget, ...] = ()
    command_fills: tuple[ApiTarget, ...] = ()
    """Calls that fill their first argument (a buffer) with received bytes (``InputStream.read``)."""
    command_passes: tuple[ApiTarget, ...] = ()
    command_compares: tuple[ApiTarget, ...] = ()
    consent: tuple[str, ...] = ()
    """Method names (any class) that ask the user first: a permission request, a dialog's agree button."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreSpec:
    """One kind of storage or named hand-off (``rules/flows.yaml``'s ``stores``)."""

    kind: str
    """``sqlite``, ``shared_prefs``, ``file``, ``intent_extra`` or ``work_data``."""
    put: tuple[ApiTarget, ...]
    """Calls that store their non-name arguments under the name of their first String (or File) parameter."""
    get: tuple[ApiTarget, ...]
    """Calls whose result is what was stored under the name of their first String (or File) parameter."""
    open: tuple[ApiTarget, ...] = ()
    """Calls that open a named file for writing (the name of a ``write`` in the same method)."""
    write: tuple[ApiTarget, ...] = ()
    """Calls that write data to a stream or writer."""
    sql: bool = False
    """The name is the table that the SQL text (or the table argument) names."""


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueSpec:
    """Queues that hand objects to another thread (``rules/flows.yaml``'s ``queues``; analysis/queues.py)."""

    put: tuple[ApiTarget, ...] = ()
    """Calls that put their first argument (the element) into the queue they are called on."""
    take: tuple[ApiTarget, ...] = ()
    """Calls whose result is an element taken from the queue they are called on."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowSpec:
    """What the chain analysis looks for; see rules/flows.yaml for the meaning of each list."""

    queries: tuple[ApiTarget, ...] = ()
    provider_writes: tuple[ApiTarget, ...] = ()
    sms_receive: tuple[ApiTarget, ...] = ()
    cursor_iteration: tuple[ApiTarget, ...] = ()
    sinks: tuple[tuple[Channel, tuple[ApiTarget, ...]], ...] = ()
    """(channel, targets) pairs: network, sms, storage."""
    network_annotations: tuple[str, ...] = ()
    transformers: tuple[tuple[str, tuple[ApiTarget, ...]], ...] = ()
    async_handoffs: tuple[AsyncHandoff, ...] = ()
    entry_points: tuple[tuple[str, tuple[str, ...]], ...] = ()
    boot_actions: tuple[str, ...] = ()
    publishers: tuple[ApiTarget, ...] = ()
    escapes: tuple[ApiTarget, ...] = ()
    """Calls through which data leaves what the data-flow check follows (storage, other components)."""
    fresh_results: tuple[ApiTarget, ...] = ()
    """Calls whose result is not the data handed to them (a server's reply, a row id, a size), never tainted."""
    triggers: TriggerSpec = TriggerSpec()
    replies: ReplySpec = ReplySpec()
    stores: tuple[StoreSpec, ...] = ()
    queues: QueueSpec = QueueSpec()

    def entry_methods(self, kind: str) -> tuple[str, ...]:
        return next((names for k, names in self.entry_points if k == kind), ())


def _targets(items: list[dict[str, Any]]) -> tuple[ApiTarget, ...]:
    return tuple(
        ApiTarget(
            class_desc=i["class"],
            names=tuple(i["names"]),
            uri_arg=i.get("uri_arg"),
            data_args=tuple(i["data_args"]) if "data_args" in i else None,
            local_prefixes=tuple(i.get("local_prefixes", ())),
            to_args=tuple(i.get("to_args", ())),
        )
        for i in items
    )


def _callbacks(items: list[dict[str, Any]]) -> tuple[Callback, ...]:
    return tuple(Callback(type_desc=i["type"], methods=tuple(i["methods"])) for i in items)


def _trigger_spec(doc: dict[str, Any]) -> TriggerSpec:
    return TriggerSpec(
        callbacks=tuple((k, _callbacks(v)) for k, v in sorted(doc.get("callbacks", {}).items())),
        scheduled=_callbacks(doc.get("scheduled", [])),
        messages=_callbacks(doc.get("messages", [])),
        observes=_targets(doc.get("observes", [])),
        command_sources=_targets(doc.get("command_sources", [])),
        command_fills=_targets(doc.get("command_fills", [])),
        command_passes=_targets(doc.get("command_passes", [])),
        command_compares=_targets(doc.get("command_compares", [])),
        consent=tuple(doc.get("consent", [])),
    )


def _reply_spec(doc: dict[str, Any]) -> ReplySpec:
    return ReplySpec(**{k: _targets(doc.get(k, [])) for k in ("senders", "constants", "joins", "passes", "parses")})


def flow_spec_from(doc: dict[str, Any]) -> FlowSpec:
    """Build a FlowSpec from a validated rules/flows.yaml document."""
    return FlowSpec(
        queries=_targets(doc["queries"]),
        provider_writes=_targets(doc.get("provider_writes", [])),
        sms_receive=_targets(doc["sms_receive"]),
        cursor_iteration=_targets(doc["cursor_iteration"]),
        sinks=tuple((Channel(ch), _targets(items)) for ch, items in sorted(doc["sinks"].items())),
        network_annotations=tuple(doc["network_annotations"]),
        transformers=tuple((k, _targets(items)) for k, items in sorted(doc["transformers"].items())),
        async_handoffs=tuple(
            AsyncHandoff(type_desc=a["type"], methods=tuple(a["methods"]), via=a.get("via", "new-instance"))
            for a in doc["async"]
        ),
        entry_points=tuple((k, tuple(v)) for k, v in sorted(doc["entry_points"].items())),
        boot_actions=tuple(doc["boot_actions"]),
        publishers=_targets(doc.get("publishers", [])),
        escapes=_targets(doc.get("escapes", [])),
        fresh_results=_targets(doc.get("fresh_results", [])),
        triggers=_trigger_spec(doc.get("triggers", {})),
        replies=_reply_spec(doc.get("replies", {})),
        stores=tuple(
            StoreSpec(
                kind=kind,
                put=_targets(spec["put"]),
                get=_targets(spec["get"]),
                open=_targets(spec.get("open", [])),
                write=_targets(spec.get("write", [])),
                sql=bool(spec.get("sql", False)),
            )
            for kind, spec in sorted(doc.get("stores", {}).items())
        ),
        queues=QueueSpec(
            put=_targets(doc.get("queues", {}).get("put", [])),
            take=_targets(doc.get("queues", {}).get("take", [])),
        ),
    )
