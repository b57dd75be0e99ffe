"""Hold the declarations against what the code does, one contradiction kind per declaration rule.

Every check reads the report's per-class results (level, channels, chains and
their owners, start-up paths) and the declaration, and returns the evidence of
a contradiction, the declaration's side first, or nothing. The registry
``CONTRADICTIONS`` is the only place the kinds are defined; the rule schema's
``declaration.contradiction`` values must equal it (a test checks it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from appaudit.analysis.facts import LEAVES_DEVICE, HarvestChain, sink_evidence
from appaudit.declarations.model import (
    COMPARED_CLASSES,
    ClassComparison,
    DataSafety,
    DeclaredAs,
    DeclaredUse,
    PrivacyPolicy,
)
from appaudit.model import PROTECTED_CLASSES, Evidence, EvidenceKind, Level, OwnerKind, Severity, owners_of
from appaudit.report.model import DataClassResult, Finding
from appaudit.ruleset import Rule

#: Evidence kept per contradiction finding (the engine's cap, engine.MAX_EVIDENCE, for the same reason).
MAX_EVIDENCE = 50
_SENT = (Level.EXFILTRATED, Level.HARVESTED)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClassFacts:
    """What the code does with one data class, as the checks need it."""

    data_class: str
    result: DataClassResult
    sending: tuple[HarvestChain, ...]
    """Chains that send it off the device (network, SMS)."""
    storing: tuple[HarvestChain, ...]
    sdk_collects: tuple[Finding, ...]
    """Findings of rules that say an SDK collects and uploads it on the app's request (``attribute_to: callee``)."""

    @property
    def leaves(self) -> bool:
        return bool(self.sending) or bool(self.sdk_collects)

    @property
    def bulk_upload(self) -> bool:
        return self.result.level == Level.HARVESTED or (bool(self.sdk_collects) and self.result.declared)

    def sdk_evidence(self) -> list[Evidence]:
        """Code evidence of an SDK sending or collecting the data."""
        out = [e for c in self.sending for e in _chain_evidence(c) if _is_sdk(c)]
        out += [e for f in self.sdk_collects for e in f.evidence]
        return out

    def sdk_names(self) -> tuple[str, ...]:
        owners = [
            o for c in self.sending if _is_sdk(c) for o in (c.read.owner, c.sink.owner) if o and o.kind == OwnerKind.SDK
        ]
        owners += [o for f in self.sdk_collects for o in f.owners if o.kind == OwnerKind.SDK]
        return tuple(sorted({o.name for o in owners}))


@dataclass(frozen=True, slots=True, kw_only=True)
class Declared:
    """The declarations given for one scan."""

    data_safety: DataSafety | None
    policy: PrivacyPolicy | None
    languages: tuple[str, ...] = ()
    """Phrase-list languages the policy was searched in."""
    notes: tuple[str, ...] = ()
    """What could not be read (a PDF without text, a cut-off): the comparison is then incomplete."""


def _is_sdk(chain: HarvestChain) -> bool:
    return any(o is not None and o.kind == OwnerKind.SDK for o in (chain.read.owner, chain.sink.owner))


def _chain_evidence(c: HarvestChain) -> list[Evidence]:
    return [c.read, sink_evidence(c)]


def _sending_evidence(facts: ClassFacts) -> list[Evidence]:
    return [e for c in facts.sending for e in _chain_evidence(c)] + [e for f in facts.sdk_collects for e in f.evidence]


def _rows(use: DeclaredUse | None, ds: DataSafety) -> list[Evidence]:
    rows = use.rows if use is not None and use.rows else (f"{ds.source}: no row for this data class",)
    return [Evidence(kind=EvidenceKind.DECLARATION, value=r) for r in rows]


def _use(declared: Declared, dc: str) -> DeclaredUse | None:
    ds = declared.data_safety
    return ds.use(dc) if ds is not None else None


def _no_data(declared: Declared) -> bool:
    return declared.data_safety is not None and declared.data_safety.collects_any is False


Check = Callable[[Declared, ClassFacts], list[Evidence]]


def undeclared_collection(declared: Declared, facts: ClassFacts) -> list[Evidence]:
    ds, use = declared.data_safety, _use(declared, facts.data_class)
    if ds is None or _no_data(declared) or not facts.leaves or (use is not None and use.declared):
        return []
    return _rows(use, ds) + _sending_evidence(facts)


def undeclared_sdk_sharing(declared: Declared, facts: ClassFacts) -> list[Evidence]:
    ds, use = declared.data_safety, _use(declared, facts.data_class)
    if ds is None or use is None or not use.collected or use.shared:
        return []
    sdk = facts.sdk_evidence()
    return _rows(use, ds) + sdk if sdk else []


def optional_but_startup(declared: Declared, facts: ClassFacts) -> list[Evidence]:
    ds, use = declared.data_safety, _use(declared, facts.data_class)
    if ds is None or use is None or use.optional is not True or not facts.result.read:
        return []
    paths = [p for p in facts.result.startup_paths if p.at_startup and not p.asks_permission_first]
    if not paths:
        return []
    entries = [Evidence(kind=EvidenceKind.ENTRY_POINT, value=f"{p.trigger}: {p.entry}") for p in paths]
    return _rows(use, ds) + entries + [a.evidence for a in facts.result.accesses]


def ephemeral_but_stored(declared: Declared, facts: ClassFacts) -> list[Evidence]:
    ds, use = declared.data_safety, _use(declared, facts.data_class)
    if ds is None or use is None or use.ephemeral is not True or not facts.storing:
        return []
    return _rows(use, ds) + [e for c in facts.storing for e in _chain_evidence(c)]


