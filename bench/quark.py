#!/usr/bin/env python3
"""appaudit against quark-engine on the real-APK corpus, in the same run.

    python3 bench/quark.py [--limit N] [--timeout S] [--venv DIR]

quark-engine is installed from PyPI into its own virtual environment
(``--venv``, default .cache/quark-venv) the first time; it runs offline with
the quark-rules copy in ../shared/peers/quark-rules (``quark -a APK -r RULES
-o OUT``, from a scratch directory because it writes a log where it runs).
For each APK, appaudit (``python -m appaudit scan APK --format json``) and
quark run as whole processes back to back, alternating which goes first;
wall time and the child's peak RSS (``os.wait4``) are recorded. Prints
medians and the per-APK ratio quark/appaudit; raw rows go to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
CORPUS = REPO / ".cache" / "corpus"


def run(cmd: list[str], timeout: float, cwd: Path | None = None) -> dict[str, Any]:
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd)
    deadline = t0 + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            return {
                "wall_s": time.perf_counter() - t0,
                "maxrss_mib": usage.ru_maxrss / 1024,
                "exit": os.waitstatus_to_exitcode(status),
                "timeout": False,
            }
        if time.perf_counter() > deadline:
            proc.kill()
            _pid, _status, usage = os.wait4(proc.pid, 0)
            return {"wall_s": timeout, "maxrss_mib": usage.ru_maxrss / 1024, "exit": None, "timeout": True}
        time.sleep(0.005)


def ensure_quark(venv: Path) -> Path:
    quark = venv / "bin" / "quark"
    if not quark.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "quark-engine"], check=True)
    return quark


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--venv", type=Path, default=REPO / ".cache" / "quark-venv")
    parser.add_argument("--out", type=Path, default=REPO / ".cache" / "bench" / "quark.json")
    args = parser.parse_args()
    subprocess.run(["bash", str(SHARED / "corpus" / "extract.sh"), str(CORPUS)], check=True, capture_output=True)
    quark = ensure_quark(args.venv)
    apks = sorted(CORPUS.glob("*.apk"))[: args.limit]
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for i, apk in enumerate(apks):
            ours = [sys.executable, "-m", "appaudit", "scan", str(apk), "--format", "json", "--fail-on", "never"]
            theirs = [str(quark), "-a", str(apk), "-r", str(SHARED / "peers" / "quark-rules"), "-o", "out.json"]
            steps = [("appaudit", ours, REPO), ("quark", theirs, Path(scratch))]
            if i % 2:
                steps.reverse()
            row: dict[str, Any] = {"sha256": apk.stem, "apk_mib": apk.stat().st_size / 2**20}
            for name, cmd, cwd in steps:
                row[name] = run(cmd, args.timeout, cwd)
            rows.append(row)
            print(
                f"[{i + 1}/{len(apks)}] {apk.stem[:12]} appaudit {row['appaudit']['wall_s']:.2f} s "
                f"quark {row['quark']['wall_s']:.2f} s exit {row['quark']['exit']}",
                file=sys.stderr,
            )
    ok = [r for r in rows if r["quark"]["exit"] == 0 and r["appaudit"]["exit"] in (0, 1)]

    def med(name: str, key: str) -> float:
        return statistics.median(r[name][key] for r in ok)

    ratios = [r["quark"]["wall_s"] / r["appaudit"]["wall_s"] for r in ok]
    print(f"## appaudit vs quark-engine — {len(rows)} APKs, {len(ok)} where both succeeded\n")
    print("| tool | median wall s | max wall s | median peak RSS MiB |")
    print("|---|---|---|---|")
    for name in ("appaudit", "quark"):
        print(
            f"| {name} | {med(name, 'wall_s'):.2f} | {max(r[name]['wall_s'] for r in ok):.2f} | "
            f"{med(name, 'maxrss_mib'):.0f} |"
        )
    print(
        f"\nquark / appaudit wall time: median of per-APK ratios {statistics.median(ratios):.1f}x, "
        f"ratio of medians {med('quark', 'wall_s') / med('appaudit', 'wall_s'):.1f}x"
    )
    failed = [r["sha256"][:12] for r in rows if r["quark"]["exit"] != 0]
    print(f"quark failures or timeouts: {len(failed)} {failed}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
