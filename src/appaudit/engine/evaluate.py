"""Run a ruleset over one app's facts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from appaudit.analysis.facts import HarvestFacts
from appaudit.apk.app import AppInfo
from appaudit.apk.dex.types import CodeIndex
from appaudit.engine.matchers import MATCHERS, MatchContext, Owners, drop_write_only
from appaudit.model import Evidence, Severity, owners_of
from appaudit.report.model import Finding, ScanErrorEntry
from appaudit.ruleset import Rule, Ruleset
from appaudit.ruleset.loader import SplitPermission

#: Evidence kept per finding; the rest is counted in ``evidence_total``.
MAX_EVIDENCE = 50


class Suppressions(Protocol):
    """Findings accepted earlier (``history.baseline.Baseline``)."""

    def suppression(self, rule_id: str, sites: Sequence[tuple[str, str]], package: str | None) -> str | None:
        """Why a finding of ``rule_id`` at exactly ``sites`` in ``package`` is accepted; None: it is not."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineResult:
    """What the rules found, and the rules that failed."""

    findings: tuple[Finding, ...]
    """Sorted by ``Finding.sort_key``; each with its owners and, under a baseline, its suppression."""
    errors: tuple[ScanErrorEntry, ...]
    """One entry per rule that raised."""


def effective_permissions(app: AppInfo, splits: Iterable[SplitPermission]) -> frozenset[str]:
    """Declared permissions plus those Android grants implicitly (split permissions)."""
    have = set(app.permissions)
    # Android's defaults: targetSdkVersion falls back to minSdkVersion, which falls back to 1.
    target = app.target_sdk if app.target_sdk is not None else app.min_sdk if app.min_sdk is not None else 1
    for split in splits:
        if split.granted_by not in have:
            continue
        if split.below_target_sdk is None or target < split.below_target_sdk:
            have.add(split.implies)
    return frozenset(have)


def _finding(
    rule: Rule,
    evidence: list[Evidence],
    permissions: frozenset[str],
    baseline: Suppressions | None,
    package: str | None,
) -> Finding:
    evidence = sorted(set(evidence), key=lambda e: e.sort_key())
    kept = tuple(evidence[:MAX_EVIDENCE])
    # a delete or write needs its permission as a read does (WRITE_CALL_LOG; the SMS store)
    dormant = bool(rule.effect in ("reads", "deletes", "writes") and rule.requires_permission) and not (
        permissions & set(rule.requires_permission)
    )
    severity = rule.severity
    message = rule.message
    if dormant:
        # The code cannot work without the permission: report it, never gate on it.
        severity = min(severity, Severity.LOW)
        message += f" The app does not declare {' or '.join(rule.requires_permission)}, so this code cannot work."
    return Finding(
        rule_id=rule.id,
        title=rule.title,
        severity=severity,
        confidence=rule.confidence,
        data_class=rule.data_class,
        effect=rule.effect,
        message=message,
        dormant=dormant,
        evidence=kept,
        evidence_total=len(evidence),
        owners=owners_of(kept),
        # a baseline accepts the sites reported (the kept evidence), as it did the earlier report's
        suppression=baseline.suppression(rule.id, sorted({e.site for e in kept}), package) if baseline else None,
    )


def _drop_excepted(rule: Rule, evidence: list[Evidence], ctx: MatchContext) -> list[Evidence]:
    """Drop code evidence in methods that also match the rule's ``except_in_methods_with``."""
    assert rule.except_kind is not None
    excepted = {e.method_key for e in MATCHERS[rule.except_kind](rule.except_match, ctx) if e.method is not None}
    return [e for e in evidence if e.method is None or e.method_key not in excepted]


def evaluate(
    ruleset: Ruleset,
    app: AppInfo,
    code: CodeIndex,
    harvest: HarvestFacts | None = None,
    *,
    owners: Owners | None = None,
    baseline: Suppressions | None = None,
) -> EngineResult:
    """Every rule of ``ruleset`` over the app; a rule that fails becomes an error entry.

    Each finding is made once, complete: its code evidence gets its owner from
    ``owners`` as the matcher makes it (the invoked class's owner for a rule
    with ``attribute_to: callee``), and ``baseline`` decides its suppression.
    """
    ctx = MatchContext(app=app, code=code, harvest=harvest, owners=owners)
    by_callee = replace(ctx, callee=True)
    permissions = effective_permissions(app, ruleset.split_permissions)
    findings: list[Finding] = []
    errors: list[ScanErrorEntry] = []
    for rule in ruleset.rules:
        try:
            evidence = MATCHERS[rule.match_kind](rule.match, by_callee if rule.attribute_to == "callee" else ctx)
            if evidence and rule.except_kind is not None:
                evidence = _drop_excepted(rule, evidence, ctx)
            if evidence and rule.effect == "reads" and rule.match_kind in ("field", "string"):
                evidence = drop_write_only(harvest, rule.data_class, evidence)
        except Exception as exc:  # one broken rule must not cost the whole report
            errors.append(ScanErrorEntry(where=f"rule {rule.id}", message=f"{type(exc).__name__}: {exc}"))
            continue
        if evidence:
            findings.append(_finding(rule, evidence, permissions, baseline, app.package))
    findings.sort(key=lambda f: f.sort_key())
    return EngineResult(findings=tuple(findings), errors=tuple(errors))
