"""What a scan could not see or do: coverage reasons and error entries, gathered in one place.

Every stage of :mod:`appaudit.pipeline` that learns of a gap in the scan
reports it to the one :class:`Diagnostics` of the scan, as it learns it; the
report takes the frozen :class:`DiagnosticsResult` at the end.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from appaudit.report.model import CoverageReason, ScanErrorEntry


@dataclass(frozen=True, slots=True, kw_only=True)
class DiagnosticsResult:
    """The coverage reasons and error entries of one scan."""

    reasons: tuple[CoverageReason, ...]
    """In the order reported; ``analysis.verdict.coverage_from`` sorts and deduplicates them."""
    errors: tuple[ScanErrorEntry, ...]
    """Sorted by place, then message (duplicates kept)."""


class Diagnostics:
    """The collector the stages report to; only :meth:`result` leaves the pipeline."""

    __slots__ = ("_errors", "_reasons")

    def __init__(self) -> None:
        self._reasons: list[CoverageReason] = []
        self._errors: list[ScanErrorEntry] = []

    def add_reason(self, code: str, detail: str) -> None:
        """Part of the app's code was not seen: ``code`` names why (e.g. ``dex_unreadable``)."""
        self._reasons.append(CoverageReason(code=code, detail=detail))

    def add_error(self, where: str, message: str) -> None:
        """Something failed at ``where`` without stopping the scan."""
        self._errors.append(ScanErrorEntry(where=where, message=message))

    def add_reasons(self, reasons: Iterable[CoverageReason]) -> None:
        """Reasons a lower layer returned as values (the APK loader, the code index)."""
        self._reasons.extend(reasons)

    def add_errors(self, errors: Iterable[ScanErrorEntry]) -> None:
        """Error entries a lower layer returned as values (the APK loader, the rules engine)."""
        self._errors.extend(errors)

    def result(self) -> DiagnosticsResult:
        """What was reported so far, frozen."""
        return DiagnosticsResult(
            reasons=tuple(self._reasons),
            errors=tuple(sorted(self._errors, key=lambda e: (e.where, e.message))),
        )
