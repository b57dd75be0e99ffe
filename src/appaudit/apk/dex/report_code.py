"""The code behind a report: source positions and smali excerpts of every code evidence location.

Run by the scan after the findings are built, while the code index is still open, and only with
``ScanOptions.with_code`` (a scan without it imports nothing of this). Locations are taken in report
order: findings' evidence, then per data class its provider reads, chains (read, steps, sink) and
start-up path steps. Deterministic: the same report gives the same notes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from appaudit.apk.dex.excerpt import DEFAULT_CONTEXT, DexFiles, excerpt_for, source_position
from appaudit.apk.dex.types import Excerpt, SourcePosition
from appaudit.model import Evidence, EvidenceKind
from appaudit.report.model import CodeKey, CodeNotes, DataClassResult, Finding, code_key

#: Excerpts one report carries at most; later locations keep their source line but no excerpt, and the
#: report says ``truncated``. 200 excerpts of 7 instructions are about 250 kB of JSON.
MAX_REPORT_EXCERPTS = 200


def _evidence_sites(e: Evidence) -> Iterator[tuple[CodeKey, str | None]]:
    if e.class_name is not None and e.method is not None and e.kind != EvidenceKind.TEXT:
        yield code_key(e.dex, e.class_name, e.method, e.offset), e.value


def _sites(findings: Iterable[Finding], classes: Mapping[str, DataClassResult]) -> list[tuple[CodeKey, str | None]]:
    """Every code location of the report once, in report order, with the note its excerpt carries."""
    sites: list[tuple[CodeKey, str | None]] = []
    for f in findings:
        for e in f.evidence:
            sites.extend(_evidence_sites(e))
    for result in classes.values():
        for a in result.accesses:
            sites.extend(_evidence_sites(a.evidence))
        for c in result.chains:
            sites.extend(_evidence_sites(c.read))
            sites.extend((code_key(None, s.class_name, s.method, s.offset), None) for s in c.steps)
            sites.extend(_evidence_sites(c.sink))
        for p in result.startup_paths:
            sites.extend((code_key(None, s.class_name, s.method, s.offset), None) for s in p.steps)
    seen: set[CodeKey] = set()
    unique = []
    for key, note in sites:
        if key not in seen:
            seen.add(key)
            unique.append((key, note))
    return unique


def report_code(
    code: DexFiles, findings: Iterable[Finding], classes: Mapping[str, DataClassResult], *, excerpts: bool = True
) -> CodeNotes:
    """Positions of every code location of the report (methods not in the DEX are left out) and, with
    ``excerpts``, the smali around the first :data:`MAX_REPORT_EXCERPTS` of them (the evidence value as
    the marked line's note)."""
    positions: dict[CodeKey, SourcePosition] = {}
    shown: dict[CodeKey, Excerpt] = {}
    truncated = False
    for key, note in _sites(findings, classes):
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
