#!/usr/bin/env python3
"""What each search of the chain analysis costs on the corpus: CPU seconds and share of the scans' total.

    python3 bench/search_costs.py [--src DIR] [--rounds N]

Scans every corpus APK in this process (``time.process_time`` per scan, less disturbed by a shared
machine's load than wall time) and times, around each call, the four searches of
``analysis.flows.harvest_facts``: the data search (``ChainFinder.follow_data`` without its storage
pass), the storage pass (``ChainFinder._through_stores``), the call-only search
(``ChainFinder.follow_calls``) and the trigger search (``TriggerSearch.paths``). ``--src`` measures
another tree's ``src`` (such as the export ``bench/ab.py REV`` makes in ``.cache/bench/``); with
``--rounds`` the corpus is scanned N times and the round with the smallest total is printed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PARTS = (
    ("data", "data search (`follow_data`, without its storage pass)"),
    ("stores", "storage pass (`_through_stores`)"),
    ("calls", "call-only search (`follow_calls`)"),
    ("triggers", "trigger search (`TriggerSearch.paths`)"),
)


def _timed(owner: Any, name: str, acc: dict[str, float], key: str) -> None:
    orig: Callable[..., Any] = getattr(owner, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return orig(*args, **kwargs)
        finally:
            acc[key] += time.process_time() - start

    setattr(owner, name, timed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", type=Path, default=REPO / "src", help="the appaudit source tree to measure")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    sys.path.insert(0, str(args.src.resolve()))
    from appaudit.analysis import chains, triggers
    from appaudit.api import scan
    from appaudit.ruleset import load_ruleset

    acc = dict.fromkeys((k for k, _ in PARTS), 0.0)
    _timed(chains.ChainFinder, "follow_data", acc, "data")
    _timed(chains.ChainFinder, "_through_stores", acc, "stores")  # inside follow_data: taken out below
    _timed(chains.ChainFinder, "follow_calls", acc, "calls")
    _timed(triggers.TriggerSearch, "paths", acc, "triggers")
    apks = sorted((REPO / ".cache" / "corpus").glob("*.apk"))
    if not apks:
        print("no corpus at .cache/corpus (see docs/benchmarks.md, Method)", file=sys.stderr)
        return 2
    ruleset = load_ruleset()
    best: tuple[float, list[float], dict[str, float]] | None = None
    for _ in range(args.rounds):
        for key in acc:
            acc[key] = 0.0
        times = []
        for apk in apks:
            start = time.process_time()
            scan(str(apk), ruleset=ruleset)
            times.append(time.process_time() - start)
        if best is None or sum(times) < best[0]:
            best = (sum(times), times, dict(acc))
    assert best is not None
    total, times, parts = best
    parts["data"] -= parts["stores"]
    ordered = sorted(times)
    print(f"{args.src}: {len(apks)} APKs, CPU total {total:.2f} s, median {statistics.median(ordered):.3f} s,", end=" ")
    print(f"p90 {ordered[int(0.9 * len(ordered))]:.3f} s")
    print("| part | CPU s | share of the total |\n|---|---|---|")
    for key, label in PARTS:
        print(f"| {label} | {parts[key]:.2f} | {100 * parts[key] / total:.1f} % |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
