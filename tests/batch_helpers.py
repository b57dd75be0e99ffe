"""Helpers shared by the batch tests: read a results store back as plain data."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

# Columns that differ between two runs of the same scan (wall clock and timing).
VOLATILE = {"scanned_at", "duration_s"}


def rows(db: Path, table: str, order: str) -> list[dict[str, Any]]:
    con = sqlite3.connect(db)
    try:
        cur = con.execute(f"SELECT * FROM {table} ORDER BY {order}")  # test helper, fixed names
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur]
    finally:
        con.close()


def scans(db: Path) -> dict[str, dict[str, Any]]:
    """``scans`` rows by file name, ``report_json`` parsed without its ``run`` block, volatile columns dropped."""
    out = {}
    for row in rows(db, "scans", "path"):
        report = json.loads(row.pop("report_json")) if row["report_json"] else None
        if report is not None:
            report.pop("run")
        row["report"] = report
        for key in VOLATILE:
            row.pop(key)
        out[Path(row.pop("path")).name] = row
    return out


def content(db: Path) -> dict[str, Any]:
    """Everything the store holds except timings and paths, for comparing two runs."""
    by_sha = {r["apk_sha256"]: r for r in scans(db).values()}
    return {
        "scans": by_sha,
        "findings": rows(db, "findings", "apk_sha256, rowid"),
        "data_classes": rows(db, "data_classes", "apk_sha256, rowid"),
        "chains": rows(db, "chains", "apk_sha256, rowid"),
    }


def report_without_run(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k != "run"}