def no_data_but_sent(declared: Declared, facts: ClassFacts) -> list[Evidence]:
    ds = declared.data_safety
    if ds is None or not _no_data(declared) or not facts.leaves:
        return []
    return [Evidence(kind=EvidenceKind.DECLARATION, value=ds.collects_any_row)] + _sending_evidence(facts)


def policy_silent(declared: Declared, facts: ClassFacts) -> list[Evidence]:
    policy = declared.policy
    if policy is None or not policy.text_found or not facts.leaves or policy.stance(facts.data_class) != "silent":
        return []
    languages = ", ".join(declared.languages) or "none"
    note = f"{policy.source}: no sentence names {facts.data_class} (phrase lists searched: {languages})"
    return [Evidence(kind=EvidenceKind.POLICY_TEXT, value=note)] + _sending_evidence(facts)


def policy_denies(declared: Declared, facts: ClassFacts) -> list[Evidence]:
    policy = declared.policy
    if policy is None or not policy.text_found or not facts.leaves or policy.stance(facts.data_class) != "denied":
        return []
    said = [
        Evidence(kind=EvidenceKind.POLICY_TEXT, value=f"{policy.source} [{m.language}]: {m.sentence}")
        for m in policy.mentions
        if m.data_class == facts.data_class
    ]
    return said + _sending_evidence(facts)


#: The registry: contradiction kind (``match: {declaration: {contradiction: KIND}}``) -> check.
CONTRADICTIONS: dict[str, Check] = {
    "undeclared_collection": undeclared_collection,
    "undeclared_sdk_sharing": undeclared_sdk_sharing,
    "optional_but_startup": optional_but_startup,
    "ephemeral_but_stored": ephemeral_but_stored,
    "no_data_but_sent": no_data_but_sent,
    "policy_silent": policy_silent,
    "policy_denies": policy_denies,
}


def severity(rule: Rule, facts: ClassFacts) -> Severity:
    """By what is hidden: the rule's severity for a bulk upload of contacts, SMS or call log; at most high
    for those classes otherwise; at most medium for the neighbour classes."""
    if facts.data_class not in PROTECTED_CLASSES:
        return min(rule.severity, Severity.MEDIUM)
    if not facts.bulk_upload:
        return min(rule.severity, Severity.HIGH)
    return rule.severity


def _message(rule: Rule, facts: ClassFacts) -> str:
    r = facts.result
    chans = sorted({c.channel for c in facts.sending})
    found = f"Found: {r.level.value}" + (f", sent by {', '.join(chans)}" if chans else "")
    sdks = facts.sdk_names()
    if sdks:
        found += f"; third-party SDK code: {', '.join(sdks)}"
    return f"{rule.message} {found}."


def class_facts(
    data_class: str, result: DataClassResult, findings: Sequence[Finding], callee_rules: frozenset[str]
) -> ClassFacts:
    """The sending and storing chains of one class, and the SDK-collection findings for it."""
    sent = result.level in _SENT and not result.dormant
    return ClassFacts(
        data_class=data_class,
        result=result,
        sending=tuple(c for c in result.chains if c.channel in LEAVES_DEVICE) if sent else (),
        storing=tuple(c for c in result.chains if c.channel not in LEAVES_DEVICE) if sent else (),
        sdk_collects=tuple(
            f
            for f in findings
            if f.data_class == data_class
            and f.rule_id in callee_rules
            and not f.dormant
            and any(o.kind == OwnerKind.SDK for o in f.owners)
        ),
    )


def contradictions(
    rules: Sequence[Rule],
    declared: Declared,
    classes: Mapping[str, DataClassResult],
    findings: Sequence[Finding],
    callee_rules: frozenset[str],
) -> tuple[tuple[Finding, ...], tuple[ClassComparison, ...]]:
    """The contradiction findings (sorted) and the "declared vs found" rows, one per compared class."""
    out: list[Finding] = []
    rows: list[ClassComparison] = []
    for dc in COMPARED_CLASSES:
        facts = class_facts(dc, classes[dc], findings, callee_rules)
        mine: list[Finding] = []
        for rule in rules:
            evidence = CONTRADICTIONS[rule.match["contradiction"]](declared, facts)
            if not evidence:
                continue
            unique = list(dict.fromkeys(evidence))  # the declaration's side first, as found
            mine.append(
                Finding(
                    rule_id=rule.id,
                    title=rule.title,
                    severity=severity(rule, facts),
                    confidence=rule.confidence,
                    data_class=dc,
                    effect=rule.effect,
                    message=_message(rule, facts),
                    evidence=tuple(unique[:MAX_EVIDENCE]),
                    evidence_total=len(unique),
                    owners=owners_of(unique),
                )
            )
        out += mine
        rows.append(_row(declared, facts, tuple(sorted(f.rule_id for f in mine))))
    out.sort(key=lambda f: f.sort_key())
    return tuple(out), tuple(rows)


def _row(declared: Declared, facts: ClassFacts, rule_ids: tuple[str, ...]) -> ClassComparison:
    ds, use = declared.data_safety, _use(declared, facts.data_class)
    said: DeclaredAs
    if ds is None:
        said = "not given"
    elif ds.collects_any is False:
        said = "no data collected"
    elif use is not None and use.declared:
        said = "collected and shared" if use.collected and use.shared else "collected" if use.collected else "shared"
    else:
        said = "not collected"
    policy = declared.policy
    stance = "not given" if policy is None else policy.stance(facts.data_class) if policy.text_found else "unreadable"
    return ClassComparison(
        data_class=facts.data_class,
        declared=said,
        policy=stance,
        found=facts.result.level.value,
        leaves_by=tuple(sorted({c.channel for c in facts.sending} | ({"sdk_api"} if facts.sdk_collects else set()))),
        sent_by_sdks=facts.sdk_names(),
        rule_ids=rule_ids,
    )
