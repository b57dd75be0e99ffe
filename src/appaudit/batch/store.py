"""The results store: one SQLite file, written only by the batch's parent process.

Schema (documented in docs/batch.md; ``meta.schema_version`` is bumped on any
incompatible change): ``scans`` has one row per (APK sha256, ruleset sha256);
``findings``, ``data_classes``, ``chains`` and ``recovered_payloads`` hang off it; ``files`` caches
path -> sha256 so a resumed run does not hash unchanged files again, and ``objects`` caches URL, size and
version tag -> sha256 for inputs read by URL.

Each APK's rows are written in one transaction (WAL mode), so a run killed at
any point leaves every earlier APK complete and no APK half-written.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from appaudit.batch.family_schema import FAMILY_SCHEMA, migrate, replace_members, save_rows
from appaudit.batch.records import ScanRecord
from appaudit.batch.store_summary import load_run, outcome_rows, summarize_store
from appaudit.batch.summary import BatchSummary, Outcome
from appaudit.errors import ConfigError, InputError
from appaudit.urls import redact

SCHEMA_VERSION = "4"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS scans (
  apk_sha256 TEXT NOT NULL,
  ruleset_sha256 TEXT NOT NULL,
  path TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('ok', 'error', 'timeout', 'crashed')),
  verdict TEXT,
  max_severity TEXT,
  max_severity_rank INTEGER,
  package TEXT,
  version_name TEXT,
  version_code TEXT,
  coverage TEXT,
  error TEXT,
  duration_s REAL NOT NULL,
  scanned_at TEXT NOT NULL,
  tool_version TEXT NOT NULL,
  report_json TEXT,
  PRIMARY KEY (apk_sha256, ruleset_sha256)
);
CREATE TABLE IF NOT EXISTS findings (
  apk_sha256 TEXT NOT NULL,
  ruleset_sha256 TEXT NOT NULL,
  rule_id TEXT NOT NULL,
  severity TEXT NOT NULL,
  severity_rank INTEGER NOT NULL,
  data_class TEXT NOT NULL,
  effect TEXT NOT NULL,
  dormant INTEGER NOT NULL,
  kind TEXT,
  class TEXT,
  method TEXT,
  insn_offset INTEGER,
  value TEXT,
  component TEXT,
  FOREIGN KEY (apk_sha256, ruleset_sha256) REFERENCES scans ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS findings_scan ON findings (apk_sha256, ruleset_sha256);
CREATE INDEX IF NOT EXISTS findings_rule ON findings (rule_id);
CREATE TABLE IF NOT EXISTS data_classes (
  apk_sha256 TEXT NOT NULL,
  ruleset_sha256 TEXT NOT NULL,
  data_class TEXT NOT NULL,
  level TEXT NOT NULL,
  declared INTEGER NOT NULL,
  read INTEGER NOT NULL,
  dormant INTEGER NOT NULL,
  bulk INTEGER NOT NULL,
  exfiltrated TEXT NOT NULL,
  at_startup INTEGER NOT NULL,
  severity TEXT,
  PRIMARY KEY (apk_sha256, ruleset_sha256, data_class),
  FOREIGN KEY (apk_sha256, ruleset_sha256) REFERENCES scans ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS chains (
  apk_sha256 TEXT NOT NULL,
  ruleset_sha256 TEXT NOT NULL,
  data_class TEXT NOT NULL,
  channel TEXT NOT NULL,
  read_class TEXT,
  read_method TEXT,
  sink_class TEXT,
  sink_method TEXT,
  sink TEXT NOT NULL,
  urls TEXT NOT NULL,
  dataflow TEXT NOT NULL CHECK (dataflow IN ('confirmed', 'unconfirmed')),
  FOREIGN KEY (apk_sha256, ruleset_sha256) REFERENCES scans ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS chains_scan ON chains (apk_sha256, ruleset_sha256);
CREATE TABLE IF NOT EXISTS recovered_payloads (
  apk_sha256 TEXT NOT NULL,
  ruleset_sha256 TEXT NOT NULL,
  entry TEXT NOT NULL,
  steps TEXT NOT NULL,
  size INTEGER NOT NULL,
  payload_sha256 TEXT NOT NULL,
  FOREIGN KEY (apk_sha256, ruleset_sha256) REFERENCES scans ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS recovered_scan ON recovered_payloads (apk_sha256, ruleset_sha256);
CREATE TABLE IF NOT EXISTS files (
  path TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  mtime_ns INTEGER NOT NULL,
  apk_sha256 TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS objects (
  url TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  tag TEXT NOT NULL,
  apk_sha256 TEXT NOT NULL
);
-- For the queries docs/batch.md documents and the SQL summary (store_summary.py); added without a schema
-- bump: CREATE ... IF NOT EXISTS gives an older store of this version the same tables and indices.
CREATE INDEX IF NOT EXISTS scans_path ON scans (path, ruleset_sha256);  -- the export's order: no sort to wait on
CREATE INDEX IF NOT EXISTS scans_ruleset_status ON scans (ruleset_sha256, status, verdict);
CREATE INDEX IF NOT EXISTS data_classes_level ON data_classes (data_class, level);
CREATE INDEX IF NOT EXISTS findings_class_effect ON findings (data_class, effect, component);
CREATE INDEX IF NOT EXISTS findings_rank_rule ON findings (severity_rank, rule_id, apk_sha256);
CREATE INDEX IF NOT EXISTS chains_class_channel ON chains (data_class, channel);
"""

