#!/usr/bin/env python3
"""The results store at a million scans: insert rate, summary time, each documented query's time, file size.

Run by hand from the repository root (about ten minutes for a million; not a test):

    PYTHONPATH=src python3 bench/store_scale.py [--scans 1000000] [--db .cache/bench/store.sqlite]

Rows are synthetic but shaped like real ones: the bundled fixture APKs are
scanned once (a local batch into a scratch store), and their rows — scans
with the real ``report_json``, findings, data classes, chains, recovered
payloads — are copied round-robin under fresh random sha256 keys with
``executemany``, 10,000 scans per transaction, the secondary indices
dropped during the load and built after it (timed apart) (``--reports-every K`` keeps
``report_json`` on one scan in K only, NULL on the rest, for a smaller file), into a store created by
``ResultStore`` (so with every index the batch maintains). Then:

- ``store.save`` rate: records saved one transaction each, the way a batch
  writes, into the full store;
- the SQL summary over every scan (``load_run`` + ``summarize_store``, as if
  one run had covered the whole store);
- every SQL statement of docs/batch.md, all rows fetched;
- ``batch-export`` (CSV and JSONL) for the first 100,000 lines, with the
  export's peak traced memory (it streams from a cursor);
- the file size after a WAL checkpoint.

Results in ``.cache/bench/store_scale.json`` and as a Markdown table.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import platform
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from appaudit.batch import BatchOptions, export_lines, run_batch  # noqa: E402
from appaudit.batch.records import ScanTask, record_from_report  # noqa: E402
from appaudit.batch.store import ResultStore  # noqa: E402
from appaudit.batch.store_summary import load_run, summarize_store  # noqa: E402

FIXTURES = REPO / "fixtures" / "apks"
OUT = REPO / ".cache" / "bench" / "store_scale.json"
TABLES = ("scans", "findings", "data_classes", "chains", "recovered_payloads")
CHUNK = 10_000
SQL_BLOCK = re.compile(r"```sql\n(.*?)```", re.S)


def templates(tmp: Path) -> tuple[dict[str, list[tuple[Any, ...]]], list[str]]:
    """Rows of each table per fixture APK (key columns first), and the fixture sha256s in order."""
    db = tmp / "templates.sqlite"
    run_batch([str(FIXTURES)], BatchOptions(db=db, workers=2))
    con = sqlite3.connect(db)
    shas = [r[0] for r in con.execute("SELECT apk_sha256 FROM scans ORDER BY apk_sha256")]
    rows = {t: con.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in TABLES}
    con.close()
    return rows, shas


def fill(db: Path, n: int, rows: dict[str, list[tuple[Any, ...]]], shas: list[str], every: int) -> dict[str, Any]:
    by_sha = {t: {s: [r[2:] for r in rs if r[0] == s] for s in shas} for t, rs in rows.items()}
    ruleset = rows["scans"][0][1]
    width = {t: len(rs[0]) if rs else 0 for t, rs in rows.items()}
    with ResultStore(db):
        pass  # the schema
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("PRAGMA cache_size=-1000000")  # 1 GB: the bulk load touches every index page at random
    # Bulk load without the secondary indices, then build them (timed apart): a store that grew scan by scan
    # has the same indices; how fast a batch adds to a full store is measured by save_rate.
    secondary = [
        name for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql NOT NULL")
    ]
    for name in secondary:
        con.execute(f"DROP INDEX {name}")
    counts = dict.fromkeys(TABLES, 0)
    t0 = time.perf_counter()
    for start in range(0, n, CHUNK):
        batch: dict[str, list[tuple[Any, ...]]] = {t: [] for t in TABLES}
        for i in range(start, min(n, start + CHUNK)):
            template = shas[i % len(shas)]
            key = (hashlib.sha256(i.to_bytes(8, "big")).hexdigest(), ruleset)
            for t in TABLES:
                batch[t].extend((*key, *r) for r in by_sha[t][template])
            if i % every:  # no report on this one (--reports-every): keeps the file to a size the machine holds
                batch["scans"][-1] = (*batch["scans"][-1][:-1], None)
        con.execute("BEGIN")
        for t in TABLES:
            if batch[t]:
                con.executemany(f"INSERT INTO {t} VALUES ({', '.join('?' * width[t])})", batch[t])
                counts[t] += len(batch[t])
        con.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    con.close()
    t1 = time.perf_counter()
    with ResultStore(db):  # opening creates the missing indices (CREATE INDEX IF NOT EXISTS)
        pass
    index_s = time.perf_counter() - t1
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    total_rows = sum(counts.values())
    return {
        "scans": n,
        "rows": counts,
        "seconds": round(elapsed, 1),
        "scans_per_s": round(n / elapsed),
        "rows_per_s": round(total_rows / elapsed),
        "indices": secondary,
        "index_build_s": round(index_s, 1),
    }


def save_rate(db: Path, count: int) -> dict[str, Any]:
    """``ResultStore.save`` (one transaction per record, as a batch writes) into the full store."""
    from appaudit.api import scan

    records = [
        record_from_report(scan(str(p)), ScanTask(apk_sha256="", path=str(p)), 0.1)
        for p in sorted(FIXTURES.glob("*.apk"))[:8]
    ]
    with ResultStore(db) as store:
        t0 = time.perf_counter()
        for i in range(count):
            r = records[i % len(records)]
            sha = hashlib.sha256(b"save" + i.to_bytes(8, "big")).hexdigest()
            store.save(replace(r, apk_sha256=sha))
        elapsed = time.perf_counter() - t0
    return {"records": count, "seconds": round(elapsed, 2), "per_s": round(count / elapsed)}


def summary_time(db: Path) -> dict[str, Any]:
    con = sqlite3.connect(db, isolation_level=None)
    ruleset = con.execute("SELECT ruleset_sha256 FROM scans LIMIT 1").fetchone()[0]
    t0 = time.perf_counter()
    con.execute("BEGIN")
    load_run(con, ((f"/x/{sha}.apk", sha, None, None, True) for (sha,) in con.execute("SELECT apk_sha256 FROM scans")))
    con.execute("COMMIT")
    t1 = time.perf_counter()
    summary = summarize_store(con, ruleset, scanned=0, duplicates=0)
    t2 = time.perf_counter()
    con.close()
    return {
        "load_run_s": round(t1 - t0, 2),
        "summarize_s": round(t2 - t1, 2),
        "inputs": summary.inputs,
        "by_verdict": summary.by_verdict,
    }


def documented_queries(db: Path) -> list[dict[str, Any]]:
    text = (REPO / "docs" / "batch.md").read_text()
    statements = [s.strip() for block in SQL_BLOCK.findall(text) for s in block.split(";") if s.strip()]
    con = sqlite3.connect(db)
    out = []
    for sql in statements:
        t0 = time.perf_counter()
        n = len(con.execute(sql).fetchall())
        out.append({"sql": " ".join(sql.split()), "rows": n, "seconds": round(time.perf_counter() - t0, 2)})
        print(json.dumps(out[-1]), flush=True)
    con.close()
    return out


def export_time(db: Path, fmt: str, lines: int) -> dict[str, Any]:
    tracemalloc.start()
    t0 = time.perf_counter()
    size = sum(len(line) for line in itertools.islice(export_lines(db, fmt), lines))
    elapsed = time.perf_counter() - t0
    _now, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "format": fmt,
        "lines": lines,
        "seconds": round(elapsed, 1),
        "lines_per_s": round(lines / elapsed),
        "mib": round(size / 2**20),
        "peak_traced_mib": round(peak / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--scans", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=REPO / ".cache" / "bench" / "store.sqlite")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--reports-every", type=int, default=1, help="keep report_json on one scan in K (default 1: on every one)"
    )
    args = parser.parse_args()
    args.db.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{args.db}{suffix}").unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        rows, shas = templates(Path(tmp))
    result: dict[str, Any] = {"insert": fill(args.db, args.scans, rows, shas, args.reports_every)}
    print(json.dumps(result["insert"]), flush=True)
    result["size_mib"] = round(args.db.stat().st_size / 2**20)
    result["save"] = save_rate(args.db, 2000)
    print(json.dumps(result["save"]), flush=True)
    result["summary"] = summary_time(args.db)
    print(json.dumps(result["summary"]), flush=True)
    result["queries"] = documented_queries(args.db)
    result["export"] = [export_time(args.db, fmt, 100_000) for fmt in ("csv", "jsonl")]
    print(json.dumps(result["export"]), flush=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout
    result["meta"] = {
        "reports_every": args.reports_every,
        "commit": commit.strip(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
