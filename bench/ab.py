#!/usr/bin/env python3
"""In-process scan time of two revisions of appaudit on the corpus, side by side.

    python3 bench/ab.py BASE_REV [--rounds N] [--out FILE]

``BASE_REV`` (any git revision) is exported with ``git archive`` into the
git-ignored ``.cache/bench/ab-REV/``; the working tree is the other side. Two
long-lived children (one per side, bench/speed.py's in-process child) load
their ruleset once; every APK is then scanned by both, seconds apart, the
order alternating from one APK to the next and, with ``--rounds``, repeated
(the machine is shared and noisy, so only same-run comparisons are
reported). Prints the median, p90 and total per side with the ratio, the
medians over the APKs whose verdict did not change, and the APKs whose time
or verdict changed most. Raw results go to ``--out`` as JSON.

    python3 bench/ab.py src --installed [--rounds N]

compares the working tree's sources (``src``: pure Python) with the appaudit installed for this interpreter
(``--installed``: e.g. the wheel with its mypyc-compiled modules, in a virtualenv), for the same code.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import CACHE_CORPUS, CORPUS, REPO, InProcess, extract_corpus, quantile


def export(rev: str) -> Path:
    sha = subprocess.run(["git", "rev-parse", "--short=12", rev], cwd=REPO, check=True, capture_output=True, text=True)
    dest = REPO / ".cache" / "bench" / f"ab-{sha.stdout.strip()}"
    if not (dest / "src").is_dir():
        dest.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", rev], cwd=REPO, check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest / "src"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base", help="git revision to compare the working tree with ('src': the working tree)")
    parser.add_argument(
        "--installed", action="store_true", help="the head side is the appaudit installed for this interpreter"
    )
    parser.add_argument("--rounds", type=int, default=1, help="scan every APK this many times per side")
    parser.add_argument("--out", type=Path, default=REPO / ".cache" / "bench" / "ab.json")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    shas = sorted(json.loads(line)["sha256"] for line in (CORPUS / "labels.jsonl").read_text().splitlines() if line)
    extract_corpus(CACHE_CORPUS, shas)
    base = REPO / "src" if args.base == "src" else export(args.base)
    head = None if args.installed else REPO / "src"
    sides = {"base": InProcess(args.timeout, base), "head": InProcess(args.timeout, head)}
    times: dict[str, dict[str, list[float]]] = {"base": {}, "head": {}}
    verdicts: dict[str, dict[str, str]] = {"base": {}, "head": {}}
    for k, sha in enumerate(shas * args.rounds):
        order = ["base", "head"] if k % 2 == 0 else ["head", "base"]
        for side in order:
            rec = sides[side].scan(CACHE_CORPUS / f"{sha}.apk")
            if rec.get("ok"):
                times[side].setdefault(sha, []).append(rec["scan_s"])
                verdicts[side][sha] = rec["verdict"]
    for child in sides.values():
        child.close()
    both = [s for s in shas if s in times["base"] and s in times["head"]]
    best = {side: {s: min(times[side][s]) for s in both} for side in sides}
    same = [s for s in both if verdicts["base"][s] == verdicts["head"][s]]

    def row(label: str, sel: list[str]) -> str:
        b = [best["base"][s] for s in sel]
        h = [best["head"][s] for s in sel]
        if not sel:
            return f"| {label} | 0 | - | - | - | - |"
        return (
            f"| {label} | {len(sel)} | {statistics.median(b):.3f} / {statistics.median(h):.3f} | "
            f"{quantile(b, 0.9):.3f} / {quantile(h, 0.9):.3f} | {sum(b):.2f} / {sum(h):.2f} | "
            f"{sum(h) / sum(b):.2f} |"
        )

    named = "the installed appaudit" if args.installed else "working tree"
    print(f"# In-process scan time, {args.base} (base) vs {named} (head), best of {args.rounds}\n")
    print("| APKs | n | median s base / head | p90 s | total s | total ratio head/base |")
    print("|---|---|---|---|---|---|")
    print(row("all", both))
    print(row("verdict unchanged", same))
    print(row("verdict changed", [s for s in both if s not in same]))
    print("\nLargest changes (s):\n")
    for s in sorted(both, key=lambda s: best["head"][s] - best["base"][s], reverse=True)[:8]:
        change = "" if s in same else f" (verdict {verdicts['base'][s]} -> {verdicts['head'][s]})"
        print(f"- {s[:12]}: {best['base'][s]:.3f} -> {best['head'][s]:.3f}{change}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"base": args.base, "times": times, "verdicts": verdicts}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
