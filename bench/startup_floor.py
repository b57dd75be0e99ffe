#!/usr/bin/env python3
"""Where a whole-process scan's time goes, for two revisions side by side.

    python3 bench/startup_floor.py BASE_REV [--runs 15] [--apk PATH]... [--corpus N] [--out FILE]

Measures, for ``BASE_REV`` (exported with ``git archive`` into the git-ignored
``.cache/bench/ab-REV/``, as bench/ab.py does) and the working tree, the wall
time and the CPU time (user + system, from ``os.wait4``: what a busy machine
disturbs least) of these children, each run alternating between the two sides
so that the shared machine's noise falls on both:

- ``python -c pass``: the interpreter alone (the same on both sides: a check of the machine);
- ``import appaudit.cli``: what every command pays before it parses its options;
- ``imports + ruleset``: bench/speed.py's start-up floor (a0), what a scan pays before it reads an APK;
- ``scan benign.apk``: a small fixture, the time almost all start-up;
- ``scan SHA``: each ``--apk``, and ``--corpus N`` corpus APKs picked evenly by in-process
  scan time from bench/ab.py's last results (or by size when there are none), the whole
  ``python -m appaudit scan APK --format json --fail-on never`` of bench/speed.py (a).

The children run with bytecode writing on (an installed appaudit has its ``.pyc``
compiled at install time; ``PYTHONDONTWRITEBYTECODE=1`` in the environment would
otherwise time the compiler on every run) after one warm-up run of each. Prints a
markdown table (median wall and CPU per side, and base/head ratios) and writes the
raw times to ``--out`` as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ab import export
from speed import CACHE_CORPUS, STARTUP_CHILD, extract_corpus

REPO = Path(__file__).resolve().parent.parent
BENIGN = REPO / "fixtures" / "apks" / "benign.apk"
AB_RESULTS = REPO / ".cache" / "bench" / "ab.json"


def _scan(apk: Path) -> list[str]:
    return [sys.executable, "-m", "appaudit", "scan", str(apk), "--format", "json", "--fail-on", "never"]


def _corpus_apks(n: int) -> list[Path]:
    """``n`` corpus APKs spread evenly over the in-process times of bench/ab.py's last run (by size without one)."""
    if n <= 0:
        return []
    apks = sorted(CACHE_CORPUS.glob("*.apk"))
    if not apks:
        extract_corpus(CACHE_CORPUS, [])
        apks = sorted(CACHE_CORPUS.glob("*.apk"))
    key: dict[str, float] = {p.stem: float(p.stat().st_size) for p in apks}
    if AB_RESULTS.is_file():
        head = json.loads(AB_RESULTS.read_text()).get("times", {}).get("head", {})
        if head:
            key = {sha: min(times) for sha, times in head.items() if times}
    ranked = sorted((p for p in apks if p.stem in key), key=lambda p: key[p.stem])
    if not ranked:
        return []
    # evenly spread quantiles: one APK is the median, two are the 1/3 and 2/3 points, ...
    return [ranked[min(len(ranked) - 1, round((i + 1) * len(ranked) / (n + 1)))] for i in range(n)]


def commands(apks: list[Path]) -> dict[str, list[str]]:
    """The measured children, by the name the table gives them."""
    out = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "import appaudit.cli": [sys.executable, "-c", "import appaudit.cli"],
        "imports + ruleset (a0)": [sys.executable, "-c", STARTUP_CHILD],
        "scan benign.apk": _scan(BENIGN),
    }
    for apk in apks:
        out[f"scan {apk.stem[:12]}"] = _scan(apk)
    return out


def child_env(src: Path) -> dict[str, str]:
    """Our environment with ``src`` on PYTHONPATH and bytecode writing on (see the module docstring)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(src)
    return env


def once(command: list[str], src: Path) -> tuple[float, float]:
    """(wall s, user + system CPU s) of one run of ``command`` importing appaudit from ``src``."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, env=child_env(src), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code  # reaped here, not by Popen
    if code not in (0, 1):  # 1: a finding or an inconclusive verdict; anything else is a failure
        raise SystemExit(f"{' '.join(command)} failed ({code}): {err.decode()[-400:]}")
    return elapsed, usage.ru_utime + usage.ru_stime


def measure(cmds: dict[str, list[str]], sides: dict[str, Path], runs: int) -> dict[str, dict[str, list[float]]]:
    """Per command, per side, the wall and CPU times of ``runs`` runs, the two sides alternating."""
    times: dict[str, dict[str, list[float]]] = {}
    for name, command in cmds.items():
        for src in sides.values():  # warm the file cache and write the .pyc files of both
            once(command, src)
        got: dict[str, list[float]] = {f"{side} {kind}": [] for side in sides for kind in ("wall", "cpu")}
        for i in range(runs):
            order = list(sides.items()) if i % 2 == 0 else list(reversed(sides.items()))
            for side, src in order:
                wall, cpu = once(command, src)
                got[f"{side} wall"].append(wall)
                got[f"{side} cpu"].append(cpu)
        times[name] = got
        print(f"{name}: done", file=sys.stderr, flush=True)
    return times


def table(times: dict[str, dict[str, list[float]]]) -> str:
    """The markdown table of medians and base/head ratios."""
    lines = [
        "| child | wall s base / head | ratio | CPU s base / head | ratio |",
        "|---|---|---|---|---|",
    ]
    for name, got in times.items():
        med = {k: statistics.median(v) for k, v in got.items()}
        lines.append(
            f"| {name} | {med['base wall']:.3f} / {med['head wall']:.3f} | {med['base wall'] / med['head wall']:.2f} "
            f"| {med['base cpu']:.3f} / {med['head cpu']:.3f} | {med['base cpu'] / med['head cpu']:.2f} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base", help="git revision to compare the working tree with")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--apk", type=Path, action="append", default=[], help="also time a whole scan of this APK")
    parser.add_argument("--corpus", type=int, default=1, metavar="N", help="also N corpus APKs (default 1: the median)")
    parser.add_argument("--out", type=Path, default=REPO / ".cache" / "bench" / "startup_floor.json")
    args = parser.parse_args()
    sides = {"base": export(args.base), "head": REPO / "src"}
    load = os.getloadavg()
    times = measure(commands([*args.apk, *_corpus_apks(args.corpus)]), sides, args.runs)
    print(f"# Whole-process start-up, {args.base} (base) vs working tree (head), median of {args.runs} runs\n")
    print(f"Load average at the start: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} ({os.cpu_count()} CPUs)\n")
    print(table(times))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"base": args.base, "runs": args.runs, "loadavg": load, "times": times}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
