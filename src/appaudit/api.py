"""The library's entry point: ``scan(path) -> Report``. Never prints, never exits."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from appaudit import __version__, deadline
from appaudit.analysis.attribution import Attributor
from appaudit.analysis.coverage import (
    missing_class_reasons,
    native_code_reasons,
    reflection_reasons,
    signal_reasons,
)
from appaudit.analysis.depth import CHAIN_DEPTH
from appaudit.analysis.facts import HarvestFacts
from appaudit.analysis.fingerprints import app_fingerprints
from appaudit.analysis.flows import harvest_facts
from appaudit.analysis.providers import ProviderClassifier
from appaudit.analysis.verdict import coverage_from, data_class_results, granted_protected_classes, overall_verdict
from appaudit.apk import load_apk
from appaudit.apk.app import AppInfo
from appaudit.apk.dex.types import CodeIndex
from appaudit.apk.limits import DEFAULT_LIMITS, Limits
from appaudit.apk.source import read_input, supplied
from appaudit.engine import evaluate
from appaudit.errors import InputError, RuleError
from appaudit.policy import evaluate_policies, select_packs
from appaudit.report.model import CoverageReason, DataClassMap, Report, RuleInfo, RunInfo, ScanErrorEntry
from appaudit.ruleset import Rule, Ruleset, load_ruleset
from appaudit.ruleset.docs import rule_info
from appaudit.urls import redact

TOOL_NAME = "appaudit"
#: Share of a --timeout budget the harvest-chain search may use; rule matching keeps the rest.
HARVEST_SHARE = 0.7

__all__ = ["Limits", "ScanOptions", "fetch_input", "scan"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanOptions:
    """How to scan."""

    rules_dirs: Sequence[str | Path] = field(default_factory=tuple)
    """Extra rule directories, loaded after the bundled pack."""
    bundled_rules: bool = True
    chain_depth: int = CHAIN_DEPTH
    """Method hops searched from a read to a sink (default ``analysis.depth.CHAIN_DEPTH``, shared by every command)."""
    policies: Sequence[str] | None = None
    """Policy pack ids to evaluate; None: all; empty: none."""
    deterministic: bool = False
    """Leave out the run block (start time, duration) so two scans are byte-identical."""
    limits: Limits = DEFAULT_LIMITS
    """Size, ratio and nesting limits for reading the input (see apk.limits)."""
    timeout: float | None = None
    """Seconds the scan may take before it reports what it has (coverage reason ``timeout``); None: no cap."""
    data_safety: str | None = None
    """A Data safety declaration (Play Console CSV or declaration form) to hold against the code."""
    privacy_policy: str | None = None
    """A privacy policy (text, HTML or PDF) to hold against the code."""
    declarations_dir: str | None = None
    """A folder of declarations named by package (``declarations.find_declarations``), looked up once the
    APK's package is known; used for what ``data_safety``/``privacy_policy`` do not give."""

    def describe(self) -> dict[str, object]:
        """The options as recorded in the report (provenance)."""
        return {
            "rules_dirs": [str(d) for d in self.rules_dirs],
            "bundled_rules": self.bundled_rules,
            "chain_depth": self.chain_depth,
            "policies": list(self.policies) if self.policies is not None else None,
            "timeout": self.timeout,
            # only when given, so a report without a declaration is unchanged
            **({"data_safety": self.data_safety} if self.data_safety else {}),
            **({"privacy_policy": self.privacy_policy} if self.privacy_policy else {}),
            **({"declarations_dir": self.declarations_dir} if self.declarations_dir else {}),
        }


def _harvest(
    app: AppInfo, code: CodeIndex, ruleset: Ruleset, attributor: Attributor, depth: int
) -> tuple[HarvestFacts | None, tuple[ScanErrorEntry, ...]]:
    """Harvest-chain analysis; a failure costs the chains, never the report."""
    try:
        return harvest_facts(app, code, ruleset.flows, ProviderClassifier(ruleset.rules), attributor, depth), ()
    except Exception as exc:  # the chain analysis must not lose the rule findings
        return None, (ScanErrorEntry(where="harvest chains", message=f"{type(exc).__name__}: {exc}"),)


@cache
def _bundled_rules() -> dict[str, Rule]:
    bundled = load_ruleset()
    return {r.id: r for r in bundled.rules + bundled.declaration_rules}


def rule_infos(ruleset: Ruleset, *, declarations: bool = False) -> tuple[RuleInfo, ...]:
    """Every rule of ``ruleset`` as a report carries it (with the declaration rules when a declaration
    was compared); the bundled pack's rules are marked documented."""
    try:
        bundled = _bundled_rules()
    except RuleError:  # a broken bundled pack only costs the documentation links
        bundled = {}
    rules = sorted(ruleset.rules + ruleset.declaration_rules, key=lambda r: r.id) if declarations else ruleset.rules
    return tuple(rule_info(r, documented=bundled.get(r.id) == r) for r in rules)


