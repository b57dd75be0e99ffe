"""The stages of one scan, in the order ``api.scan`` runs them.

Each stage takes the values the earlier ones made and returns one frozen value
(the attribute stage returns the :class:`Attributor`, which only caches
answers); what a stage learns the scan could not see or do it reports to the
scan's :class:`Diagnostics` itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache
from typing import TYPE_CHECKING

from appaudit import __version__, deadline
from appaudit.analysis.attribution import Attributor
from appaudit.analysis.coverage import (
    missing_class_reasons,
    native_code_reasons,
    reflection_reasons,
    signal_reasons,
)
from appaudit.analysis.facts import HarvestFacts
from appaudit.analysis.fingerprint_types import Fingerprints
from appaudit.analysis.fingerprints import app_fingerprints
from appaudit.analysis.flows import harvest_facts
from appaudit.analysis.providers import ProviderClassifier
from appaudit.analysis.verdict import coverage_from, data_class_results, granted_protected_classes, overall_verdict
from appaudit.apk import load_apk
from appaudit.apk.app import AppInfo
from appaudit.apk.dex.index import DexCodeIndex
from appaudit.apk.limits import Limits
from appaudit.apk.source import supplied
from appaudit.engine import evaluate
from appaudit.engine.evaluate import Suppressions
from appaudit.errors import InputError, RuleError
from appaudit.model import Verdict
from appaudit.pipeline.diagnostics import Diagnostics, DiagnosticsResult
from appaudit.policy import evaluate_policies, select_packs
from appaudit.report.model import CodeNotes, Coverage, DataClassMap, Finding, PolicyResult, Report, RuleInfo, RunInfo
from appaudit.ruleset import Rule, Ruleset, load_ruleset
from appaudit.ruleset.docs import rule_info
from appaudit.urls import redact

if TYPE_CHECKING:  # appaudit.declarations is imported only by a scan given a declaration
    from appaudit.declarations import DeclarationReport, Declared

TOOL_NAME = "appaudit"

#: Share of a --timeout budget the harvest-chain search may use; rule matching keeps the rest.
HARVEST_SHARE = 0.7


@dataclass(frozen=True, slots=True, kw_only=True)
class Loaded:
    """The input, read."""

    app: AppInfo
    """Identity, manifest and entries of the app."""
    code: DexCodeIndex
    """The index over every DEX file that could be reached; it decodes on demand, and records what it could not."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Analysed:
    """What the harvest-chain analysis proved."""

    harvest: HarvestFacts | None
    """Provider accesses, chains to sinks and start-up paths, their evidence attributed; None: the analysis failed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Matched:
    """What the rules found."""

    findings: tuple[Finding, ...]
    """Sorted, each attributed and (under a baseline) marked suppressed as it was made."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Judged:
    """The answers: coverage, per data class, for the app, per policy."""

    findings: tuple[Finding, ...]
    """The rules' findings and the declarations' contradiction findings, sorted."""
    coverage: Coverage
    """``complete``, ``partial`` or ``blind``, with the reasons the stages reported."""
    data_classes: DataClassMap
    """One answer per data class, in ``DATA_CLASSES`` order."""
    verdict: Verdict
    policies: tuple[PolicyResult, ...]
    """One result per selected policy pack."""
    declarations: DeclarationReport | None = None
    """How the declarations given compare with the code (None: none was given)."""


def declared(ruleset: Ruleset, data_safety: str | None, privacy_policy: str | None) -> Declared | None:
    """The declarations given, read before the APK so that a bad file fails at once (None: none given)."""
    if not (data_safety or privacy_policy):
        return None
    from appaudit.declarations import read_declarations

    return read_declarations(ruleset, data_safety, privacy_policy)


def declared_for(ruleset: Ruleset, directory: str, package: str | None) -> Declared | None:
    """The declarations a folder holds for ``package`` (``declarations.find_declarations``; None: none)."""
    from appaudit.declarations import find_declarations

    data_safety, policy = find_declarations(directory, package)
    return declared(ruleset, data_safety, policy)


