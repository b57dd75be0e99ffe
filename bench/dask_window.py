#!/usr/bin/env python3
"""Client memory and throughput of the Dask executor's bounded window, over synthetic inputs.

Run by hand from the repository root (a minute or two; not a test):

    PYTHONPATH=src python3 bench/dask_window.py [--inputs 1000 10000] [--workers 2] [--threads 1]

A ``dask scheduler`` and ``--workers`` ``dask worker`` processes on 127.0.0.1
(subprocesses, so only the client is measured) run a
fake scan task (no APK: it returns a record the size of a real one, with a
20 KB ``report_json`` and ten data-class rows) so that what is measured is the
client: submitting, collecting and writing each record into a fresh results
store as it completes, exactly as ``run_batch`` does. For each input count it
runs the executor twice: with the window (the code as shipped) and with every
task submitted at once (the window made infinite, what the executor did
before). Reported per run: wall time, records per second, the client's peak
traced Python memory (tracemalloc, taken from the start of the run) and its
RSS growth (the largest VmRSS sampled every 100 records, less VmRSS at the start). Results in
``.cache/bench/dask_window.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from appaudit.batch.executors import DaskExecutor  # noqa: E402
from appaudit.batch.isolation import WorkerLimits  # noqa: E402
from appaudit.batch.records import DataClassRow, ScanRecord, ScanStatus, ScanTask  # noqa: E402
from appaudit.batch.store import ResultStore  # noqa: E402
from appaudit.model import DATA_CLASSES  # noqa: E402
from appaudit.ruleset import Ruleset, load_ruleset  # noqa: E402

OUT = REPO / ".cache" / "bench" / "dask_window.json"
REPORT = "x" * 20_000


def fake_scan(task: ScanTask, ruleset: Ruleset, limits: WorkerLimits) -> ScanRecord:
    """A record the size of a real scan's, made without scanning anything."""
    return ScanRecord(
        apk_sha256=task.apk_sha256,
        ruleset_sha256=ruleset.sha256,
        path=task.path,
        status=ScanStatus.OK,
        duration_s=0.0,
        verdict="no_evidence",
        report_json=REPORT,
        data_classes=tuple(
            DataClassRow(
                data_class=dc,
                level="none",
                declared=False,
                read=False,
                dormant=False,
                bulk=False,
                exfiltrated="",
                at_startup=False,
                severity=None,
            )
            for dc in DATA_CLASSES
        ),
    )


class FakeScans(DaskExecutor):
    task_function = staticmethod(fake_scan)


class AllAtOnce(FakeScans):
    """The executor as it was: every task submitted before the first result is read."""

    def window(self, client: Any) -> int:
        return sys.maxsize


@contextlib.contextmanager
def cluster(home: Path, workers: int, threads: int) -> Iterator[str]:
    """``dask scheduler`` and ``dask worker`` as subprocesses on 127.0.0.1: only the client is in this process."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO / "bench")])}
    address_file = home / "scheduler.json"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env, "cwd": home}
    procs = [
        subprocess.Popen(
            ["dask", "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"]
            + ["--scheduler-file", str(address_file)],
            **quiet,  # type: ignore[call-overload]
        )
    ]
    try:
        while not address_file.exists():
            time.sleep(0.1)
        procs.append(
            subprocess.Popen(
                ["dask", "worker", "--scheduler-file", str(address_file), "--host", "127.0.0.1", "--no-dashboard"]
                + ["--nworkers", str(workers), "--nthreads", str(threads), "--memory-limit", "0"],
                **quiet,  # type: ignore[call-overload]
            )
        )
        import distributed

        with distributed.Client(scheduler_file=str(address_file), timeout=60) as client:
            client.wait_for_workers(workers, timeout=120)
            address = str(client.scheduler.address)
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(timeout=30)


def rss_mib() -> float:
    """This process's resident set now (not its high-water mark), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(executor: DaskExecutor, n: int, ruleset: Ruleset) -> dict[str, Any]:
    tasks = [ScanTask(apk_sha256=f"{i:064x}", path=f"s3://bench/in/{i:07d}.apk") for i in range(n)]
    limits = WorkerLimits(timeout_s=60, max_memory_mb=0)
    with tempfile.TemporaryDirectory() as tmp, ResultStore(Path(tmp) / "r.sqlite") as store:
        rss0 = rss_mib()
        rss_top = rss0
        tracemalloc.start()
        t0 = time.perf_counter()
        done = 0
        for record in executor.run(tasks, ruleset, limits):
            store.save(record)
            done += 1
            if done % 100 == 0:
                rss_top = max(rss_top, rss_mib())
        elapsed = time.perf_counter() - t0
        _now, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert done == n
    return {
        "inputs": n,
        "seconds": round(elapsed, 2),
        "per_second": round(n / elapsed, 1),
        "traced_peak_mib": round(peak / 2**20, 2),
        "rss_growth_mib": round(rss_top - rss0, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--inputs", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    logging.getLogger("distributed").setLevel(logging.ERROR)
    ruleset = load_ruleset()
    rows = []
    with tempfile.TemporaryDirectory() as home, cluster(Path(home), args.workers, args.threads) as address:
        # Smallest first, windowed before all-at-once, so later runs cannot flatter earlier ones.
        for n in args.inputs:
            for name, cls in (("window", FakeScans), ("all at once", AllAtOnce)):
                row = {"mode": name, **measure(cls(address), n, ruleset)}
                print(json.dumps(row), flush=True)
                rows.append(row)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout
    meta = {"commit": commit.strip(), "python": platform.python_version(), "workers": args.workers}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "runs": rows}, indent=1) + "\n")
    print(f"| mode | inputs | s | records/s | client peak traced MiB | client RSS growth MiB |  ({meta})")
    for r in rows:
        print(
            f"| {r['mode']} | {r['inputs']:,} | {r['seconds']} | {r['per_second']} | {r['traced_peak_mib']} "
            f"| {r['rss_growth_mib']} |"
        )


if __name__ == "__main__":
    main()
