"""Schema 4 of the results store: fingerprint, endpoint and family tables, the ``apps`` view,
and the migration from schema 3 (tables added, rows back-filled from the stored reports).

Kept apart from ``batch.store`` so the store module only calls :func:`migrate` and
:func:`save_rows`.
"""

from __future__ import annotations

import json
import sqlite3

from appaudit.batch.fingerprint_rows import EndpointRow, FingerprintRow, rows_from_report

#: Schema versions :func:`migrate` upgrades in place; older ones are refused.
MIGRATES_FROM = ("3",)

FAMILY_SCHEMA = """
CREATE TABLE IF NOT EXISTS fingerprints (
  apk_sha256 TEXT NOT NULL,
  ruleset_sha256 TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('chain', 'read', 'signer', 'sdk_set')),
  value TEXT NOT NULL,
  data_class TEXT,
  detail TEXT,
  FOREIGN KEY (apk_sha256, ruleset_sha256) REFERENCES scans ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS fingerprints_key ON fingerprints (kind, value);
CREATE INDEX IF NOT EXISTS fingerprints_scan ON fingerprints (apk_sha256, ruleset_sha256);
CREATE TABLE IF NOT EXISTS endpoints (
  apk_sha256 TEXT NOT NULL,
  ruleset_sha256 TEXT NOT NULL,
  data_class TEXT NOT NULL,
  host TEXT NOT NULL,
  path TEXT NOT NULL,
  FOREIGN KEY (apk_sha256, ruleset_sha256) REFERENCES scans ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS endpoints_host ON endpoints (host, path);
CREATE INDEX IF NOT EXISTS endpoints_scan ON endpoints (apk_sha256, ruleset_sha256);
CREATE TABLE IF NOT EXISTS family_members (
  apk_sha256 TEXT PRIMARY KEY,
  family INTEGER NOT NULL,
  family_size INTEGER NOT NULL,
  min_score REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS family_members_family ON family_members (family);
CREATE VIEW IF NOT EXISTS apps AS
SELECT s.apk_sha256, s.ruleset_sha256, s.package, s.version_name, s.path, s.status, s.verdict,
  s.max_severity, s.coverage,
  (SELECT group_concat(data_class || ':' || level, ', ') FROM data_classes d
     WHERE d.apk_sha256 = s.apk_sha256 AND d.ruleset_sha256 = s.ruleset_sha256) AS levels,
  (SELECT detail FROM fingerprints f WHERE f.apk_sha256 = s.apk_sha256 AND f.ruleset_sha256 = s.ruleset_sha256
     AND f.kind = 'sdk_set') AS sdks,
  m.family, m.family_size,
  (SELECT group_concat(DISTINCT host) FROM endpoints e
     WHERE e.apk_sha256 = s.apk_sha256 AND e.ruleset_sha256 = s.ruleset_sha256) AS endpoint_hosts,
  s.report_json IS NOT NULL AS has_report
FROM scans s LEFT JOIN family_members m ON m.apk_sha256 = s.apk_sha256;
"""


def save_rows(
    db: sqlite3.Connection,
    key: tuple[str, str],
    fingerprints: tuple[FingerprintRow, ...],
    endpoints: tuple[EndpointRow, ...],
) -> None:
    """Insert one scan's rows (inside the caller's transaction, after its scans row)."""
    db.executemany(
        "INSERT INTO fingerprints VALUES (?, ?, ?, ?, ?, ?)",
        [(*key, f.kind, f.value, f.data_class, f.detail) for f in fingerprints],
    )
    db.executemany(
        "INSERT INTO endpoints VALUES (?, ?, ?, ?, ?)", [(*key, e.data_class, e.host, e.path) for e in endpoints]
    )


def replace_members(db: sqlite3.Connection, rows: list[tuple[str, int, int, float]]) -> None:
    """Replace every ``family_members`` row with ``rows``, in one transaction."""
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("DELETE FROM family_members")
        db.executemany("INSERT INTO family_members VALUES (?, ?, ?, ?)", rows)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def migrate(db: sqlite3.Connection, found: str, target: str) -> bool:
    """Upgrade a schema-``found`` store to ``target`` in one transaction; False when ``found``
    is not one :data:`MIGRATES_FROM` names (the caller refuses it)."""
    if found not in MIGRATES_FROM:
        return False
    db.execute("BEGIN IMMEDIATE")
    try:
        for statement in FAMILY_SCHEMA.split(";\n"):
            if statement.strip():
                db.execute(statement)
        rows = db.execute("SELECT apk_sha256, ruleset_sha256, report_json FROM scans WHERE report_json IS NOT NULL")
        for sha, ruleset, text in rows.fetchall():
            try:
                doc = json.loads(text)
            except ValueError:  # a damaged stored report only costs its fingerprints
                continue
            save_rows(db, (sha, ruleset), *rows_from_report(doc))
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (target,))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return True
