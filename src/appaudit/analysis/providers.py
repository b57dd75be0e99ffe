"""Which content provider each query reads: URI resolution by register tracking.

For every provider access (ContentResolver.query, ContentProviderClient,
CursorLoader, managedQuery, content observers) the URI argument is resolved
inside the method (``registers``); a URI that arrives as a parameter of the
app's own method is looked up at that method's call sites, and one built from
such parameters (``"content://sms/" + folder``) takes what the callers pass
(:mod:`.uri_params`); one held in an app field, returned by an app helper or
read from a string resource, or made of such parts, is looked up there
(:mod:`.values`). What cannot be resolved is reported as unresolved, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from appaudit import deadline
from appaudit.analysis.facts import ResolvedBy
from appaudit.analysis.registers import RESOLVABLE, Value, argument_registers, values_at
from appaudit.analysis.store_values import NameResolver
from appaudit.analysis.uri_params import from_parameters
from appaudit.analysis.values import ValueResolver, origin
from appaudit.apk.dex.types import CodeHit, CodeIndex, Insn, MethodCode
from appaudit.descriptors import java_desc, java_name
from appaudit.engine.matchers import string_pattern
from appaudit.model import PROTECTED_CLASSES
from appaudit.ruleset import Rule
from appaudit.ruleset.flows import FlowSpec

#: How many call-site / field-write hops a URI is followed back.
RESOLVE_DEPTH = 2
#: At most this many call sites are examined per parameter.
MAX_CALL_SITES = 8


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderQuery:
    """One provider access site and what it reads."""

    site: CodeHit
    uri: str | None
    """The resolved URI text or SDK field (``Lc;->NAME:T``); None when unresolved."""
    how: ResolvedBy
    """constant, string, built, parameter, static_field, instance_field, helper, resource, intent_data
    or unresolved."""
    data_class: str | None
    """The protected data class the URI belongs to, if any."""


class ProviderClassifier:
    """Maps a URI string or URI field to a data class, from the ``reads`` rules' own lists."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.fields: dict[str, str] = {}
        self.patterns: list[tuple[re.Pattern[bytes], str]] = []
        for rule in rules:
            if rule.effect != "reads":
                continue
            if rule.match_kind == "field":
                for target in rule.match:
                    for name in target["names"]:
                        self.fields[f"{target['class']}->{name}"] = rule.data_class
            elif rule.match_kind == "string":
                ((kind, value),) = rule.match.items()
                values = (value,) if isinstance(value, str) else tuple(value)
                self.patterns.append((string_pattern(kind, values), rule.data_class))

    def classify(self, uri: str | None) -> str | None:
        if uri is None:
            return None
        if "->" in uri:
            return self.fields.get(uri.split(":", 1)[0])
        raw = uri.encode("utf-8", "replace")
        return next((dc for pattern, dc in self.patterns if pattern.fullmatch(raw)), None)


def _resolve(code: CodeIndex, value: Value, depth: int, values: ValueResolver) -> list[tuple[str | None, ResolvedBy]]:
    if value.kind in ("string", "uri") and value.text:
        return [(value.text, origin(value) or ("string" if value.kind == "string" else "built"))]
    if value.kind == "intent_data":
        return [(None, "intent_data")]
    if value.kind == "field" and value.text and java_name(value.text.split("->", 1)[0]) not in code.defined_classes():
        return [(value.text, "constant")]
    if value.kind in RESOLVABLE and depth > 0:
        return _from_elsewhere(value, values) or [(None, "unresolved")]
    return [(None, "unresolved")]


def _from_elsewhere(value: Value, values: ValueResolver) -> list[tuple[str | None, ResolvedBy]]:
    """What a field, an app helper or a string resource holds (``analysis.values``), with where it came from."""
    return [(v.text, origin(v) or "unresolved") for v in values.all(value) if v.text]


def _insn_at(body: MethodCode, offset: int) -> Insn | None:
    return next((i for i in body.insns if i.offset == offset), None)


def resolve_argument(
    code: CodeIndex,
    site: CodeHit,
    arg: int,
    depth: int = RESOLVE_DEPTH,
    *,
    values: ValueResolver | None = None,
    names: NameResolver | None = None,
) -> list[tuple[str | None, ResolvedBy]]:
    """Possible values of declared argument ``arg`` of the invoke at ``site``.

    ``values`` looks into fields, helpers and string resources, ``names`` into what callers pass for
    parameters a URI is built from (one of each per scan; fresh ones if None).
    """
    values = values if values is not None else ValueResolver(code)
    names = names if names is not None else NameResolver(code)
    body = code.method_code(site.class_name, site.method)
    insn = _insn_at(body, site.offset) if body else None
    if body is None or insn is None or insn.ref is None:
        return [(None, "unresolved")]
    _recv, regs = argument_registers(insn)
    if arg >= len(regs):
        return [(None, "unresolved")]
    value = values_at(body, site.offset, resolve=values.callback()).get(regs[arg], Value("unknown"))
    if value.kind == "param" and value.text is not None and depth > 0:
        desc = java_desc(site.class_name)
        results: list[tuple[str | None, ResolvedBy]] = []
        for caller in code.callers(desc, site.method, limit=MAX_CALL_SITES):
            for uri, _how in resolve_argument(code, caller, int(value.text), depth - 1, values=values, names=names):
                if uri:
                    results.append((uri, "parameter"))
        return results or [(None, "unresolved")]
    found = _resolve(code, value, depth, values)
    if found == [(None, "unresolved")] and value.kind in ("string", "uri"):  # built from a parameter?
        return from_parameters(body, site.offset, regs[arg], names, values) or found
    return found


def provider_queries(
    code: CodeIndex, flows: FlowSpec, classifier: ProviderClassifier, *, values: ValueResolver | None = None
) -> list[ProviderQuery]:
    """Every provider access in the app with the URI it reads, sorted by location."""
    values = values if values is not None else ValueResolver(code)
    names = NameResolver(code)
    out: list[ProviderQuery] = []
    for target in flows.queries:
        if target.uri_arg is None:
            continue
        for site in code.invocations(target.class_desc, target.names):
            deadline.check()
            for uri, how in resolve_argument(code, site, target.uri_arg, values=values, names=names):
                dc = classifier.classify(uri)
                out.append(ProviderQuery(site=site, uri=uri, how=how, data_class=dc))
    out = sorted(set(out), key=lambda q: (q.site.dex, q.site.class_name, q.site.method, q.site.offset, q.uri or ""))
    return out


def protected(queries: Sequence[ProviderQuery]) -> list[ProviderQuery]:
    return [q for q in queries if q.data_class in PROTECTED_CLASSES]