def fetch_input(path: str, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """The bytes of the input at ``path`` (a local path or a URL), bounded by ``limits``; InputError when unreadable."""
    return read_input(path, limits)


def scan(
    path: str, options: ScanOptions | None = None, *, ruleset: Ruleset | None = None, data: bytes | None = None
) -> Report:
    """Scan one APK or split bundle. Raises InputError for a file that is neither, RuleError for bad rules.

    ``path`` may be a URL (``s3://``, ``https://``, ...; see ``appaudit.urls``):
    the report names it without user info or query, and hashes the bytes read.
    ``data``: the input's bytes, already read (by :func:`fetch_input`), scanned
    as the input at ``path`` instead of reading it again.

    With ``options.timeout`` the scan stops searching when the cap passes (a
    cooperative deadline, see ``appaudit.deadline``) and reports what it found
    with coverage reason ``timeout``.
    """
    options = options or ScanOptions()
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    if ruleset is None:
        ruleset = load_ruleset(options.rules_dirs, bundled=options.bundled_rules)
    # imported only when asked for: a scan without a declaration costs nothing more
    wants_declarations = bool(options.data_safety or options.privacy_policy or options.declarations_dir)
    if wants_declarations:
        from appaudit.declarations import compare_declarations, find_declarations, read_declarations
    # read before the APK, so a bad declaration file fails at once
    declared = (
        read_declarations(ruleset, options.data_safety, options.privacy_policy)
        if options.data_safety or options.privacy_policy
        else None
    )
    with deadline.time_cap(options.timeout):
        try:
            with supplied(path, data) if data is not None else contextlib.nullcontext():
                facts = load_apk(path, options.limits)
        except InputError as exc:  # a URL's secrets (user info, query) never reach the message
            if exc.path == path and redact(path) != path:
                raise InputError(redact(path), exc.reason) from None
            raise
        attributor = Attributor(facts.app, ruleset.sdks)
        if declared is None and options.declarations_dir:
            found_ds, found_policy = find_declarations(options.declarations_dir, facts.app.package)
            if found_ds or found_policy:
                declared = read_declarations(ruleset, found_ds, found_policy)
        with deadline.phase(HARVEST_SHARE):
            harvest, harvest_errors = _harvest(facts.app, facts.code, ruleset, attributor, options.chain_depth)
        result = evaluate(ruleset, facts.app, facts.code, harvest)
        hidden = signal_reasons(facts.app, facts.code, ruleset.coverage_signals)
        hidden += missing_class_reasons(facts.app, facts.code)
        sdk_prefixes = [p for sdk in ruleset.sdks for p in sdk.prefixes]
        hidden += native_code_reasons(facts.app, facts.code, sdk_prefixes)
        hidden += reflection_reasons(facts.code, sdk_prefixes)
        hidden += facts.code.damage_reasons()
        stopped = deadline.stopped()
    by_callee = {r.id for r in ruleset.rules if r.attribute_to == "callee"}
    findings = tuple(attributor.finding(f, callee=f.rule_id in by_callee) for f in result.findings)
    if harvest is not None and harvest.search_truncated:
        hidden.append(
            CoverageReason(
                code="search_budget",
                detail="the chain and start-up searches visited their limit of methods "
                "(analysis.flows.MAX_TOTAL_VISITS); some reads were not followed to a sink or an entry point",
            )
        )
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
    classes = data_class_results(findings, harvest)
    declarations = None
    if declared is not None:
        contradictions, declarations = compare_declarations(ruleset, declared, classes, findings)
        findings = tuple(sorted(findings + contradictions, key=lambda f: f.sort_key()))
    packs = select_packs(ruleset.policy_packs, tuple(options.policies or ())) if options.policies != () else ()
    return Report(
        tool_name=TOOL_NAME,
        tool_version=__version__,
        ruleset_sha256=ruleset.sha256,
        app=facts.app,
        data_classes=DataClassMap(classes),
        verdict=overall_verdict(classes, coverage, granted=granted_protected_classes(facts.app, ruleset)),
        findings=findings,
        coverage=coverage,
        errors=tuple(
            sorted(facts.errors + result.errors + dex_errors + harvest_errors, key=lambda e: (e.where, e.message))
        ),
        policies=evaluate_policies(packs, classes, findings),
        declarations=declarations,
        run=None
        if options.deterministic
        else RunInfo(
            started_at=started.isoformat(timespec="seconds").replace("+00:00", "Z"),
            duration_s=round(time.perf_counter() - t0, 3),
        ),
        options=options.describe(),
        input_path=redact(path),
        rules=rule_infos(ruleset, declarations=declared is not None),
        fingerprints=app_fingerprints(
            facts.code, harvest, facts.app.signer_sha256, (e for f in findings for e in f.evidence)
        ),
    )