def load(path: str, limits: Limits, diagnostics: Diagnostics, *, data: bytes | None = None) -> Loaded:
    """Read the APK or bundle at ``path`` (InputError when it is neither; a URL's secrets never in its message),
    or ``data`` as that input when given; what could not be read is reported."""
    try:
        with supplied(path, data) if data is not None else contextlib.nullcontext():
            facts = load_apk(path, limits)
    except InputError as exc:  # a URL's secrets (user info, query) never reach the message
        if exc.path == path and redact(path) != path:
            raise InputError(redact(path), exc.reason) from None
        raise
    diagnostics.add_reasons(facts.coverage_reasons)
    diagnostics.add_errors(facts.errors)
    return Loaded(app=facts.app, code=facts.code)


def attribute(loaded: Loaded, ruleset: Ruleset) -> Attributor:
    """The one owner lookup of the scan: the analysis and the rules give each piece of evidence its owner with it."""
    return Attributor(loaded.app, ruleset.sdks)


def analyse(loaded: Loaded, ruleset: Ruleset, owners: Attributor, depth: int, diagnostics: Diagnostics) -> Analysed:
    """Harvest chains up to ``depth`` hops, in ``HARVEST_SHARE`` of the time left; a failure costs the chains only."""
    try:
        with deadline.phase(HARVEST_SHARE):
            classifier = ProviderClassifier(ruleset.rules)
            facts = harvest_facts(loaded.app, loaded.code, ruleset.flows, classifier, owners, depth)
    except Exception as exc:  # the chain analysis must not lose the rule findings
        diagnostics.add_error("harvest chains", f"{type(exc).__name__}: {exc}")
        return Analysed(harvest=None)
    if facts.search_truncated:
        diagnostics.add_reason(
            "search_budget",
            "the chain and start-up searches visited their limit of methods "
            "(analysis.flows.MAX_TOTAL_VISITS); some reads were not followed to a sink or an entry point",
        )
    return Analysed(harvest=facts)


def match(
    loaded: Loaded,
    ruleset: Ruleset,
    analysed: Analysed,
    owners: Attributor,
    baseline: Suppressions | None,
    diagnostics: Diagnostics,
) -> Matched:
    """Every rule over the app; a rule that fails is reported and costs only its own finding."""
    result = evaluate(ruleset, loaded.app, loaded.code, analysed.harvest, owners=owners, baseline=baseline)
    diagnostics.add_errors(result.errors)
    return Matched(findings=result.findings)


def inspect(loaded: Loaded, ruleset: Ruleset, diagnostics: Diagnostics) -> None:
    """Report the code the scan cannot see: hidden-code signs, then what the code index could not read.

    The last stage to query the code, so the index's record of damage is complete.
    """
    app, code = loaded.app, loaded.code
    sdk_prefixes = [p for sdk in ruleset.sdks for p in sdk.prefixes]
    diagnostics.add_reasons(signal_reasons(app, code, ruleset.coverage_signals))
    diagnostics.add_reasons(missing_class_reasons(app, code))
    diagnostics.add_reasons(native_code_reasons(app, code, sdk_prefixes))
    diagnostics.add_reasons(reflection_reasons(code, sdk_prefixes))
    diagnostics.add_reasons(code.damage_reasons())
    for where, message in code.errors + code.text_errors:
        diagnostics.add_error(where, message)


def timed_out(cap: deadline.TimeCap, diagnostics: Diagnostics) -> None:
    """Report what stopped early because the scan's time cap passed."""
    stopped = cap.stopped()
    if stopped and cap.seconds is not None:
        diagnostics.add_reason(
            "timeout",
            f"the {cap.seconds:g} s time cap passed during: {', '.join(stopped)}; "
            "only what was found before it is reported",
        )


def judge(
    loaded: Loaded,
    ruleset: Ruleset,
    analysed: Analysed,
    matched: Matched,
    diagnostics: DiagnosticsResult,
    policies: Sequence[str] | None,
    declared: Declared | None = None,
    baseline: Suppressions | None = None,
) -> Judged:
    """Coverage, the per-data-class answers, the verdict, the ``declared`` declarations held against them and
    the ``policies`` packs (None: all; empty: none)."""
    coverage = coverage_from(diagnostics.reasons, len(loaded.app.dex_files))
    classes = data_class_results(matched.findings, analysed.harvest)
    findings, declarations = matched.findings, None
    if declared is not None:
        from appaudit.declarations import compare_declarations

        contradictions, declarations = compare_declarations(ruleset, declared, classes, findings)
        if baseline is not None:
            # declarations/ makes its findings without a baseline: mark the accepted ones here
            package = loaded.app.package
            contradictions = tuple(
                replace(f, suppression=baseline.suppression(f.rule_id, f.sites(), package)) for f in contradictions
            )
        findings = tuple(sorted(findings + contradictions, key=lambda f: f.sort_key()))
    packs = select_packs(ruleset.policy_packs, tuple(policies or ())) if policies != () else ()
    return Judged(
        findings=findings,
        coverage=coverage,
        data_classes=DataClassMap(classes),
        verdict=overall_verdict(classes, coverage, granted=granted_protected_classes(loaded.app, ruleset)),
        policies=evaluate_policies(packs, classes, findings),
        declarations=declarations,
    )


