#!/usr/bin/env python3
"""How cost grows with DEX size: synthetic multidex apps built from the corpus, and the 40 MB budget.

    python3 bench/large.py [--max-dex N] [--timeout S] [--no-androguard]

Takes the classes*.dex of the corpus's largest APKs and packs the first k of
them (k = 1, 2, 4, ... up to --max-dex; 8 of them are 40 MB of DEX) as
classes.dex, classes2.dex, ... into one synthetic APK (the manifest of the
largest APK), under .cache/bench/large/. For each, measures in the same run:
appaudit ``scan()`` in process (the child's peak RSS includes its imports),
appaudit as a whole process, and androguard ``AnalyzeAPK`` as a whole process
(wall time and peak RSS; skipped with --no-androguard: on 40 MB it takes a
minute or more and GBs). Every child has the timeout and is killed at it; a
timeout is printed as such, never dropped. Prints a table, the least-squares
slope in ms per MB with r², and whether the largest app is within issue 13's
budget (a whole-process scan within 10 s and 1 GiB; exit 1 when not). CPU time
(user + system) is printed beside wall time: on a shared machine wall time
can be several times the CPU time, and only the CPU time says what the scan
itself costs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import ANDROGUARD_CHILD, fit_line, run_measured

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / ".cache" / "corpus"
OUT = REPO / ".cache" / "bench" / "large"
MB = 1_000_000
#: Issue 13's budget for a 40 MB multidex app, whole process.
BUDGET_S, BUDGET_MIB = 10.0, 1024.0
INPROC = (
    "import sys, time\nfrom appaudit.api import scan\nfrom appaudit.ruleset import load_ruleset\n"
    "rs = load_ruleset()\nt = time.perf_counter()\nr = scan(sys.argv[1], ruleset=rs)\n"
    "print(time.perf_counter() - t, r.verdict, len(r.errors), ' '.join(c.code for c in r.coverage.reasons))\n"
)


def build(k: int, dexes: list[bytes], manifest: bytes) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"synthetic-{k}dex.apk"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("AndroidManifest.xml", manifest)
        for i, data in enumerate(dexes[:k]):
            zf.writestr("classes.dex" if i == 0 else f"classes{i + 1}.dex", data)
    return path


def corpus_dexes(max_dex: int) -> tuple[list[bytes], bytes]:
    """The DEX files of the largest corpus APKs (at least ``max_dex`` when there are), and the largest's manifest."""
    subprocess.run(["bash", str(REPO.parent / "shared" / "corpus" / "extract.sh"), str(CORPUS)], check=True)
    apks = sorted(CORPUS.glob("*.apk"), key=lambda p: p.stat().st_size, reverse=True)
    dexes: list[bytes] = []
    manifest = b""
    for apk in apks:
        with zipfile.ZipFile(apk) as zf:
            names = [n for n in zf.namelist() if n.startswith("classes") and n.endswith(".dex")]
            if not manifest:
                manifest = zf.read("AndroidManifest.xml")
            dexes.extend(zf.read(n) for n in sorted(names))
        if len(dexes) >= max_dex:
            break
    return dexes, manifest


def _cell(rec: dict[str, Any] | None) -> str:
    if rec is None:
        return "–"
    if rec["timeout"]:
        return f"timeout ({rec['wall_s']:.0f} s)"
    if rec["exit"] not in (0, 1):
        return f"exit {rec['exit']}"
    return f"{rec['wall_s']:.2f} / {rec['user_s'] + rec['sys_s']:.2f} / {rec['maxrss_kb'] / 1024:.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-dex", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=600.0, help="per child, s (600)")
    parser.add_argument("--no-androguard", action="store_true", help="measure appaudit only")
    args = parser.parse_args()
    dexes, manifest = corpus_dexes(args.max_dex)
    counts = [k for k in (1, 2, 4, 6, 8, 12, 16) if k <= min(args.max_dex, len(dexes))]
    rows: list[tuple[float, dict[str, Any], dict[str, Any], dict[str, Any] | None]] = []
    print(
        "| DEX files | DEX MB | appaudit scan() s / child MiB | appaudit process wall s / CPU s / MiB "
        "| AnalyzeAPK process wall s / CPU s / MiB "
        "| AnalyzeAPK / appaudit | verdict, errors, coverage |"
    )
    print("|---|---|---|---|---|---|---|")
    for k in counts:
        apk = build(k, dexes, manifest)
        mb = sum(len(d) for d in dexes[:k]) / MB
        inproc = run_measured([sys.executable, "-c", INPROC, str(apk)], args.timeout)
        out = inproc.pop("_stdout").decode().split(" ", 1)
        inproc["scan_s"] = float(out[0]) if inproc["exit"] == 0 and not inproc["timeout"] else None
        whole = run_measured(
            [sys.executable, "-m", "appaudit", "scan", str(apk), "-f", "json", "--fail-on", "never"], args.timeout
        )
        whole.pop("_stdout")
        ag = None
        if not args.no_androguard:
            ag = run_measured([sys.executable, "-c", ANDROGUARD_CHILD, str(apk)], args.timeout)
            ag.pop("_stdout")
        rows.append((mb, inproc, whole, ag))
        scan_cell = "–" if inproc["scan_s"] is None else f"{inproc['scan_s']:.2f} / {inproc['maxrss_kb'] / 1024:.0f}"
        ratio = f"{ag['wall_s'] / whole['wall_s']:.1f}×" if ag and ag["exit"] == 0 and not ag["timeout"] else "–"
        print(
            f"| {k} | {mb:.1f} | {scan_cell} | {_cell(whole)} | {_cell(ag)} | {ratio} | "
            f"{out[1].strip() if len(out) > 1 else _cell(inproc)} |",
            flush=True,
        )
    def wall(rec: dict[str, Any] | None, exits: tuple[int, ...]) -> float | None:
        return rec["wall_s"] if rec and rec["exit"] in exits and not rec["timeout"] else None

    for label, pick in (
        ("appaudit scan()", lambda r: r[1]["scan_s"]),
        ("appaudit process", lambda r: wall(r[2], (0, 1))),
        ("AnalyzeAPK process", lambda r: wall(r[3], (0,))),
    ):
        pts = [(r[0], pick(r)) for r in rows if pick(r) is not None]
        fit = fit_line([x for x, _ in pts], [y * 1000 for _, y in pts])
        if fit:
            print(
                f"- {label}: {fit['slope']:.0f} ms per MB of DEX, intercept {fit['intercept']:.0f} ms, "
                f"r² {fit['r2']:.3f} (n={fit['n']})"
            )
    mb, _inproc, whole, _ag = rows[-1]
    ok = whole["exit"] in (0, 1) and not whole["timeout"]
    within = ok and whole["wall_s"] <= BUDGET_S and whole["maxrss_kb"] / 1024 <= BUDGET_MIB
    print(
        f"- largest ({mb:.1f} MB of DEX), whole process: {_cell(whole)} (wall s / CPU s / MiB) against "
        f"{BUDGET_S:.0f} s and {BUDGET_MIB:.0f} MiB: {'within budget' if within else 'OVER BUDGET'} (wall time: "
        "on a busy machine compare the CPU time)"
    )
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
