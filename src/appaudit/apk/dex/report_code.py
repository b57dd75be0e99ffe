"""The code behind a report: source positions and smali excerpts of every code evidence location.

Run by the scan after the findings are built, while the code index is still open, and only with
``ScanOptions.with_code`` (a scan without it imports nothing of this). Locations are taken in report
order: findings' evidence, then per data class its provider reads, chains (read, steps, sink) and
start-up path steps. Deterministic: the same report gives the same notes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from appaudit.apk.dex.excerpt import DEFAULT_CONTEXT, DexFiles, excerpt_for, source_position
from appaudit.apk.dex.types import Excerpt, SourcePosition
from appaudit.model import Evidence, EvidenceKind
from appaudit.report.model import CodeKey, CodeNotes, DataClassResult, Finding, code_key

#: Excerpts one report carries at most; later locations keep their source line but no excerpt, and the
#: report says ``truncated``. 200 excerpts of 7 instructions are about 250 kB of JSON.
MAX_REPORT_EXCERPTS = 200


def _evidence_site(e: Evidence) -> list[CodeKey]:
    if e.class_name is not None and e.method is not None and e.kind != EvidenceKind.TEXT:
        return [code_key(e.dex, e.class_name, e.method, e.offset)]
    return []


def _sites(findings: Iterable[Finding], classes: Mapping[str, DataClassResult]) -> dict[CodeKey, str | None]:
    """Every code location of the report once, in report order, with the note its excerpt's marked line
    carries: the URI a provider read resolves to (an evidence value is the instruction's own reference,
    so it is no note)."""
    sites: dict[CodeKey, str | None] = {}
    for f in findings:
        for e in f.evidence:
            sites.update(dict.fromkeys(_evidence_site(e)))
    for result in classes.values():
        for a in result.accesses:
            sites.update(dict.fromkeys(_evidence_site(a.evidence), a.uri))
        for c in result.chains:
            sites.update((k, sites.get(k)) for k in _evidence_site(c.read))
            sites.update((code_key(None, s.class_name, s.method, s.offset), None) for s in c.steps)
            sites.update((k, sites.get(k)) for k in _evidence_site(c.sink))
        for p in result.startup_paths:
            sites.update((code_key(None, s.class_name, s.method, s.offset), None) for s in p.steps)
    for result in classes.values():  # after every other location: triggers came last into reports
        for p in result.triggers:
            for found in (p.read, p.guard):
                sites.update((k, sites.get(k)) for k in (_evidence_site(found) if found is not None else ()))
            sites.update((code_key(None, s.class_name, s.method, s.offset), None) for s in p.steps)
    return sites


def report_code(
    code: DexFiles, findings: Iterable[Finding], classes: Mapping[str, DataClassResult], *, excerpts: bool = True
) -> CodeNotes:
    """Positions of every code location of the report (methods not in the DEX are left out) and, with
    ``excerpts``, the smali around the first :data:`MAX_REPORT_EXCERPTS` of them (the evidence value as
    the marked line's note)."""
    positions: dict[CodeKey, SourcePosition] = {}
    shown: dict[CodeKey, Excerpt] = {}
    truncated = False
    for key, note in _sites(findings, classes).items():
        dex, class_name, method, offset = key
        position = source_position(code, dex or None, class_name, method, offset)
        if position is None:
            continue
        positions[key] = position
        if not excerpts:
            continue
        if len(shown) >= MAX_REPORT_EXCERPTS:
            truncated = True
            continue
        notes = {offset: note} if note is not None and offset is not None else None
        ex = excerpt_for(code, dex or None, class_name, method, offset, context=DEFAULT_CONTEXT, notes=notes)
        if ex is not None:
            shown[key] = ex
    return CodeNotes(positions=positions, excerpts=shown, truncated=truncated, asked=True)
