"""Export the results store as JSON Lines or CSV, one scan per line, as text chunks to write.

JSONL: one object per scan with the ``scans`` columns (``report_json`` parsed
into ``report``, null unless the scan succeeded). CSV: the ``scans`` columns
without the report, plus one ``level_<class>`` column per data class and the
space-separated ``rule_ids``. Rows are ordered by path, then ruleset.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from appaudit.batch.store import ResultStore
from appaudit.errors import ConfigError
from appaudit.model import DATA_CLASSES

EXPORT_FORMATS = ("jsonl", "csv")

_COLUMNS = (
    "apk_sha256",
    "ruleset_sha256",
    "path",
    "status",
    "verdict",
    "max_severity",
    "package",
    "version_name",
    "version_code",
    "coverage",
    "error",
    "duration_s",
    "scanned_at",
    "tool_version",
)


def _rows(store: ResultStore, with_report: bool) -> Iterator[dict[str, Any]]:
    extra = ", report_json" if with_report else ""
    yield from store.query(f"SELECT {', '.join(_COLUMNS)}{extra} FROM scans ORDER BY path, ruleset_sha256")


def export_lines(db: str | Path, fmt: str) -> Iterator[str]:
    """The export of ``db`` in ``fmt`` (``jsonl`` or ``csv``), line by line, each ending in a newline."""
    if fmt not in EXPORT_FORMATS:
        raise ConfigError(f"unknown export format {fmt!r} (jsonl or csv)")
    with ResultStore(db, create=False) as store:
        if fmt == "jsonl":
            for row in _rows(store, with_report=True):
                report = row.pop("report_json")
                row["report"] = json.loads(report) if report else None
                yield json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n"
            return
        header = [*_COLUMNS, *(f"level_{dc}" for dc in DATA_CLASSES), "rule_ids"]
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header)
        for row in _rows(store, with_report=False):
            key = (row["apk_sha256"], row["ruleset_sha256"])
            levels = store.levels(*key)
            rule_ids = " ".join(store.rule_ids(*key))
            writer.writerow([*(row[c] for c in _COLUMNS), *(levels.get(dc, "") for dc in DATA_CLASSES), rule_ids])
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
        if buf.getvalue():
            yield buf.getvalue()
