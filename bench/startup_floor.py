#!/usr/bin/env python3
"""The whole-process start-up floor of two revisions, side by side.

    python3 bench/startup_floor.py BASE_REV [--runs 15]

Measures, for ``BASE_REV`` (exported with ``git archive`` into the git-ignored
``.cache/bench/ab-REV/``, as bench/ab.py does) and the working tree, the wall
time of ``appaudit scan fixtures/apks/benign.apk`` (a small APK: the time is
almost all start-up) and of ``python3 -c "import appaudit.cli"``, each run
alternating between the two sides so that the shared machine's noise falls on
both. Prints the median and the ratio of each as JSON (the figures in
docs/benchmarks.md, "Start-up floor").
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ab import export

REPO = Path(__file__).resolve().parent.parent
BENIGN = REPO / "fixtures" / "apks" / "benign.apk"


def _commands() -> dict[str, list[str]]:
    appaudit = shutil.which("appaudit")
    scan = [appaudit] if appaudit else [sys.executable, "-m", "appaudit"]
    return {
        "scan benign.apk": [*scan, "scan", str(BENIGN), "--format", "json"],
        "import appaudit.cli": [sys.executable, "-c", "import appaudit.cli"],
    }


def _once(command: list[str], src: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(src)}
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, cwd=REPO, timeout=120)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):  # 1: a finding or an inconclusive verdict; anything else is a failure
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.decode()[-400:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base", help="git revision to compare the working tree with")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    sides = {"base": export(args.base), "head": REPO / "src"}
    results: dict[str, dict[str, float]] = {}
    for name, command in _commands().items():
        times: dict[str, list[float]] = {side: [] for side in sides}
        for src in sides.values():  # warm the file cache and the .pyc files of both
            _once(command, src)
        for i in range(args.runs):
            order = list(sides.items()) if i % 2 == 0 else list(reversed(sides.items()))
            for side, src in order:
                times[side].append(_once(command, src))
        base, head = (statistics.median(times[s]) for s in ("base", "head"))
        results[name] = {
            "base_median_s": round(base, 3),
            "head_median_s": round(head, 3),
            "ratio": round(base / head, 2),
        }
    print(json.dumps({"base": args.base, "runs": args.runs, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
