"""The store at scale: the summary counted in SQL equals the one counted over outcomes; the indices serve the
documented queries; the export streams from a cursor."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from appaudit.batch import BatchOptions, run_batch
from appaudit.batch.store import ResultStore
from appaudit.batch.summary import summarize
from conftest import FIXTURES


def test_sql_summary_equals_the_summary_over_outcomes(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("benign", "contacts_const", "sdk_harvest", "sms_blast", "dormant_contacts"):
        shutil.copy(FIXTURES / f"{name}.apk", folder / f"{name}.apk")
    shutil.copy(FIXTURES / "sdk_harvest.apk", folder / "copy_of_sdk_harvest.apk")  # a duplicate counts twice
    (folder / "garbage.apk").write_bytes(b"PK\x03\x04 not a zip")
    listing = tmp_path / "list.txt"
    listing.write_text(f"{folder}\n{tmp_path / 'absent.apk'}\n")
    db = tmp_path / "r.sqlite"
    run_batch([str(folder / "benign.apk")], BatchOptions(db=db, workers=2))  # one result comes from the store
    result = run_batch([str(listing)], BatchOptions(db=db, workers=2))
    expected = summarize(result.outcomes, scanned=result.summary.scanned, duplicates=result.summary.duplicates)
    assert result.summary == expected
    assert (result.summary.inputs, result.summary.cached, result.summary.duplicates) == (8, 1, 1)
    assert result.summary.by_status == {"ok": 6, "error": 1, "missing": 1}
    with ResultStore(db) as store:  # the same store summarised again gives the same counts
        again = store.summarize_run(result.outcomes, result.ruleset_sha256, scanned=5, duplicates=1)
    assert again == result.summary


def _plan(db: Path, sql: str) -> str:
    con = sqlite3.connect(db)
    try:
        return " | ".join(str(r[-1]) for r in con.execute("EXPLAIN QUERY PLAN " + sql))
    finally:
        con.close()


def test_documented_filters_use_an_index(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    run_batch([str(FIXTURES / "contacts_const.apk")], BatchOptions(db=db, workers=1))
    assert "USING INDEX data_classes_level (data_class=? AND level=?)" in _plan(
        db, "SELECT apk_sha256 FROM data_classes WHERE data_class = 'contacts' AND level = 'harvested'"
    )
    assert "USING INDEX findings_class_effect" in _plan(
        db, "SELECT class FROM findings WHERE data_class = 'contacts' AND effect = 'reads'"
    )
    assert "USING INDEX chains_class_channel" in _plan(
        db, "SELECT urls FROM chains WHERE data_class = 'contacts' AND channel = 'network'"
    )
