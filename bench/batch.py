#!/usr/bin/env python3
"""Batch throughput of ``appaudit batch`` (APKs per second) over the real-APK corpus, 1 and 2 workers.

Run by hand from the repository root (about a minute; not a test):

    python3 bench/batch.py [--repeat N] [--workers 1 2] [--out FILE] [--src DIR]

Each measurement is one whole ``python -m appaudit batch CORPUS --db FRESH
--workers N --fail-on never`` process with a fresh, empty store, so it
includes interpreter start-up, the ruleset load, hashing every APK, worker
start-up, scanning and writing every result to SQLite. Throughput is the
number of APKs divided by that wall time. The runs alternate between the
worker counts (1, 2, 2, 1, 1, 2, ...) so that a busy moment on a shared
machine does not always hit the same setting; the median of ``--repeat`` runs
is reported. After each run a second, resumed run over the same store is
timed too (everything cached: the cost of a no-op re-run).

Also recorded: the scan-phase rate printed in the batch summary (workers
busy, without start-up and hashing); the CPU time (user + sys) of the whole
process tree from ``os.wait4`` (the batch process plus the worker processes
it started and reaped) and the largest peak RSS of any one process in that
tree (``ru_maxrss`` of ``wait4``: the batch process or a worker); the 1-minute load average
before each run. On a shared machine wall time depends on what else runs;
CPU time hardly does, so ``APKs / CPU-s`` (and twice that, the throughput
two otherwise idle cores could sustain) is reported next to the wall-clock
figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus"
CACHE_CORPUS = REPO / ".cache" / "corpus"
DEFAULT_OUT = REPO / ".cache" / "bench" / "batch.json"
SUMMARY_RATE = re.compile(r"; ([0-9.]+) s, ([0-9.]+) APKs/s$", re.M)


def extract_corpus(dest: Path) -> list[Path]:
    subprocess.run(["bash", str(CORPUS / "extract.sh"), str(dest)], check=True)
    return sorted(dest.glob("*.apk"))


def run_batch(folder: Path, db: Path, workers: int, src: Path | None) -> dict[str, Any]:
    env = dict(os.environ)
    env.pop("CI", None)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(src), *filter(None, [env.get("PYTHONPATH")])])
    cmd = [sys.executable, "-m", "appaudit", "batch", str(folder), "--db", str(db)]
    cmd += ["--workers", str(workers), "--fail-on", "never"]
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    out = proc.stdout.read() if proc.stdout else ""
    err = proc.stderr.read() if proc.stderr else ""
    match = SUMMARY_RATE.search(out)
    return {
        "workers": workers,
        "wall_s": round(wall, 3),
        "exit": proc.returncode,
        "loadavg_1m": load,
        "tree_cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "max_process_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "scan_phase_rate": float(match.group(2)) if match else None,
        "summary_tail": out.strip().splitlines()[-12:] if out else [],
        "stderr_tail": err[-400:],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--src", type=Path, help="run appaudit from this source tree (first on PYTHONPATH)")
    args = parser.parse_args()

    apks = extract_corpus(CACHE_CORPUS)
    n = len(apks)
    total_mb = sum(p.stat().st_size for p in apks) / 1e6
    runs: list[dict[str, Any]] = []
    order = list(args.workers)
    with tempfile.TemporaryDirectory(prefix="appaudit-bench-") as tmp:
        for rep in range(args.repeat):
            for workers in order if rep % 2 == 0 else list(reversed(order)):
                db = Path(tmp) / f"r{rep}-w{workers}.sqlite"
                fresh = run_batch(CACHE_CORPUS, db, workers, args.src)
                resumed = run_batch(CACHE_CORPUS, db, workers, args.src)
                fresh["resumed_wall_s"] = resumed["wall_s"]
                runs.append(fresh)
                print(
                    f"run {rep + 1} workers {workers}: {fresh['wall_s']:.2f} s = {n / fresh['wall_s']:.2f} APKs/s "
                    f"(scan phase {fresh['scan_phase_rate']} APKs/s, exit {fresh['exit']}, "
                    f"load {fresh['loadavg_1m']:.2f}); resumed re-run {resumed['wall_s']:.2f} s",
                    file=sys.stderr,
                    flush=True,
                )

    lines = [
        f"## appaudit batch throughput — {n} APKs ({total_mb:.1f} MB), {args.repeat} runs per setting",
        "",
        "| workers | median wall s | APKs/s (wall) | scan-phase APKs/s | CPU s (tree) | APKs per CPU-s "
        "| re-run, all cached, s |",
        "|---|---|---|---|---|---|---|",
    ]
    figures: dict[str, Any] = {}
    for workers in args.workers:
        mine = [r for r in runs if r["workers"] == workers and r["exit"] in (0, 1)]
        if not mine:
            lines.append(f"| {workers} | failed | – | – | – | – | – |")
            continue
        wall = statistics.median(r["wall_s"] for r in mine)
        rates = [r["scan_phase_rate"] for r in mine if r["scan_phase_rate"]]
        phase = statistics.median(rates) if rates else None
        resumed = statistics.median(r["resumed_wall_s"] for r in mine)
        cpu = statistics.median(r["tree_cpu_s"] for r in mine)
        figures[str(workers)] = {
            "wall_s": wall,
            "apks_per_s": n / wall,
            "scan_phase_apks_per_s": phase,
            "tree_cpu_s": cpu,
            "apks_per_cpu_s": n / cpu,
        }
        lines.append(
            f"| {workers} | {wall:.2f} | {n / wall:.2f} | {phase if phase is not None else '–'} | {cpu:.2f} "
            f"| {n / cpu:.2f} | {resumed:.2f} |"
        )
    loads = [r["loadavg_1m"] for r in runs]
    lines += ["", f"- 1-minute load average before the runs: {min(loads):.2f}–{max(loads):.2f}, {os.cpu_count()} CPUs"]
    print("\n".join(lines))
    meta = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "argv": sys.argv,
        "head": subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout.strip(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "summary": figures, "runs": runs}, indent=1) + "\n")
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(f"\nraw results: {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
