"""The library's entry point: ``scan(path) -> Report``. Never prints, never exits."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from appaudit import __version__
from appaudit.analysis.coverage import missing_class_reasons, signal_reasons
from appaudit.analysis.flows import CHAIN_DEPTH, harvest_facts
from appaudit.analysis.providers import ProviderClassifier
from appaudit.analysis.verdict import coverage_from, data_class_results, overall_verdict
from appaudit.apk import load_apk
from appaudit.engine import evaluate
from appaudit.errors import RuleError
from appaudit.model import AppInfo, CodeIndex, HarvestFacts, Report, RuleInfo, RunInfo, ScanErrorEntry
from appaudit.ruleset import Rule, Ruleset, load_ruleset
from appaudit.ruleset.docs import rule_info

TOOL_NAME = "appaudit"


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanOptions:
    """How to scan."""

    rules_dirs: Sequence[str | Path] = field(default_factory=tuple)
    """Extra rule directories, loaded after the bundled pack."""
    bundled_rules: bool = True
    chain_depth: int = CHAIN_DEPTH
    """Method hops searched from a read to a sink (see analysis.flows.CHAIN_DEPTH)."""


def _harvest(
    app: AppInfo, code: CodeIndex, ruleset: Ruleset, depth: int
) -> tuple[HarvestFacts | None, tuple[ScanErrorEntry, ...]]:
    """Harvest-chain analysis; a failure costs the chains, never the report."""
    try:
        return harvest_facts(app, code, ruleset.flows, ProviderClassifier(ruleset.rules), depth), ()
    except Exception as exc:  # the chain analysis must not lose the rule findings
        return None, (ScanErrorEntry(where="harvest chains", message=f"{type(exc).__name__}: {exc}"),)


@cache
def _bundled_rules() -> dict[str, Rule]:
    return {r.id: r for r in load_ruleset().rules}


def rule_infos(ruleset: Ruleset) -> tuple[RuleInfo, ...]:
    """Every rule of ``ruleset`` as a report carries it; the bundled pack's rules are marked documented."""
    try:
        bundled = _bundled_rules()
    except RuleError:  # a broken bundled pack only costs the documentation links
        bundled = {}
    return tuple(rule_info(r, documented=bundled.get(r.id) == r) for r in ruleset.rules)


def scan(path: str, options: ScanOptions | None = None, *, ruleset: Ruleset | None = None) -> Report:
    """Scan one APK. Raises InputError for a file that is not an APK, RuleError for bad rules."""
    options = options or ScanOptions()
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    if ruleset is None:
        ruleset = load_ruleset(options.rules_dirs, bundled=options.bundled_rules)
    facts = load_apk(path)
    harvest, harvest_errors = _harvest(facts.app, facts.code, ruleset, options.chain_depth)
    result = evaluate(ruleset, facts.app, facts.code, harvest)
    dex_errors = tuple(ScanErrorEntry(where=dex, message=msg) for dex, msg in facts.code.errors)
    hidden = signal_reasons(facts.app, facts.code, ruleset.coverage_signals)
    hidden += missing_class_reasons(facts.app, facts.code)
    coverage = coverage_from(facts.coverage_reasons + tuple(hidden), len(facts.app.dex_files))
    classes = data_class_results(result.findings, harvest)
    return Report(
        tool_name=TOOL_NAME,
        tool_version=__version__,
        ruleset_sha256=ruleset.sha256,
        app=facts.app,
        data_classes=classes,
        verdict=overall_verdict(classes, coverage),
        findings=result.findings,
        coverage=coverage,
        errors=tuple(
            sorted(facts.errors + result.errors + dex_errors + harvest_errors, key=lambda e: (e.where, e.message))
        ),
        harvest=harvest,
        run=RunInfo(
            started_at=started.isoformat(timespec="seconds").replace("+00:00", "Z"),
            duration_s=round(time.perf_counter() - t0, 3),
        ),
        input_path=path,
        rules=rule_infos(ruleset),
    )
