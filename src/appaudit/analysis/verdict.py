"""From findings to the per-data-class answer and the app's verdict.

A data class leaves the device (level ``exfiltrated``, or ``harvested`` with bulk reads) by the
channels (network, SMS) of its chains whose data flow was confirmed (``analysis.taint``); when
none is confirmed and the reads are bulk, by those of any chain. Measured on the corpus
(bench/evaluate.py, depth 3): counting every chain gives exfiltrates F1 0.91 with one false
positive (a single SMS read linked to an unrelated upload); counting confirmed chains only, 0.88;
this rule, 0.93 with none, and the channels reported agree exactly with the hand traces in 34 of
65 cases (27 when every reachable channel is reported).
"""

from __future__ import annotations

from collections.abc import Sequence

from appaudit.analysis.facts import LEAVES_DEVICE, HarvestFacts, counted_chains, is_bulk
from appaudit.apk.app import AppInfo
from appaudit.engine.evaluate import effective_permissions
from appaudit.model import DATA_CLASSES, PROTECTED_CLASSES, CoverageStatus, Level, Verdict, owners_of
from appaudit.report.model import Coverage, CoverageReason, DataClassResult, Finding
from appaudit.ruleset import Ruleset

#: Coverage reasons that make even the permissions uncertain: hidden code may then hold any of them.
PERMISSIONS_UNCERTAIN = frozenset({"manifest_unreadable"})


def data_class_results(findings: Sequence[Finding], harvest: HarvestFacts | None = None) -> dict[str, DataClassResult]:
    """One :class:`DataClassResult` per data class, in ``DATA_CLASSES`` order."""
    harvest = harvest or HarvestFacts()
    results: dict[str, DataClassResult] = {}
    for dc in DATA_CLASSES:
        mine = [f for f in findings if f.data_class == dc]
        declares = [f for f in mine if f.effect == "declares"]
        reads = [f for f in mine if f.effect == "reads"]
        declared = bool(declares)
        read = any(not f.dormant for f in reads)
        dormant = not read and any(f.dormant for f in reads)
        chains = tuple(c for c in harvest.chains if c.data_class == dc)
        bulk = is_bulk(harvest, dc)
        channels = tuple(sorted({c.channel for c in counted_chains(harvest, dc)}))
        leaves = any(ch in LEAVES_DEVICE for ch in channels)
        startup = tuple(p for p in harvest.startup if p.data_class == dc)
        if read and bulk and leaves:
            level = Level.HARVESTED
        elif read and leaves:
            level = Level.EXFILTRATED
        elif read and bulk:
            level = Level.BULK
        elif read:
            level = Level.READ
        elif dormant:
            level = Level.DORMANT
        elif declared:
            level = Level.DECLARED
        else:
            level = Level.NONE
        results[dc] = DataClassResult(
            declared=declared,
            permissions=tuple(sorted({e.value for f in declares for e in f.evidence if e.kind == "permission"})),
            read=read,
            dormant=dormant,
            level=level,
            severity=max((f.severity for f in mine), default=None),
            rule_ids=tuple(sorted({f.rule_id for f in mine})),
            bulk=bulk,
            exfiltrated=channels,
            at_startup=any(p.at_startup for p in harvest.triggers if p.data_class == dc),
            chains=chains,
            startup_paths=startup,
            triggers=tuple(p for p in harvest.triggers if p.data_class == dc),
            accesses=tuple(a for a in harvest.accesses if a.data_class == dc),
            incoming=harvest.incoming if dc == "sms" else (),
            writes=tuple(w for w in harvest.writes if w.data_class == dc),
            owners=owners_of(
                [e for f in reads if not f.dormant for e in f.evidence] + [e for c in chains for e in (c.read, c.sink)]
            ),
        )
    return results


def coverage_from(reasons: Sequence[CoverageReason], dex_count: int) -> Coverage:
    """``blind`` when no code could be read, ``partial`` when some could not."""
    ordered = tuple(sorted(set(reasons), key=lambda r: (r.code, r.detail)))
    if dex_count == 0:
        return Coverage(status=CoverageStatus.BLIND, reasons=ordered)
    if ordered:
        return Coverage(status=CoverageStatus.PARTIAL, reasons=ordered)
    return Coverage(status=CoverageStatus.COMPLETE)


def granting_permissions(ruleset: Ruleset) -> dict[str, frozenset[str]]:
    """Per protected data class, the permissions that grant it in ``ruleset``.

    Those its ``declares`` rules match and those its ``reads`` rules require:
    the one permission-to-class mapping the rules already carry.
    """
    granted: dict[str, set[str]] = {dc: set() for dc in PROTECTED_CLASSES}
    for rule in ruleset.rules:
        if rule.data_class not in granted:
            continue
        granted[rule.data_class].update(rule.requires_permission)
        if rule.match_kind == "permission":
            granted[rule.data_class].update(rule.match.get("any", ()))
    return {dc: frozenset(perms) for dc, perms in granted.items()}


def granted_protected_classes(app: AppInfo, ruleset: Ruleset) -> frozenset[str]:
    """The protected data classes some permission of the app grants, Android's implicit grants included.

    Code loaded at run time runs with the manifest's permissions only, so these
    are the classes hidden code could read.
    """
    have = effective_permissions(app, ruleset.split_permissions)
    return frozenset(dc for dc, perms in granting_permissions(ruleset).items() if have & perms)


def overall_verdict(results: dict[str, DataClassResult], coverage: Coverage, *, granted: frozenset[str]) -> Verdict:
    """The app's verdict from the protected classes (contacts, SMS, call log).

    ``harvests`` needs a protected class at level ``harvested``: read in bulk **and** sent off the
    device (network or SMS). A bulk read that stays on the device (a dialer listing the call log)
    or a single item sent (one looked-up contact) is ``at_risk``, its findings at their own
    severities: harvesting is not proven.
    Anything short of a working read is ``inconclusive`` when part of the code
    could not be seen *and* that code could reach protected data: ``granted``
    (the protected classes the app's permissions grant, see
    :func:`granted_protected_classes`) is not empty, or the manifest itself was
    unreadable. Otherwise hidden code has no permission to read them and the
    verdict follows what was seen; coverage still says ``partial`` and why.
    """
    protected = [results[dc] for dc in DATA_CLASSES if dc in PROTECTED_CLASSES]
    if any(r.level is Level.HARVESTED for r in protected):
        return Verdict.HARVESTS
    if any(r.read for r in protected):
        return Verdict.AT_RISK
    uncertain = any(r.code in PERMISSIONS_UNCERTAIN for r in coverage.reasons)
    if coverage.status is not CoverageStatus.COMPLETE and (uncertain or granted):
        return Verdict.INCONCLUSIVE
    if any(r.dormant for r in protected):
        return Verdict.DORMANT_CODE
    if any(r.declared for r in protected):
        return Verdict.DECLARED_ONLY
    return Verdict.NO_EVIDENCE
