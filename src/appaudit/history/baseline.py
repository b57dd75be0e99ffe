"""Baselines: findings a team has accepted, so that only new ones gate a pipeline.

A baseline is an earlier JSON report or a suppression file
(schemas/baseline.schema.json, YAML or JSON) whose entries each name a
``rule_id``, optionally a ``package``, a ``class`` and ``method`` (code) or an
``evidence`` (``permission: ...`` and other manifest-level evidence), and
always a ``reason``. A finding is suppressed when *every* one of its sites
(:attr:`appaudit.model.Evidence.site`: class and method, never offsets) is
covered by an entry, so a harvest that moves to, or spreads into, new code is
new; an entry with neither class nor evidence covers its rule everywhere.
Suppressed findings stay in the report, marked, and do not count for
``--fail-on``.

Baselines are pinned to the application package by default: ``appaudit
baseline`` writes the package into every entry (``any_package`` leaves it
out), and an earlier JSON report used as a baseline accepts its findings in
its own package only. A baseline made from one app must never silently
accept another app's findings.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from appaudit.errors import ConfigError, InputError
from appaudit.history.snapshot import Snapshot, check_report_document
from appaudit.report.model import Finding
from appaudit.resources import schema_path

BASELINE_VERSION = 1
HEADER = (
    "# appaudit baseline: findings accepted when it was made. A finding is suppressed\n"
    "# when every place it was found (class and method, or manifest evidence) is\n"
    "# listed for its rule; an entry with neither covers the rule everywhere.\n"
    "# Replace the reasons with real ones.\n"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Suppression:
    """One accepted finding site."""

    rule_id: str
    reason: str
    package: str | None = None
    """Only in this application package (None: any)."""
    class_name: str | None = None
    """Only for evidence in this class (None: anywhere)."""
    method: str | None = None
    """Only in this method of the class: a bare name (any overload) or name+prototype."""
    evidence: str | None = None
    """Only this manifest, zip or entry-point evidence, as ``kind: value``
    (e.g. ``permission: android.permission.READ_SMS``)."""

    def covers(self, rule_id: str, package: str | None, site: tuple[str, str]) -> bool:
        """Whether this entry accepts ``rule_id`` found at ``site`` in ``package``."""
        if rule_id != self.rule_id or (self.package is not None and self.package != package):
            return False
        if self.evidence is not None:
            return site == (self.evidence, "")
        if self.class_name is None:
            return True
        cls, method = site
        if cls != self.class_name:
            return False
        if self.method is None:
            return True
        return method == self.method or ("(" not in self.method and method.split("(", 1)[0] == self.method)

    def to_dict(self) -> dict[str, str]:
        out = {"rule_id": self.rule_id}
        if self.package is not None:
            out["package"] = self.package
        if self.class_name is not None:
            out["class"] = self.class_name
        if self.method is not None:
            out["method"] = self.method
        if self.evidence is not None:
            out["evidence"] = self.evidence
        out["reason"] = self.reason
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Baseline:
    """A set of accepted finding sites."""

    suppressions: tuple[Suppression, ...]
    source: str = ""
    """Where it was read from (for messages)."""

    @property
    def packages(self) -> frozenset[str]:
        """The packages its entries are pinned to (empty: every entry applies to any package)."""
        return frozenset(s.package for s in self.suppressions if s.package is not None)

    def foreign_to(self, package: str | None) -> bool:
        """Whether the baseline names packages and ``package`` is not one of them: it is another app's."""
        return bool(self.packages) and package not in self.packages

    def suppression(self, rule_id: str, sites: Sequence[tuple[str, str]], package: str | None) -> str | None:
        """The reason(s) that accept a finding of ``rule_id`` at every one of ``sites``
        (:meth:`Finding.sites`), None when one site is not accepted.

        The scan asks this as it makes each finding (``ScanOptions.baseline``)."""
        reasons: list[str] = []
        for site in sites or (("", ""),):
            entry = next((s for s in self.suppressions if s.covers(rule_id, package, site)), None)
            if entry is None:
                return None
            if entry.reason not in reasons:
                reasons.append(entry.reason)
        return "; ".join(reasons)

    def reason_for(self, finding: Finding, package: str | None) -> str | None:
        """The reason(s) that accept every site of ``finding``, None when one site is not accepted."""
        return self.suppression(finding.rule_id, finding.sites(), package)


def baseline_from_findings(
    findings: Iterable[Finding], *, reason: str, package: str | None = None, source: str = ""
) -> Baseline:
    """A baseline accepting exactly the sites of ``findings``: one entry per rule and site
    (class and method for code; ``evidence`` for permissions, components, entry points)."""
    entries: set[Suppression] = set()
    for f in findings:
        sites = f.sites()
        if not sites:
            entries.add(Suppression(rule_id=f.rule_id, reason=reason, package=package))
        for cls, method in sites:
            code = bool(method)
            entries.add(
                Suppression(
                    rule_id=f.rule_id,
                    reason=reason,
                    package=package,
                    class_name=cls if code else None,
                    method=method if code else None,
                    evidence=None if code else cls,
                )
            )
    return Baseline(
        suppressions=tuple(
            sorted(entries, key=lambda e: (e.rule_id, e.class_name or "", e.method or "", e.evidence or ""))
        ),
        source=source,
    )


def baseline_from_snapshot(snapshot: Snapshot, *, any_package: bool = False) -> Baseline:
    """The baseline of one scanned version: reason ``baseline of <apk sha256>``, pinned to its package
    unless ``any_package``."""
    return baseline_from_findings(
        snapshot.findings,
        reason=f"baseline of {snapshot.sha256}",
        package=None if any_package else snapshot.package,
        source=snapshot.source,
    )


def render_baseline(baseline: Baseline, *, fmt: str = "yaml") -> str:
    """The suppression file: YAML (with a header comment) or JSON; deterministic."""
    doc = {"version": BASELINE_VERSION, "suppressions": [s.to_dict() for s in baseline.suppressions]}
    if fmt == "json":
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    import yaml

    return HEADER + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=1000)


@cache
def _validator() -> Any:
    import jsonschema

    schema = json.loads(schema_path("baseline.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def _parse(text: str, path: str) -> Any:
    if text.lstrip("\ufeff \t\r\n").startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: line {exc.lineno}: invalid JSON: {exc.msg}") from exc
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(parse)"
        raise ConfigError(f"{path}: {where}: invalid YAML: {getattr(exc, 'problem', exc)}") from exc


def load_baseline(path: str | Path) -> Baseline:
    """Read a suppression file or an earlier JSON report. ConfigError (exit 4) names file and key."""
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"{where}: cannot read --baseline: {reason}") from exc
    doc = _parse(text, where)
    if isinstance(doc, dict) and "schema_version" in doc:
        try:
            report = check_report_document(doc, where)
        except InputError as exc:
            raise ConfigError(f"{where}: {exc.reason}") from exc
        snapshot = Snapshot.from_document(report, where)
        return baseline_from_findings(
            snapshot.findings,
            reason=f"in the baseline report of {snapshot.sha256}",
            package=snapshot.package,
            source=where,
        )
    errors = sorted(_validator().iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        key = ".".join(str(p) for p in errors[0].absolute_path) or "(top level)"
        raise ConfigError(f"{where}: {key}: {errors[0].message}")
    return Baseline(
        suppressions=tuple(
            Suppression(
                rule_id=item["rule_id"],
                reason=item["reason"].strip(),
                package=item.get("package"),
                class_name=item.get("class"),
                method=item.get("method"),
                evidence=item.get("evidence"),
            )
            for item in doc["suppressions"]
        ),
        source=where,
    )
