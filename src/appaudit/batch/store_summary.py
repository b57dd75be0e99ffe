"""The batch summary counted in SQL over the results store, not in Python over every row.

The run's inputs go into a temporary table (``run_inputs``: input order, path
as shown, sha256, and for an input with no stored result its status and
reason); every count is one GROUP BY joining it with ``scans``,
``data_classes`` and ``findings`` through their (apk_sha256, ruleset_sha256)
indices. An input counts once per occurrence, as the summary promises (two
inputs with the same content count twice in the statuses; they were scanned
once). Memory is that of the counts, whatever the number of inputs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from appaudit.batch.summary import LEVEL_ORDER, STATUS_ORDER, TOP_RULES, BatchSummary, Outcome
from appaudit.model import DATA_CLASSES, Verdict

_CREATE = """
CREATE TEMP TABLE IF NOT EXISTS run_inputs (
  seq INTEGER PRIMARY KEY,
  path TEXT NOT NULL,
  apk_sha256 TEXT,
  status TEXT,
  error TEXT,
  cached INTEGER NOT NULL
)
"""
#: The stored scan of each input, or the input's own status when it has none.
_JOINED = """
FROM run_inputs r LEFT JOIN scans s ON s.apk_sha256 = r.apk_sha256 AND s.ruleset_sha256 = :rs AND r.status IS NULL
"""
#: The inputs whose stored scan is ``ok``. CROSS JOIN fixes the order (SQLite keeps it): from each input to its
#: scan and its rows by primary key or the *_scan indices, never a pass over a whole table per input.
_OK = """
FROM run_inputs r CROSS JOIN scans s ON s.apk_sha256 = r.apk_sha256 AND s.ruleset_sha256 = :rs
"""
_OK_WHERE = "r.status IS NULL AND s.status = 'ok'"


def load_run(db: sqlite3.Connection, rows: Iterable[tuple[str, str | None, str | None, str | None, bool]]) -> None:
    """Fill ``run_inputs`` with (path, sha256, status, error, cached) per input, in input order.

    ``status`` is None for an input whose result is in the store (its status is read from there).
    """
    db.execute(_CREATE)
    db.execute("DELETE FROM run_inputs")
    db.executemany(
        "INSERT INTO run_inputs (path, apk_sha256, status, error, cached) VALUES (?, ?, ?, ?, ?)",
        ((p, sha, status, error, int(cached)) for p, sha, status, error, cached in rows),
    )


def outcome_rows(
    outcomes: Iterable[Outcome],
) -> Iterable[tuple[str, str | None, str | None, str | None, bool]]:
    """``run_inputs`` rows of a run's outcomes: an input with a sha256 has its result in the store."""
    for o in outcomes:
        stored = o.apk_sha256 is not None and o.status != "missing"
        yield o.path, o.apk_sha256, None if stored else o.status, None if stored else o.error, o.cached


def summarize_store(db: sqlite3.Connection, ruleset_sha256: str, *, scanned: int, duplicates: int) -> BatchSummary:
    """The summary of the inputs in ``run_inputs`` (see :func:`load_run`), counted by SQLite."""
    rs = {"rs": ruleset_sha256}
    status = "coalesce(r.status, s.status, 'missing')"
    statuses = dict(db.execute(f"SELECT {status}, count(*) {_JOINED} GROUP BY 1", rs).fetchall())
    inputs, cached = db.execute("SELECT count(*), coalesce(sum(cached), 0) FROM run_inputs").fetchone()
    verdicts = dict(db.execute(f"SELECT s.verdict, count(*) {_OK} WHERE {_OK_WHERE} GROUP BY 1", rs).fetchall())
    levels: dict[str, dict[str, int]] = {}
    level_rows = db.execute(
        f"SELECT d.data_class, d.level, count(*) {_OK} CROSS JOIN data_classes d"
        " ON d.apk_sha256 = s.apk_sha256 AND d.ruleset_sha256 = s.ruleset_sha256"
        f" WHERE {_OK_WHERE} GROUP BY 1, 2",
        rs,
    )
    for data_class, level, n in level_rows:
        levels.setdefault(data_class, {})[level] = n
    order = [dc for dc in DATA_CLASSES if dc in levels] + sorted(set(levels) - set(DATA_CLASSES))
    per_input = (  # each input counts once per rule (or SDK), however many evidence rows it has
        f"SELECT what, count(*) AS n FROM (SELECT DISTINCT r.seq, {{what}} AS what {_OK} CROSS JOIN findings f"
        " ON f.apk_sha256 = s.apk_sha256 AND f.ruleset_sha256 = s.ruleset_sha256"
        f" WHERE {_OK_WHERE} {{where}}) GROUP BY what ORDER BY n DESC, what LIMIT :top"
    )
    top = {**rs, "top": TOP_RULES}
    rules = db.execute(per_input.format(what="f.rule_id", where=""), top).fetchall()
    sdks = db.execute(
        per_input.format(what="substr(f.component, 5)", where="AND f.component LIKE 'sdk:%'"), top
    ).fetchall()
    failures = tuple(
        Outcome(path=path, apk_sha256=sha, status=st, cached=bool(was_cached), verdict=None, error=err)
        for path, sha, st, err, was_cached in db.execute(
            f"SELECT r.path, r.apk_sha256, {status}, coalesce(r.error, s.error), r.cached {_JOINED}"
            f" WHERE {status} <> 'ok' ORDER BY r.seq",
            rs,
        )
    )
    return BatchSummary(
        inputs=int(inputs),
        scanned=scanned,
        cached=int(cached),
        duplicates=duplicates,
        by_status={s: int(statuses[s]) for s in STATUS_ORDER if statuses.get(s)},
        by_verdict={v.value: int(verdicts[v.value]) for v in Verdict if verdicts.get(v.value)},
        levels={dc: {lv: levels[dc][lv] for lv in LEVEL_ORDER if levels[dc].get(lv)} for dc in order},
        top_rules=tuple((str(rule), int(n)) for rule, n in rules),
        top_sdks=tuple((str(sdk), int(n)) for sdk, n in sdks),
        failures=failures,
    )
