"""The library's entry point: ``scan(path) -> Report``. Never prints, never exits."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from appaudit import __version__, deadline
from appaudit.analysis.coverage import missing_class_reasons, signal_reasons
from appaudit.analysis.flows import CHAIN_DEPTH, harvest_facts
from appaudit.analysis.providers import ProviderClassifier
from appaudit.analysis.verdict import coverage_from, data_class_results, overall_verdict
from appaudit.apk import load_apk
from appaudit.apk.limits import DEFAULT_LIMITS, Limits
from appaudit.engine import evaluate
from appaudit.model import AppInfo, CodeIndex, CoverageReason, HarvestFacts, Report, RunInfo, ScanErrorEntry
from appaudit.ruleset import Ruleset, load_ruleset

TOOL_NAME = "appaudit"
#: Share of a --timeout budget the harvest-chain search may use; rule matching keeps the rest.
HARVEST_SHARE = 0.7

__all__ = ["Limits", "ScanOptions", "scan"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanOptions:
    """How to scan."""

    rules_dirs: Sequence[str | Path] = field(default_factory=tuple)
    """Extra rule directories, loaded after the bundled pack."""
    bundled_rules: bool = True
    chain_depth: int = CHAIN_DEPTH
    """Method hops searched from a read to a sink (see analysis.flows.CHAIN_DEPTH)."""
    limits: Limits = DEFAULT_LIMITS
    """Size, ratio and nesting limits for reading the input (see apk.limits)."""
    timeout: float | None = None
    """Seconds the scan may take before it reports what it has (coverage reason ``timeout``); None: no cap."""


def _harvest(
    app: AppInfo, code: CodeIndex, ruleset: Ruleset, depth: int
) -> tuple[HarvestFacts | None, tuple[ScanErrorEntry, ...]]:
    """Harvest-chain analysis; a failure costs the chains, never the report."""
    try:
        return harvest_facts(app, code, ruleset.flows, ProviderClassifier(ruleset.rules), depth), ()
    except Exception as exc:  # the chain analysis must not lose the rule findings
        return None, (ScanErrorEntry(where="harvest chains", message=f"{type(exc).__name__}: {exc}"),)


def scan(path: str, options: ScanOptions | None = None, *, ruleset: Ruleset | None = None) -> Report:
    """Scan one APK or split bundle. Raises InputError for a file that is neither, RuleError for bad rules.

    With ``options.timeout`` the scan stops searching when the cap passes (a
    cooperative deadline, see ``appaudit.deadline``) and reports what it found
    with coverage reason ``timeout``.
    """
    options = options or ScanOptions()
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    if ruleset is None:
        ruleset = load_ruleset(options.rules_dirs, bundled=options.bundled_rules)
    with deadline.time_cap(options.timeout):
        facts = load_apk(path, options.limits)
        with deadline.phase(HARVEST_SHARE):
            harvest, harvest_errors = _harvest(facts.app, facts.code, ruleset, options.chain_depth)
        result = evaluate(ruleset, facts.app, facts.code, harvest)
        hidden = signal_reasons(facts.app, facts.code, ruleset.coverage_signals)
        hidden += missing_class_reasons(facts.app, facts.code)
        hidden += facts.code.damage_reasons()
        stopped = deadline.stopped()
    if stopped:
        hidden.append(
            CoverageReason(
                code="timeout",
                detail=f"the {options.timeout:g} s time cap passed during: {', '.join(stopped)}; "
                "only what was found before it is reported",
            )
        )
    dex_errors = tuple(
        ScanErrorEntry(where=where, message=msg) for where, msg in facts.code.errors + facts.code.text_errors
    )
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
    )
