#!/usr/bin/env python3
"""What ``scan --with-code`` costs per report, on the corpus (docs/benchmarks.md#excerpts).

    python3 bench/with_code.py [N]      # the first N corpus samples (default: all)

Scans each sample three times in one process, interleaved so machine load hits all three alike:
plain, with ``report_code`` positions only (what turning source lines on by default would cost), and
with ``ScanOptions.with_code`` (positions and excerpts). Prints corpus totals, the median and maximum
per report, and the JSON size with and without code.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from appaudit.api import ScanOptions, scan  # noqa: E402
from appaudit.apk import load_apk  # noqa: E402
from appaudit.apk.dex.report_code import report_code  # noqa: E402
from appaudit.report import render  # noqa: E402
from appaudit.ruleset import load_ruleset  # noqa: E402


def main() -> None:
    paths = sorted((ROOT / ".cache" / "corpus").glob("*.apk"))
    if len(sys.argv) > 1:
        paths = paths[: int(sys.argv[1])]
    ruleset = load_ruleset()
    plain: list[float] = []
    extra_pos: list[float] = []
    extra_code: list[float] = []
    size_plain = size_code = excerpts = truncated = 0
    for p in paths:
        t0 = time.perf_counter()
        base = scan(str(p), ScanOptions(deterministic=True), ruleset=ruleset)
        t1 = time.perf_counter()
        withc = scan(str(p), ScanOptions(deterministic=True, with_code=True), ruleset=ruleset)
        t2 = time.perf_counter()
        facts = load_apk(str(p))  # a fresh index, so no debug info is cached from the scan above
        t3 = time.perf_counter()
        report_code(facts.code, base.findings, base.data_classes, excerpts=False)
        t4 = time.perf_counter()
        plain.append(t1 - t0)
        extra_code.append((t2 - t1) - (t1 - t0))
        extra_pos.append(t4 - t3)
        size_plain += len(render(base, "json"))
        size_code += len(render(withc, "json"))
        excerpts += len(withc.code.excerpts)
        truncated += withc.code.truncated
    n = len(paths)
    print(f"{n} reports; plain scans {sum(plain):.2f} s in total")
    print(
        f"positions only: +{sum(extra_pos) * 1000:.0f} ms in total ({sum(extra_pos) / sum(plain):.2%}), "
        f"median {statistics.median(extra_pos) * 1000:.1f} ms, max {max(extra_pos) * 1000:.1f} ms per report"
    )
    print(
        f"--with-code: +{sum(extra_code):.2f} s in total ({sum(extra_code) / sum(plain):.2%}), "
        f"median {statistics.median(extra_code) * 1000:.1f} ms, max {max(extra_code) * 1000:.1f} ms per report"
    )
    print(
        f"JSON {size_plain / 1e6:.2f} MB -> {size_code / 1e6:.2f} MB; {excerpts} excerpts; {truncated} truncated"
    )


if __name__ == "__main__":
    main()
