"""Where data leaves the device in one method: sink calls, upload endpoints, JavaScript bridges.

A sink is a call of ``rules/flows.yaml``'s ``sinks`` (by channel: network,
SMS, storage), an app method annotated as an HTTP endpoint (Retrofit-style
``@POST``: it says more than the ``Call.execute`` behind it), or a method of
an object handed to ``WebView.addJavascriptInterface`` (its result goes to
the page). Transformers (JSON, compression, encryption, encoding) are the
calls of ``transformers`` seen on a chain.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property

from appaudit.analysis.attribution import Attributor
from appaudit.analysis.facts import UrlSource
from appaudit.analysis.graph import CallGraph
from appaudit.analysis.prefixes import string_prefixes
from appaudit.analysis.registers import VALUE_BUILDERS, Value, argument_registers, invoke_arguments, values_at
from appaudit.analysis.targets import by_prefix, call_prefix, target_for
from appaudit.analysis.values import ValueResolver, origin
from appaudit.apk.dex.types import Insn, MethodCode
from appaudit.descriptors import java_name, split_params
from appaudit.model import Channel, Evidence, EvidenceKind, MethodId
from appaudit.ruleset.flows import ApiTarget, FlowSpec

_URL = re.compile(r"(https?|wss?)://\S+|/?[A-Za-z0-9_.-]+(/[A-Za-z0-9_.{}-]+){1,}")
#: URL strings of a sink's method kept on its chain.
MAX_URLS = 5
_WEB_URL = re.compile(r"(https?|wss?)://\S+")
#: Hops a sink method's URL is followed (``analysis.values``; one fewer than for provider URIs: a sink
#: method builds many strings, and a URL is evidence, not what makes the chain).
URL_DEPTH = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class Sink:
    """A place in one method where data leaves the device (or is stored)."""

    channel: Channel
    call: Evidence
    """The sink call (or the bridge or annotated method standing for it)."""
    urls: tuple[str, ...]
    """Endpoint paths of an annotated method, then URL strings of the method."""
    data_positions: frozenset[int] | None = None
    """Positions in the sink call's registers (the receiver is 0) that carry data out (an SMS's text);
    None when any call of the sink's method handed data counts (a stream written after
    ``getOutputStream()``, a bridge, an annotated endpoint)."""
    to_positions: frozenset[int] = frozenset()
    """Positions in the sink call's registers that name the destination (an SMS's number); empty when
    the sink names none."""


def _object_type(value: Value, params: tuple[str, ...]) -> str | None:
    """The static type of an object value, when the pass knows it."""
    if value.kind == "new":
        return value.text
    if value.kind == "call" and value.text:
        return value.text.rsplit(")", 1)[-1]
    if value.kind in ("field", "ifield") and value.text:
        return value.text.rsplit(":", 1)[-1]
    if value.kind == "param" and value.text is not None:
        return params[int(value.text)]
    return None


def data_positions(ins: Insn, data_args: tuple[int, ...] | None) -> frozenset[int] | None:
    """The positions in ``ins``'s registers (receiver 0) of the declared parameters ``data_args``
    (a wide parameter takes two); None when the sink names no data arguments."""
    if data_args is None or ins.ref is None:
        return None
    pos = 0 if ins.op.startswith("invoke-static") else 1
    out: set[int] = set()
    for i, param in enumerate(split_params(ins.ref[ins.ref.find("(") :])):
        width = 2 if param in ("J", "D") else 1
        if i in data_args:
            out.update(range(pos, pos + width))
        pos += width
    return frozenset(out)


def _stays_local(body: MethodCode, ins: Insn, target: ApiTarget) -> bool:
    """Every data argument of the call ``ins`` is a string known to start with one of the target's
    ``local_prefixes`` (``javascript:``), so the call runs in the app."""
    _recv, params = argument_registers(ins)
    regs = [params[i] for i in target.data_args or range(len(params)) if i < len(params)]
    prefixes = string_prefixes(body, ins.offset)
    return bool(regs) and all(
        (known := prefixes.get(r)) is not None and known.lower().startswith(target.local_prefixes) for r in regs
    )


class SinkFinder:
    """The sinks of the app's methods, remembered for the scan; their evidence is owned (``attributor``)."""

    def __init__(self, graph: CallGraph, flows: FlowSpec, attributor: Attributor) -> None:
        self.graph = graph
        self.flows = flows
        self.attributor = attributor
        self._sinks: dict[MethodId, list[Sink]] = {}
        self._urls: dict[MethodId, tuple[UrlSource, ...]] = {}
        # Remembered for the scan, since the same strings and calls recur in many methods: whether a
        # string is URL-like, and the endpoint paths of an app method (None: not an endpoint).
        self._url_like: dict[str, bool] = {}
        self._endpoints: dict[str, tuple[str, ...] | None] = {}
        self._sink_lists = by_prefix(flows.sinks)
        self._transformer_lists = by_prefix(flows.transformers)

    @cached_property
    def js_bridges(self) -> dict[str, Evidence]:
        """App classes whose objects are handed to ``WebView.addJavascriptInterface`` -> that call.

        Every public method of such an object can be called by the page's
        JavaScript, so what it returns is handed to web content: a network sink.
        """
        bridges: dict[str, Evidence] = {}
        for site in self.graph.code.invocations("Landroid/webkit/WebView;", ["addJavascriptInterface"]):
            body = self.graph.body(MethodId(class_name=site.class_name, method=site.method))
            insn = next((i for i in body.insns if i.offset == site.offset), None) if body else None
            if body is None or insn is None or insn.ref is None:
                continue
            _recv, regs = argument_registers(insn)
            value = values_at(body, site.offset).get(regs[0]) if regs else None
            desc = _object_type(value, body.param_types) if value is not None else None
            if desc is not None and java_name(desc) in self.graph.app_classes:
                bridges.setdefault(java_name(desc), self.attributor.code_evidence(site))
        return bridges

    def sinks_in(self, node: MethodId) -> list[Sink]:
        """Each sink in ``node``: annotated endpoints first, then bridges and sink calls in code order."""
        if node in self._sinks:
            return self._sinks[node]
        found: list[Sink] = []
        bridge = self.js_bridges.get(node.class_name)
        if bridge is not None and not node.method.startswith("<"):
            found.append(
                Sink(channel=Channel.NETWORK, call=replace(bridge, value=f"JavaScript bridge: {bridge.value}"), urls=())
            )
        for atype, _elements in self.graph.code.annotations_of(node.class_name, node.method):
            if atype == "Landroid/webkit/JavascriptInterface;":
                marker = Evidence(
                    kind=EvidenceKind.INVOKE,
                    value="@JavascriptInterface method",
                    class_name=node.class_name,
                    method=node.method,
                    owner=self.attributor.owner(node.class_name),
                )
                found.append(Sink(channel=Channel.NETWORK, call=marker, urls=()))
        body = self.graph.body(node)
        annotated, calls = self._sink_calls(node, body) if body is not None else ([], [])
        self._sinks[node] = annotated + found + calls
        return self._sinks[node]

    def _urls_of(self, node: MethodId) -> tuple[str, ...]:
        """The URL-like strings of ``node``, sorted, at most ``MAX_URLS`` (asked for only where a sink call is:
        most methods a search visits have none)."""
        known = self._url_like
        urls = set()
        for text in self.graph.strings(node):
            like = known.get(text)
            if like is None:
                like = known[text] = _URL.fullmatch(text) is not None
            if like:
                urls.add(text)
        return tuple(sorted(urls))[:MAX_URLS]

    def _sink_calls(self, node: MethodId, body: MethodCode) -> tuple[list[Sink], list[Sink]]:
        """(calls of annotated endpoints, sink calls) in ``body``, in code order; a call is a sink of the
        first channel (in ``flows.sinks`` order) whose targets it calls."""
        annotated: list[Sink] = []
        calls: list[Sink] = []
        urls: tuple[str, ...] | None = None
        for ins in body.insns:
            if not ins.ref or not ins.op.startswith("invoke"):
                continue
            paths = self._endpoint_paths(ins.ref)
            if paths is not None:  # an app's Retrofit-style upload method says more than Call.execute
                urls = self._urls_of(node) if urls is None else urls
                annotated.append(Sink(channel=Channel.NETWORK, call=self._call(node, body, ins), urls=paths + urls))
                continue
            lists = self._sink_lists.get(call_prefix(ins.ref))
            if lists is None:
                continue
            channel, targets = lists[0]
            target = target_for(targets, ins.ref)
            if target is not None and target.local_prefixes and _stays_local(body, ins, target):
                continue  # ``loadUrl("javascript:...")``: a script run in the page, not a sink
            positions = data_positions(ins, target.data_args) if target is not None else None
            to = data_positions(ins, target.to_args) if target is not None and target.to_args else None
            urls = self._urls_of(node) if urls is None else urls
            sink = Sink(
                channel=channel,
                call=self._call(node, body, ins),
                urls=urls,
                data_positions=positions,
                to_positions=to or frozenset(),
            )
            calls.append(sink)
        return annotated, calls

    def _call(self, node: MethodId, body: MethodCode, ins: Insn) -> Evidence:
        """The sink call ``ins`` of ``node`` as evidence, with its owner."""
        assert ins.ref is not None
        return Evidence(
            kind=EvidenceKind.INVOKE,
            value=ins.ref,
            dex=body.dex,
            class_name=node.class_name,
            method=node.method,
            offset=ins.offset,
            owner=self.attributor.owner(node.class_name),
        )

    def _endpoint_paths(self, ref: str) -> tuple[str, ...] | None:
        """The endpoint paths of the app method ``ref`` names, when it is annotated as an HTTP endpoint."""
        if ref in self._endpoints:
            return self._endpoints[ref]
        paths: tuple[str, ...] | None = None
        owner, _, method = ref.partition("->")
        cls = java_name(owner)
        if cls in self.graph.app_classes:
            for atype, elements in self.graph.code.annotations_of(cls, method):
                if atype in self.flows.network_annotations:
                    paths = tuple(v for k, v in elements if k == "value")
                    break
        self._endpoints[ref] = paths
        return paths

    @cached_property
    def values(self) -> ValueResolver:
        """What fields, helpers and string resources hold, for URLs (made on a chain's first sink)."""
        return ValueResolver(self.graph.code)

    def resolved_urls(self, node: MethodId) -> tuple[UrlSource, ...]:
        """Web URLs that ``node`` hands to calls and that come from a field, an app helper or a
        string resource, or are made of such parts (``analysis.values``); at most ``MAX_URLS``."""
        if node in self._urls:
            return self._urls[node]
        body = self.graph.body(node)
        found: dict[str, UrlSource] = {}
        resolve = self.values.callback(URL_DEPTH)
        for insn, args in invoke_arguments(body, resolve=resolve) if body is not None else ():
            if (insn.ref or "").partition("->")[0] in VALUE_BUILDERS:
                continue  # a part of a URL being built, not a URL being used
            for arg in args:
                how = origin(arg)
                if how is not None and arg.text and arg.kind in ("string", "uri") and _WEB_URL.fullmatch(arg.text):
                    found.setdefault(arg.text, UrlSource(url=arg.text, how=how))
        self._urls[node] = tuple(found.values())[:MAX_URLS]
        return self._urls[node]

    def transformers(self, nodes: Sequence[MethodId]) -> tuple[str, ...]:
        """``kind: Class.method`` of every transformer called in ``nodes``, sorted."""
        seen = set()
        for node in nodes:
            body = self.graph.body(node)
            for ins in body.insns if body is not None else ():
                if not ins.ref or not ins.op.startswith("invoke"):
                    continue
                for kind, _targets in self._transformer_lists.get(call_prefix(ins.ref), ()):
                    owner, _, rest = ins.ref.partition("->")
                    seen.add(f"{kind}: {java_name(owner)}.{rest.split('(', 1)[0]}")
        return tuple(sorted(seen))
