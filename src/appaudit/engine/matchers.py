"""Matcher kinds: one function per ``match:`` key of a rule, in one registry.

A matcher takes the rule's match parameters and the app's facts and returns
the evidence it found (empty when the rule does not match).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from appaudit.analysis.facts import HarvestFacts, bulk_reads, counted_chains, sink_evidence, write_only_methods
from appaudit.apk.app import AppInfo
from appaudit.apk.dex.types import CodeHit, CodeIndex
from appaudit.descriptors import java_name
from appaudit.model import Evidence, EvidenceKind, Owner


class Owners(Protocol):
    """Whose code a class is (``analysis.attribution.Attributor``)."""

    def owner(self, class_name: str) -> Owner: ...


@dataclass(frozen=True, slots=True)
class MatchContext:
    """What a matcher may look at, and how the evidence it makes is attributed."""

    app: AppInfo
    code: CodeIndex
    harvest: HarvestFacts | None = None
    owners: Owners | None = None
    """Gives code evidence its owner as it is made (None: evidence without owners)."""
    callee: bool = False
    """The rule says ``attribute_to: callee``: an invoke belongs to the invoked class, not the caller."""

    def code_evidence(self, hit: CodeHit) -> Evidence:
        """The evidence of ``hit``, located exactly as the hit is, with its owner."""
        owner = None
        if self.owners is not None:
            callee = self.callee and hit.kind == EvidenceKind.INVOKE and "->" in hit.value
            owner = self.owners.owner(java_name(hit.value.split("->", 1)[0]) if callee else hit.class_name)
        return hit.to_evidence(owner)


Matcher = Callable[[Any, MatchContext], list[Evidence]]


def match_permission(spec: dict[str, Any], ctx: MatchContext) -> list[Evidence]:
    wanted = set(spec["any"])
    return [Evidence(kind=EvidenceKind.PERMISSION, value=p) for p in ctx.app.permissions if p in wanted]


def match_api(spec: list[dict[str, Any]], ctx: MatchContext) -> list[Evidence]:
    return [ctx.code_evidence(hit) for target in spec for hit in ctx.code.invocations(target["class"], target["names"])]


def match_field(spec: list[dict[str, Any]], ctx: MatchContext) -> list[Evidence]:
    hits = (hit for target in spec for hit in ctx.code.static_reads(target["class"], target["names"]))
    return [ctx.code_evidence(hit) for hit in hits]


@lru_cache(maxsize=256)
def string_pattern(kind: str, values: tuple[str, ...]) -> re.Pattern[bytes]:
    """The bytes pattern a string matcher runs over the DEX string data (fullmatch semantics)."""
    if kind == "regex":
        return re.compile(values[0].encode("utf-8"))
    alternatives = b"|".join(re.escape(v.encode("utf-8")) for v in values)
    tail = rb"[^\x00]*" if kind == "prefix" else b""
    return re.compile(b"(?:" + alternatives + b")" + tail)


def match_string(spec: dict[str, Any], ctx: MatchContext) -> list[Evidence]:
    ((kind, value),) = spec.items()
    values = (value,) if isinstance(value, str) else tuple(value)
    return [ctx.code_evidence(hit) for hit in ctx.code.string_loads(string_pattern(kind, values))]


def match_component(spec: dict[str, Any], ctx: MatchContext) -> list[Evidence]:
    kinds = set(spec.get("kinds") or ())
    actions = set(spec["actions"])
    return [
        Evidence(kind=EvidenceKind.COMPONENT, value=f"{comp.kind} {comp.name} <- {action}")
        for comp in ctx.app.components
        if not kinds or comp.kind in kinds
        for action in comp.actions
        if action in actions
    ]


def match_zip_entry(spec: dict[str, Any], ctx: MatchContext) -> list[Evidence]:
    pattern = re.compile(spec["regex"])
    return [
        Evidence(kind=EvidenceKind.ZIP_ENTRY, value=name) for name in ctx.app.zip_entries if pattern.fullmatch(name)
    ]


def match_entry_text(spec: dict[str, Any], ctx: MatchContext) -> list[Evidence]:
    """Matches of ``regex`` in the bytes of the zip entries ``entries`` names (full match on the name).

    For code that is not DEX but whose text can still be read: a React Native
    bundle, the strings of a Dart snapshot (libapp.so).
    """
    entries = re.compile(spec["entries"])
    pattern = re.compile(spec["regex"].encode("utf-8"))
    return [
        Evidence(kind=EvidenceKind.TEXT, value=f"{hit.dex}: {hit.value}", dex=hit.dex, offset=hit.offset)
        for hit in ctx.code.text_matches(entries, pattern)
    ]


def match_application_class(spec: dict[str, Any], ctx: MatchContext) -> list[Evidence]:
    name = ctx.app.application_class
    if name and re.fullmatch(spec["regex"], name):
        return [Evidence(kind=EvidenceKind.APPLICATION_CLASS, value=name)]
    return []


def match_harvest(spec: dict[str, Any], ctx: MatchContext) -> list[Evidence]:
    """Harvest-chain facts for one data class: bulk reads, chains to sinks, messages sent to the people
    read (``messages``), start-up paths.

    The reads and sinks come from the analysis, which gave them their owners when it made them.
    """
    facts = ctx.harvest
    if facts is None:
        return []
    dc = spec["data_class"]
    evidence: list[Evidence] = []
    if spec.get("bulk"):
        bulk = bulk_reads(facts, dc)
        if not bulk:
            return []
        evidence += bulk
    channels = set(spec.get("channels") or ())
    if channels:
        chains = [c for c in counted_chains(facts, dc) if c.channel in channels]
        if not chains:
            return []
        for c in chains:
            evidence += [c.read, sink_evidence(c)]
    if spec.get("messages"):
        messaged = [c for c in facts.messaged if c.data_class == dc]
        if not messaged:
            return []
        for c in messaged:
            evidence += [c.read, sink_evidence(c)]
    if spec.get("at_startup"):
        paths = [p for p in facts.startup if p.data_class == dc and p.at_startup]
        if not paths:
            return []
        evidence += [Evidence(kind=EvidenceKind.ENTRY_POINT, value=f"{p.trigger}: {p.entry}") for p in paths]
    return evidence


def match_provider_write(spec: dict[str, Any], ctx: MatchContext) -> list[Evidence]:
    """Calls that delete (or insert, update) rows of one protected provider (``analysis.writes``)."""
    facts = ctx.harvest
    if facts is None:
        return []
    operations = set(spec["operations"])
    return [w.evidence for w in facts.writes if w.data_class == spec["data_class"] and w.operation in operations]


def drop_write_only(facts: HarvestFacts | None, data_class: str, evidence: list[Evidence]) -> list[Evidence]:
    """``evidence`` without the URI loads in methods that only write ``data_class``'s provider: a URI
    loaded to delete rows is not a read (``facts.write_only_methods``)."""
    if facts is None or not facts.writes:
        return evidence
    writers = write_only_methods(facts, data_class)
    return [e for e in evidence if e.class_name is None or (e.class_name, e.method or "") not in writers]


#: The registry: the only place matcher kinds are defined. The rule schema's
#: ``match`` keys must equal this set (a test checks it).
MATCHERS: dict[str, Matcher] = {
    "permission": match_permission,
    "api": match_api,
    "field": match_field,
    "string": match_string,
    "component": match_component,
    "zip_entry": match_zip_entry,
    "entry_text": match_entry_text,
    "application_class": match_application_class,
    "harvest": match_harvest,
    "provider_write": match_provider_write,
}
