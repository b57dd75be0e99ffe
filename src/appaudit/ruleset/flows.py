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
class FlowSpec:
    """What the chain analysis looks for; see rules/flows.yaml for the meaning of each list."""

    queries: tuple[ApiTarget, ...] = ()
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
        )
        for i in items
    )


def flow_spec_from(doc: dict[str, Any]) -> FlowSpec:
    """Build a FlowSpec from a validated rules/flows.yaml document."""
    return FlowSpec(
        queries=_targets(doc["queries"]),
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
    )