def fingerprint(loaded: Loaded, analysed: Analysed, judged: Judged) -> Fingerprints:
    """What links the app to others: its chains' and read sites' code, endpoints, signers, the SDKs of its findings."""
    evidence = (e for f in judged.findings for e in f.evidence)
    return app_fingerprints(loaded.code, analysed.harvest, loaded.app.signer_sha256, evidence)


@cache
def _bundled_rules() -> dict[str, Rule]:
    bundled = load_ruleset()
    return {r.id: r for r in bundled.rules + bundled.declaration_rules}


#: rule_infos of the last rulesets asked for, by identity (each held, so that its id is not reused):
#: a batch or a long-lived caller scans with one ruleset, and its rules' infos (a markdown page each)
#: were most of the report stage.
_INFOS: dict[tuple[int, bool], tuple[Ruleset, tuple[RuleInfo, ...]]] = {}
_INFOS_KEPT = 4


def rule_infos(ruleset: Ruleset, *, declarations: bool = False) -> tuple[RuleInfo, ...]:
    """Every rule of ``ruleset`` as a report carries it (with the declaration rules when a declaration
    was compared); the bundled pack's rules are marked documented."""
    key = (id(ruleset), declarations)
    held = _INFOS.get(key)
    if held is not None and held[0] is ruleset:
        return held[1]
    infos = _rule_infos(ruleset, declarations=declarations)
    if len(_INFOS) >= _INFOS_KEPT:
        _INFOS.pop(next(iter(_INFOS)), None)
    _INFOS[key] = (ruleset, infos)
    return infos


def _rule_infos(ruleset: Ruleset, *, declarations: bool) -> tuple[RuleInfo, ...]:
    try:
        bundled = _bundled_rules()
    except RuleError:  # a broken bundled pack only costs the documentation links
        bundled = {}
    rules = ruleset.every_rule if declarations else ruleset.rules
    return tuple(rule_info(r, documented=bundled.get(r.id) == r) for r in rules)


def code(loaded: Loaded, judged: Judged, *, asked: bool) -> CodeNotes:
    """Source positions and excerpts of the report's code locations (``ScanOptions.with_code``), while the
    code index is open; empty when not asked, so such a report is unchanged and nothing is decoded."""
    if not asked:
        return CodeNotes()
    # imported only when asked for: a scan without --with-code decodes no debug info and no smali
    from appaudit.apk.dex.report_code import report_code

    return report_code(loaded.code, judged.findings, judged.data_classes)


def report(
    path: str,
    ruleset: Ruleset,
    loaded: Loaded,
    judged: Judged,
    fingerprints: Fingerprints,
    diagnostics: DiagnosticsResult,
    *,
    options: dict[str, object],
    run: RunInfo | None,
    code: CodeNotes | None = None,
) -> Report:
    """The report of the scan of ``path`` (named without a URL's secrets): ``options`` as recorded,
    ``run`` the timing (None: deterministic)."""
    return Report(
        tool_name=TOOL_NAME,
        tool_version=__version__,
        ruleset_sha256=ruleset.sha256,
        app=loaded.app,
        data_classes=judged.data_classes,
        verdict=judged.verdict,
        findings=judged.findings,
        coverage=judged.coverage,
        errors=diagnostics.errors,
        policies=judged.policies,
        declarations=judged.declarations,
        code=code if code is not None else CodeNotes(),
        run=run,
        options=options,
        input_path=redact(path),
        rules=rule_infos(ruleset, declarations=judged.declarations is not None),
        fingerprints=fingerprints,
    )
