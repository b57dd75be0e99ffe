"""What changed between two versions of an app: findings, permissions, data-class levels, verdict.

Findings are compared site by site: a finding is identified by its rule id and
one :attr:`appaudit.model.Evidence.site` (class and method; never offsets), so
a rule that spreads into a new method has *appeared* there. A site whose
finding changed severity (dormant code that became live when its permission
was added) is listed as changed. Counts are per finding (rule), as ``scan``
counts them, with each finding's sites listed under it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from appaudit.history.snapshot import Snapshot
from appaudit.model import Severity
from appaudit.report.model import Finding

DIFF_SCHEMA_VERSION = "1"


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteFinding:
    """One rule at one site."""

    rule_id: str
    title: str
    severity: Severity
    data_class: str
    site: tuple[str, str]
    """(class, method) for code; ("kind: value", "") for manifest-level evidence."""

    @property
    def is_code(self) -> bool:
        return bool(self.site[1])

    @property
    def where(self) -> str:
        cls, method = self.site
        return f"{cls}.{method}" if method else cls


@dataclass(frozen=True, slots=True, kw_only=True)
class SeverityChange:
    """A site found in both versions whose finding changed severity."""

    old: SiteFinding
    new: SiteFinding


@dataclass(frozen=True, slots=True, kw_only=True)
class LevelChange:
    data_class: str
    old: str
    new: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportDiff:
    """Everything that appeared or disappeared from ``old`` to ``new``."""

    old: Snapshot
    new: Snapshot
    appeared: tuple[SiteFinding, ...]
    disappeared: tuple[SiteFinding, ...]
    changed: tuple[SeverityChange, ...]
    permissions_added: tuple[str, ...]
    permissions_removed: tuple[str, ...]
    levels: tuple[LevelChange, ...]
    sdks_added: tuple[str, ...] = ()
    sdks_removed: tuple[str, ...] = ()
    violations_added: tuple[str, ...] = ()
    violations_removed: tuple[str, ...] = ()

    @property
    def verdict_changed(self) -> bool:
        return self.old.verdict != self.new.verdict

    @property
    def same_package(self) -> bool:
        """False when both packages are known and differ: the two inputs are different apps."""
        return self.old.package is None or self.new.package is None or self.old.package == self.new.package

    @property
    def empty(self) -> bool:
        return not (
            self.appeared
            or self.disappeared
            or self.changed
            or self.permissions_added
            or self.permissions_removed
            or self.levels
            or self.sdks_added
            or self.sdks_removed
            or self.violations_added
            or self.violations_removed
            or self.verdict_changed
        )

    def worst_new(self) -> Severity | None:
        """Highest severity that appeared or that a site rose to (what ``diff --fail-on`` compares)."""
        rose = [c.new.severity for c in self.changed if c.new.severity > c.old.severity]
        return max([s.severity for s in self.appeared] + rose, default=None)


def _sites(findings: tuple[Finding, ...]) -> dict[tuple[str, tuple[str, str]], SiteFinding]:
    out: dict[tuple[str, tuple[str, str]], SiteFinding] = {}
    for f in findings:
        for site in f.sites() or (("", ""),):
            out[(f.rule_id, site)] = SiteFinding(
                rule_id=f.rule_id, title=f.title, severity=f.severity, data_class=f.data_class, site=site
            )
    return out


def _order(s: SiteFinding) -> tuple[int, str, str, tuple[str, str]]:
    return (-int(s.severity), s.data_class, s.rule_id, s.site)


def compare(old: Snapshot, new: Snapshot) -> ReportDiff:
    """The changes from ``old`` to ``new``."""
    before, after = _sites(old.findings), _sites(new.findings)
    old_levels, new_levels = dict(old.levels), dict(new.levels)
    classes = [c for c, _ in new.levels] + [c for c, _ in old.levels if c not in new_levels]
    return ReportDiff(
        old=old,
        new=new,
        appeared=tuple(sorted((after[k] for k in after.keys() - before.keys()), key=_order)),
        disappeared=tuple(sorted((before[k] for k in before.keys() - after.keys()), key=_order)),
        changed=tuple(
            sorted(
                (
                    SeverityChange(old=before[k], new=after[k])
                    for k in after.keys() & before.keys()
                    if after[k].severity != before[k].severity
                ),
                key=lambda c: _order(c.new),
            )
        ),
        permissions_added=tuple(sorted(set(new.permissions) - set(old.permissions))),
        permissions_removed=tuple(sorted(set(old.permissions) - set(new.permissions))),
        levels=tuple(
            LevelChange(data_class=c, old=old_levels.get(c, "none"), new=new_levels.get(c, "none"))
            for c in classes
            if old_levels.get(c, "none") != new_levels.get(c, "none")
        ),
        sdks_added=tuple(sorted(set(new.sdks) - set(old.sdks))),
        sdks_removed=tuple(sorted(set(old.sdks) - set(new.sdks))),
        violations_added=tuple(sorted(set(new.violations) - set(old.violations))),
        violations_removed=tuple(sorted(set(old.violations) - set(new.violations))),
    )


def finding_count(sites: Sequence[SiteFinding]) -> int:
    """How many findings (rules) ``sites`` belong to: ``scan`` counts a finding once, whatever its sites."""
    return len({s.rule_id for s in sites})


def _violation(text: str) -> dict[str, str]:
    """``pack: provision`` as an object."""
    policy, _, provision = text.partition(": ")
    return {"policy": policy, "provision": provision}


def _identity(s: Snapshot) -> dict[str, Any]:
    return {
        "source": s.source,
        "sha256": s.sha256,
        "package": s.package,
        "version_name": s.version_name,
        "version_code": s.version_code,
        "verdict": s.verdict,
    }


def _site(s: SiteFinding) -> dict[str, Any]:
    return {
        "rule_id": s.rule_id,
        "title": s.title,
        "severity": s.severity.label,
        "data_class": s.data_class,
        "class": s.site[0] if s.is_code else None,
        "method": s.site[1] if s.is_code else None,
        "where": s.where,
    }


def to_dict(diff: ReportDiff) -> dict[str, Any]:
    """The diff as plain data (``appaudit diff --format json``)."""
    return {
        "diff_schema_version": DIFF_SCHEMA_VERSION,
        "old": _identity(diff.old),
        "new": _identity(diff.new),
        "verdict": {"old": diff.old.verdict, "new": diff.new.verdict, "changed": diff.verdict_changed},
        "permissions": {"added": list(diff.permissions_added), "removed": list(diff.permissions_removed)},
        "data_classes": [{"data_class": c.data_class, "old": c.old, "new": c.new} for c in diff.levels],
        "sdks": {"added": list(diff.sdks_added), "removed": list(diff.sdks_removed)},
        # Deprecated: "pack: provision" strings, kept for existing consumers; "policies" has the same as objects.
        "policy_violations": {"added": list(diff.violations_added), "removed": list(diff.violations_removed)},
        "policies": {
            "added": [_violation(v) for v in diff.violations_added],
            "removed": [_violation(v) for v in diff.violations_removed],
        },
        "same_package": diff.same_package,
        "finding_counts": {
            "appeared": finding_count(diff.appeared),
            "disappeared": finding_count(diff.disappeared),
            "severity_changed": finding_count([c.new for c in diff.changed]),
        },
        "findings": {
            "appeared": [_site(s) for s in diff.appeared],
            "disappeared": [_site(s) for s in diff.disappeared],
            "severity_changed": [
                {**_site(c.new), "old_severity": c.old.severity.label, "new_severity": c.new.severity.label}
                for c in diff.changed
            ],
        },
    }


def render_json(diff: ReportDiff) -> str:
    return json.dumps(to_dict(diff), indent=2, ensure_ascii=False) + "\n"


def _name(s: Snapshot) -> str:
    return f"{s.package or '(unknown package)'} {s.version_name or '?'} ({s.version_code or '?'})"


def _grouped(mark: str, sites: Sequence[SiteFinding], was: dict[str, str] | None = None) -> list[str]:
    """One heading line per finding (rule, in the order of its first site), its sites under it."""
    by_rule: dict[str, list[SiteFinding]] = {}
    for s in sites:
        by_rule.setdefault(s.rule_id, []).append(s)
    lines: list[str] = []
    for rule_sites in by_rule.values():
        first = rule_sites[0]
        head = f"  {mark} {first.severity.label.upper():<8} {first.rule_id} [{first.data_class}] {first.title}"
        if was is not None:
            head += f" (was {was[first.rule_id]})"
        lines.append(head)
        lines.extend(f"      in {s.where}" for s in rule_sites)
    return lines


def _counted(title: str, sites: Sequence[SiteFinding]) -> str:
    n, places = finding_count(sites), len(sites)
    where = f", {places} places" if places != n else ""
    return f"{title} ({n}{where})"


def render_text(diff: ReportDiff) -> str:
    """The diff for a terminal or a CI log (plain text)."""
    verdict = f"{diff.old.verdict} -> {diff.new.verdict}" if diff.verdict_changed else diff.new.verdict
    lines = [
        f"appaudit diff: {_name(diff.old)} -> {_name(diff.new)}",
        f"old  {diff.old.source}  sha256 {diff.old.sha256}",
        f"new  {diff.new.source}  sha256 {diff.new.sha256}",
        "",
        f"Verdict: {verdict}",
    ]
    if diff.permissions_added or diff.permissions_removed:
        lines += ["", "Permissions"]
        lines += [f"  + {p}" for p in diff.permissions_added] + [f"  - {p}" for p in diff.permissions_removed]
    if diff.levels:
        lines += ["", "Data classes"]
        lines += [f"  {c.data_class}: {c.old} -> {c.new}" for c in diff.levels]
    for title, added, removed in (
        ("SDKs in findings", diff.sdks_added, diff.sdks_removed),
        ("Policy violations", diff.violations_added, diff.violations_removed),
    ):
        if added or removed:
            lines += ["", title]
            lines += [f"  + {x}" for x in added] + [f"  - {x}" for x in removed]
    for title, mark, items in (("Findings appeared", "+", diff.appeared), ("Findings gone", "-", diff.disappeared)):
        if items:
            lines += ["", _counted(title, items)]
            lines += _grouped(mark, items)
    if diff.changed:
        changed = [c.new for c in diff.changed]
        lines += ["", _counted("Severity changed", changed)]
        lines += _grouped("~", changed, was={c.new.rule_id: c.old.severity.label for c in diff.changed})
    if diff.empty:
        lines += ["", "No changes."]
    return "\n".join(lines) + "\n"