_SCAN_COLUMNS = (
    "apk_sha256, ruleset_sha256, path, status, verdict, max_severity, max_severity_rank, package, "
    "version_name, version_code, coverage, error, duration_s, scanned_at, tool_version, report_json"
)


class ResultStore:
    """The SQLite results store (a context manager; closing it commits nothing pending: there is none)."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise InputError(str(self.path), "no such results database")
        try:
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            if create:
                self._db.executescript(SCHEMA)
                self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is not None and migrate(self._db, row[0], SCHEMA_VERSION):  # schema 3: families added
                row = (SCHEMA_VERSION,)
            if row is not None and row[0] == SCHEMA_VERSION:
                self._db.executescript(FAMILY_SCHEMA)
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot use results database {self.path}: {exc}") from exc
        if row is None or row[0] != SCHEMA_VERSION:
            found = row[0] if row else "none"
            raise ConfigError(
                f"{self.path}: results schema version {found}, this appaudit uses {SCHEMA_VERSION} "
                "(and migrates only version 3): scan into a new --db"
            )

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    # ------------------------------------------------------------ writing

    def save(self, record: ScanRecord) -> None:
        """Replace the rows of ``record``'s (APK, ruleset) with it, in one transaction."""
        key = (record.apk_sha256, record.ruleset_sha256)
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM scans WHERE apk_sha256 = ? AND ruleset_sha256 = ?", key)
            db.execute(
                f"INSERT INTO scans ({_SCAN_COLUMNS}) VALUES ({', '.join('?' * 16)})",
                (
                    *key,
                    redact(record.path),  # a URL's user info and query never reach the store
                    record.status.value,
                    record.verdict,
                    record.max_severity,
                    record.max_severity_rank,
                    record.package,
                    record.version_name,
                    record.version_code,
                    record.coverage,
                    record.error,
                    record.duration_s,
                    datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
                    record.tool_version,
                    record.report_json,
                ),
            )
            db.executemany(
                "INSERT INTO findings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (*key, f.rule_id, f.severity, f.severity_rank, f.data_class, f.effect, int(f.dormant))
                    + (f.kind, f.class_name, f.method, f.offset, f.value, f.component)
                    for f in record.findings
                ],
            )
            db.executemany(
                "INSERT INTO data_classes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (*key, d.data_class, d.level, int(d.declared), int(d.read), int(d.dormant), int(d.bulk))
                    + (d.exfiltrated, int(d.at_startup), d.severity)
                    for d in record.data_classes
                ],
            )
            db.executemany(
                "INSERT INTO chains VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (*key, c.data_class, c.channel, c.read_class, c.read_method, c.sink_class, c.sink_method)
                    + (c.sink, c.urls, c.dataflow)
                    for c in record.chains
                ],
            )
            db.executemany(
                "INSERT INTO recovered_payloads VALUES (?, ?, ?, ?, ?, ?)",
                [(*key, p.entry, p.steps, p.size, p.sha256) for p in record.recovered],
            )
            save_rows(db, key, record.fingerprints, record.endpoints)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def replace_family_members(self, rows: Iterable[tuple[str, int, int, float]]) -> None:
        """Replace ``family_members`` with (apk sha256, family, family size, min score) rows."""
        replace_members(self._db, list(rows))

    def remember_files(self, rows: Iterable[tuple[str, int, int, str]]) -> None:
        """Cache (path, size, mtime_ns, sha256) so unchanged files are not hashed again."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)", list(rows))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def remember_objects(self, rows: Iterable[tuple[str, int, str, str]]) -> None:
        """Cache (URL, size, version tag, sha256) so an unchanged object is not fetched again to be keyed."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(
                "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?)", [(redact(u), *rest) for u, *rest in rows]
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # ------------------------------------------------------------ reading

    def known_object(self, url: str, size: int, tag: str) -> str | None:
        """The cached sha256 of the object at ``url`` if its size and version tag are unchanged."""
        row = self._db.execute(
            "SELECT apk_sha256 FROM objects WHERE url = ? AND size = ? AND tag = ?", (redact(url), size, tag)
        ).fetchone()
        return str(row[0]) if row else None

    def known_file(self, path: str, size: int, mtime_ns: int) -> str | None:
        """The cached sha256 of ``path`` if its size and mtime are unchanged."""
        row = self._db.execute(
            "SELECT apk_sha256 FROM files WHERE path = ? AND size = ? AND mtime_ns = ?", (path, size, mtime_ns)
        ).fetchone()
        return str(row[0]) if row else None

    def statuses(self, ruleset_sha256: str) -> dict[str, str]:
        """apk sha256 -> status of every scan stored for this ruleset."""
        rows = self._db.execute("SELECT apk_sha256, status FROM scans WHERE ruleset_sha256 = ?", (ruleset_sha256,))
        return {str(sha): str(status) for sha, status in rows}

    def scan_row(self, apk_sha256: str, ruleset_sha256: str) -> dict[str, Any] | None:
        """The ``scans`` row as a dict (without ``report_json``), None when absent."""
        cur = self._db.execute(
            "SELECT apk_sha256, ruleset_sha256, path, status, verdict, max_severity, max_severity_rank, package, "
            "coverage, error, duration_s FROM scans WHERE apk_sha256 = ? AND ruleset_sha256 = ?",
            (apk_sha256, ruleset_sha256),
        )
        row = cur.fetchone()
        if row is None:
            return None
        return {d[0]: v for d, v in zip(cur.description, row, strict=True)}

    def levels(self, apk_sha256: str, ruleset_sha256: str) -> dict[str, str]:
        rows = self._db.execute(
            "SELECT data_class, level FROM data_classes WHERE apk_sha256 = ? AND ruleset_sha256 = ? ORDER BY rowid",
            (apk_sha256, ruleset_sha256),
        )
        return {str(dc): str(level) for dc, level in rows}

    def rule_ids(self, apk_sha256: str, ruleset_sha256: str) -> tuple[str, ...]:
        rows = self._db.execute(
            "SELECT DISTINCT rule_id FROM findings WHERE apk_sha256 = ? AND ruleset_sha256 = ? ORDER BY rule_id",
            (apk_sha256, ruleset_sha256),
        )
        return tuple(str(r[0]) for r in rows)

    def sdks(self, apk_sha256: str, ruleset_sha256: str) -> tuple[str, ...]:
        """Ids of the SDKs whose code the APK's findings are in."""
        rows = self._db.execute(
            "SELECT DISTINCT substr(component, 5) FROM findings"
            " WHERE apk_sha256 = ? AND ruleset_sha256 = ? AND component LIKE 'sdk:%' ORDER BY 1",
            (apk_sha256, ruleset_sha256),
        )
        return tuple(str(r[0]) for r in rows)

    def summarize_run(
        self, outcomes: Iterable[Outcome], ruleset_sha256: str, *, scanned: int, duplicates: int
    ) -> BatchSummary:
        """The summary of a run's outcomes, counted in SQL (:mod:`appaudit.batch.store_summary`)."""
        db = self._db
        db.execute("BEGIN")
        try:
            load_run(db, outcome_rows(outcomes))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return summarize_store(db, ruleset_sha256, scanned=scanned, duplicates=duplicates)

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> Iterator[dict[str, Any]]:
        """Rows of a read-only query as dicts (for exports and tests)."""
        cur = self._db.execute(sql, params)
        names = [d[0] for d in cur.description]
        for row in cur:
            yield dict(zip(names, row, strict=True))
