"""The batch's presentation: progress lines, the live bar and the summary, written to the stream given."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from appaudit.batch import BatchOptions, Planned, Scanned
from appaudit.batch.present import (
    plain_progress,
    planned_line,
    progress_on_terminal,
    run_with_progress,
    run_with_progress_bar,
    scanned_line,
    summary_text,
)
from appaudit.batch.runner import BatchResult
from appaudit.batch.summary import BatchSummary
from conftest import fixture_apk


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_event_lines() -> None:
    planned = Planned(inputs=3, to_scan=2, cached=1, duplicates=0, missing=1)
    assert planned_line(planned) == "3 inputs: 2 to scan, 1 already in the store, 0 duplicates, 1 unreadable"
    ok = Scanned(done=1, total=2, path="a.apk", status="ok", verdict="harvests", error=None, duration_s=0.123)
    bad = Scanned(done=2, total=2, path="b.apk", status="timeout", verdict=None, error="no result", duration_s=2)
    assert scanned_line(ok) == "[1/2] ok a.apk: harvests (0.12 s)"
    assert scanned_line(bad) == "[2/2] timeout b.apk: no result (2.00 s)"
    out = io.StringIO()
    on_event = plain_progress(out)
    on_event(planned)
    on_event(ok)
    assert out.getvalue() == planned_line(planned) + "\n" + scanned_line(ok) + "\n"


def test_bar_only_on_a_terminal_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    assert (progress_on_terminal(io.StringIO()), progress_on_terminal(_Terminal())) == (False, True)
    monkeypatch.setenv("CI", "true")
    assert progress_on_terminal(_Terminal()) is False


def test_progress_bar_prints_the_plan_and_each_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a short path: rich folds lines at 80 columns
    garbage = Path("garbage.apk")
    garbage.write_bytes(b"not a zip")
    out = io.StringIO()
    options = BatchOptions(db=tmp_path / "r.sqlite", workers=1)
    result = run_with_progress_bar([fixture_apk("benign"), str(garbage)], options, out)
    assert [o.status for o in result.outcomes] == ["ok", "error"]
    lines = out.getvalue().splitlines()
    assert lines[0] == "2 inputs: 2 to scan, 0 already in the store, 0 duplicates, 0 unreadable"
    assert lines[1] == f"error {garbage}: not a zip archive (an APK is a zip file)"
    assert lines[2].startswith("scanning ") and " 2/2 " in lines[2]
    # not a terminal: plain lines, one per APK
    monkeypatch.delenv("CI", raising=False)
    plain = io.StringIO()
    run_with_progress([fixture_apk("benign")], BatchOptions(db=tmp_path / "s.sqlite", workers=1), plain)
    assert plain.getvalue().splitlines()[1].startswith(f"[1/1] ok {fixture_apk('benign')}: no_evidence (")


def _result(*, scanned: int, cached: int, scan_elapsed_s: float) -> BatchResult:
    summary = BatchSummary(
        inputs=scanned + cached,
        scanned=scanned,
        cached=cached,
        duplicates=0,
        by_status={"ok": scanned + cached},
        by_verdict={
            "harvests": 30,
            "at_risk": 3,
            "dormant_code": 1,
            "declared_only": 1,
            "inconclusive": 4,
            "no_evidence": 5,
        },
        levels={
            "contacts": {"harvested": 19, "bulk": 1, "read": 1, "dormant": 1, "declared": 1},
            "camera_microphone": {"declared": 1},
        },
        top_rules=(),
        failures=(),
    )
    return BatchResult(
        db="r.sqlite", ruleset_sha256="ab" * 32, outcomes=(), summary=summary, scan_elapsed_s=scan_elapsed_s
    )


def test_summary_fits_80_columns_and_a_rerun_has_no_rate() -> None:
    text = summary_text(_result(scanned=0, cached=44, scan_elapsed_s=0.0), 0.04)
    console = Console(width=80, record=True, file=io.StringIO(), color_system=None)
    console.print(text, end="", markup=False, highlight=False)
    # rich wraps nothing it is given: every line already fits
    assert console.export_text() == text
    assert max(len(line) for line in text.splitlines()) <= 80
    assert text == (
        "44 inputs: 44 from the store, 0 scanned, 0 duplicates; 0.0 s\n"
        f"results: r.sqlite (ruleset {'ab' * 6})\n"
        "status: ok 44\n"
        "verdict: harvests 30, at_risk 3, dormant_code 1, declared_only 1,\n"
        "  inconclusive 4, no_evidence 5\n"
        "data class levels (APKs):\n"
        "                     harvested  exfiltrated  bulk  read  dormant  declared\n"
        "  contacts                  19            0     1     1        1         1\n"
        "  camera_microphone          0            0     0     0        0         1\n"
    )
    scanned = summary_text(_result(scanned=40, cached=4, scan_elapsed_s=2.0), 2.5)
    assert scanned.splitlines()[0] == "44 inputs: 40 scanned, 4 from the store, 0 duplicates; 2.5 s, 20.00 APKs/s"
