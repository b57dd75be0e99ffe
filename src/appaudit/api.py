"""The library's entry point: ``scan(path) -> Report``. Never prints, never exits.

A scan is the sequence of stages in :mod:`appaudit.pipeline` (load, attribute,
analyse, match, inspect, judge, fingerprint, report); :func:`scan` runs them in order.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from appaudit import deadline
from appaudit.analysis.depth import CHAIN_DEPTH
from appaudit.apk.limits import DEFAULT_LIMITS, Limits
from appaudit.apk.source import read_input
from appaudit.engine.evaluate import Suppressions
from appaudit.pipeline import Diagnostics, stages
from appaudit.pipeline.collection import collection_paused
from appaudit.report.model import Report, RunInfo
from appaudit.ruleset import Ruleset, load_ruleset

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
    baseline: Suppressions | None = None
    """Findings accepted earlier (``history.baseline.load_baseline``): each finding it covers is reported
    suppressed. Not recorded in the report's options."""
    data_safety: str | None = None
    """A Data safety declaration (Play Console CSV or declaration form) to hold against the code."""
    privacy_policy: str | None = None
    """A privacy policy (text, HTML or PDF) to hold against the code."""
    declarations_dir: str | None = None
    """A folder of declarations named by package (``declarations.find_declarations``), looked up once the
    APK's package is known; used for what ``data_safety``/``privacy_policy`` do not give."""
    with_code: bool = False
    """Give each code evidence entry its source file and line and a smali excerpt (``Report.code``; at most
    ``apk.dex.report_code.MAX_REPORT_EXCERPTS`` excerpts). Off: nothing is decoded and the report is unchanged."""

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
            **({"with_code": True} if self.with_code else {}),
        }


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
    with collection_paused():  # why: appaudit.pipeline.collection
        return _scan(path, options or ScanOptions(), ruleset, data)


def _scan(path: str, options: ScanOptions, ruleset: Ruleset | None, data: bytes | None) -> Report:
    """:func:`scan`'s stages, in order."""
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    if ruleset is None:
        ruleset = load_ruleset(options.rules_dirs, bundled=options.bundled_rules)
    diagnostics = Diagnostics()
    declared = stages.declared(ruleset, options.data_safety, options.privacy_policy)
    with deadline.time_cap(options.timeout) as cap:
        loaded = stages.load(path, options.limits, diagnostics, data=data)
        if declared is None and options.declarations_dir:
            declared = stages.declared_for(ruleset, options.declarations_dir, loaded.app.package)
        owners = stages.attribute(loaded, ruleset)
        analysed = stages.analyse(loaded, ruleset, owners, options.chain_depth, diagnostics)
        matched = stages.match(loaded, ruleset, analysed, owners, options.baseline, diagnostics)
        stages.inspect(loaded, ruleset, diagnostics)
    stages.timed_out(cap, diagnostics)
    found = diagnostics.result()
    judged = stages.judge(loaded, ruleset, analysed, matched, found, options.policies, declared, options.baseline)
    run = None
    if not options.deterministic:
        run = RunInfo(
            started_at=started.isoformat(timespec="seconds").replace("+00:00", "Z"),
            duration_s=round(time.perf_counter() - t0, 3),
        )
    prints = stages.fingerprint(loaded, analysed, judged)
    code = stages.code(loaded, judged, asked=options.with_code)
    return stages.report(path, ruleset, loaded, judged, prints, found, options=options.describe(), run=run, code=code)
