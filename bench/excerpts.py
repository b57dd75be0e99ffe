#!/usr/bin/env python3
"""What excerpts and source lines cost per report, on the corpus (docs/benchmarks.md#excerpts).

    python3 bench/excerpts.py [N]      # the first N corpus samples (default: all)

Scans each sample, then times ``source_position`` and ``excerpt_for`` (context 3) for every
distinct code evidence site of its findings, outside the scan (the scan itself never runs them).
Prints the totals, the median and maximum per report, and how many sites carry a source line.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from appaudit.api import scan  # noqa: E402
from appaudit.apk import load_apk  # noqa: E402
from appaudit.apk.dex.excerpt import excerpt_for, source_position  # noqa: E402


def main() -> None:
    paths = sorted((ROOT / ".cache" / "corpus").glob("*.apk"))
    if len(sys.argv) > 1:
        paths = paths[: int(sys.argv[1])]
    sites = with_line = 0
    position_s = excerpt_s = 0.0
    per_report: list[float] = []
    for path in paths:
        report = scan(str(path))
        where = {
            (e.dex, e.class_name, e.method, e.offset)
            for f in report.findings
            for e in f.evidence
            if e.class_name and e.method and e.offset is not None
        }
        code = load_apk(str(path)).code
        t0 = time.perf_counter()
        for dex, cls, method, offset in where:
            source_position(code, dex, cls, method, offset)
        t1 = time.perf_counter()
        excerpts = [excerpt_for(code, dex, cls, method, offset) for dex, cls, method, offset in where]
        t2 = time.perf_counter()
        with_line += sum(1 for e in excerpts if e is not None and e.line is not None)
        sites += len(where)
        position_s += t1 - t0
        excerpt_s += t2 - t1
        per_report.append(t2 - t1)
    print(
        f"{len(paths)} APKs, {sites} code evidence sites, {with_line} with a source line; "
        f"source_position {position_s * 1000:.0f} ms in all; excerpt_for {excerpt_s * 1000:.0f} ms in all, "
        f"per report median {statistics.median(per_report) * 1000:.1f} ms, max {max(per_report) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
