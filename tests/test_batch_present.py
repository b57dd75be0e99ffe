"""The batch's presentation: progress lines, the live bar and the summary, written to the stream given."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from appaudit.batch import BatchOptions, Planned, Scanned
from appaudit.batch.present import (
    plain_progress,
    planned_line,
    progress_on_terminal,
    run_with_progress,
    run_with_progress_bar,
    scanned_line,
)
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
