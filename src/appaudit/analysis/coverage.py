"""What part of the app's code a static scan cannot see."""

from __future__ import annotations

from collections.abc import Sequence

from appaudit.engine.matchers import MATCHERS, MatchContext
from appaudit.model import AppInfo, CodeIndex, CoverageReason
from appaudit.ruleset.loader import CoverageSignal

#: Evidence values quoted in a coverage reason's detail.
QUOTED = 3


def _quote(values: Sequence[str]) -> str:
    shown = ", ".join(values[:QUOTED])
    return shown + (f", +{len(values) - QUOTED} more" if len(values) > QUOTED else "")


def signal_reasons(app: AppInfo, code: CodeIndex, signals: Sequence[CoverageSignal]) -> list[CoverageReason]:
    """One reason per coverage signal that matches (rules/coverage_signals.yaml)."""
    ctx = MatchContext(app=app, code=code)
    reasons = []
    for signal in signals:
        evidence = MATCHERS[signal.match_kind](signal.match, ctx)
        values = sorted(
            {
                f"{e.class_name}.{(e.method or '').split('(')[0]}" if e.class_name else e.value
                for e in evidence
                if not (e.class_name and e.class_name.startswith(signal.except_class_prefixes))
            }
        )
        if values:
            reasons.append(CoverageReason(code=signal.code, detail=f"{signal.detail}: {_quote(values)}"))
    return reasons


def missing_class_reasons(app: AppInfo, code: CodeIndex) -> list[CoverageReason]:
    """The manifest names classes that no DEX defines: their code arrives at run time.

    Packers ship a stub and decrypt the real classes when the app starts, so the
    Application or components the manifest declares are absent from the DEX.
    """
    if not app.dex_files:
        return []
    defined = code.defined_classes()
    declared_set = {c.name for c in app.components if c.name}
    if app.application_class:
        declared_set.add(app.application_class)
    declared = sorted(declared_set)
    missing = [name for name in declared if name not in defined]
    if not missing:
        return []
    detail = f"{len(missing)} of {len(declared)} classes named in the manifest are not in any DEX: {_quote(missing)}"
    return [CoverageReason(code="classes_not_in_dex", detail=detail)]
