"""The CI gate: whether a scan (or a batch) fails, and the one closing line that says why.

A blind app fails the default gate. An ``inconclusive`` verdict means part of
the code could not be read *and* that code holds a permission to contacts, SMS
or call log (analysis.verdict): a packed loan app looks exactly like this, so
passing it would let every packed app through a pipeline that gates on
appaudit. ``allow_inconclusive`` opts out; ``fail_on=None`` (``--fail-on
never``) turns the whole gate off. Pure functions: the CLI prints and exits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from appaudit.model import Severity, Verdict
from appaudit.report.model import Report


@dataclass(frozen=True, slots=True, kw_only=True)
class Gate:
    """What fails a scan."""

    fail_on: Severity | None
    """Findings at or above this severity fail; None (``--fail-on never``): nothing fails."""
    allow_inconclusive: bool = False
    """Whether an ``inconclusive`` verdict passes."""

    @property
    def option(self) -> str:
        """The ``--fail-on`` value, as the user would write it."""
        return "never" if self.fail_on is None else self.fail_on.label

    def counts(self, severity: Severity | None) -> bool:
        """Whether a finding of ``severity`` is at or above the threshold."""
        return self.fail_on is not None and severity is not None and severity >= self.fail_on

    def blocks(self, verdict: str) -> bool:
        """Whether ``verdict`` alone fails the gate."""
        return self.fail_on is not None and not self.allow_inconclusive and verdict == Verdict.INCONCLUSIVE.value


@dataclass(frozen=True, slots=True, kw_only=True)
class GateResult:
    """A gate's decision and the sentence that explains it."""

    failed: bool
    line: str
    """``appaudit: harvests; 3 findings at or above --fail-on high: exit 1``."""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _exit(failed: bool) -> str:
    return "exit 1" if failed else "exit 0"


def scan_gate(report: Report, gate: Gate) -> GateResult:
    """The gate over one report: findings not suppressed at or above the threshold, and an inconclusive verdict."""
    gating = [f for f in report.findings if not f.suppressed and gate.counts(f.severity)]
    suppressed = sum(1 for f in report.findings if f.suppressed)
    verdict = report.verdict.value
    failed = bool(gating) or gate.blocks(verdict)
    head = verdict
    if verdict == Verdict.INCONCLUSIVE.value and gate.fail_on is not None:
        head += (
            ", allowed (--allow-inconclusive)"
            if gate.allow_inconclusive
            else " (fails the gate; --allow-inconclusive passes it)"
        )
    if gate.fail_on is None:
        found = f"{_plural(len(report.findings), 'finding')} (--fail-on never)"
    else:
        found = f"{_plural(len(gating), 'finding')} at or above --fail-on {gate.option}"
    parts = [head, found]
    if suppressed:
        parts.append(f"{suppressed} suppressed by the baseline")
    return GateResult(failed=failed, line=f"appaudit: {'; '.join(parts)}: {_exit(failed)}")


def batch_gate(outcomes: Iterable[tuple[str | None, int | None]], gate: Gate) -> GateResult:
    """The gate over a batch's scanned inputs, each ``(verdict, highest severity rank)``."""
    scanned = list(outcomes)
    if not scanned:
        return GateResult(failed=True, line="appaudit: no input could be scanned: exit 3")
    flagged = sum(1 for _, rank in scanned if gate.counts(Severity(rank) if rank is not None else None))
    inconclusive = sum(1 for verdict, _ in scanned if verdict == Verdict.INCONCLUSIVE.value)
    failed = bool(flagged) or (inconclusive > 0 and gate.blocks(Verdict.INCONCLUSIVE.value))
    if gate.fail_on is None:
        parts = [f"{_plural(len(scanned), 'APK')} (--fail-on never)"]
    else:
        parts = [
            _plural(len(scanned), "APK"),
            f"{flagged} with a finding at or above --fail-on {gate.option}",
        ]
        if inconclusive:
            parts.append(
                f"{inconclusive} inconclusive, allowed (--allow-inconclusive)"
                if gate.allow_inconclusive
                else f"{inconclusive} inconclusive (fail{'s' if inconclusive == 1 else ''} the gate; "
                f"--allow-inconclusive passes {'it' if inconclusive == 1 else 'them'})"
            )
    return GateResult(failed=failed, line=f"appaudit: {'; '.join(parts)}: {_exit(failed)}")
