#!/usr/bin/env python3
"""How cost grows with DEX size: synthetic multidex apps built from the corpus.

    python3 bench/large.py [--max-dex N]

Takes the classes*.dex of the corpus's largest APKs and packs the first k of
them (k = 1, 2, 4, ... up to --max-dex) as classes.dex, classes2.dex, ... into
one synthetic APK (the manifest of the largest APK), under .cache/bench/large/.
For each, measures in the same run: appaudit ``scan()`` in process, appaudit
as a whole process, and androguard ``AnalyzeAPK`` as a whole process (wall
time and peak RSS). Prints a table and the least-squares slope in ms per MB.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / ".cache" / "corpus"
OUT = REPO / ".cache" / "bench" / "large"
ANDROGUARD = (
    "import sys\nfrom loguru import logger\nlogger.disable('androguard')\n"
    "from androguard.misc import AnalyzeAPK\nAnalyzeAPK(sys.argv[1])\n"
)
INPROC = (
    "import sys, time\nfrom appaudit.api import scan\nfrom appaudit.ruleset import load_ruleset\n"
    "rs = load_ruleset()\nt = time.perf_counter()\nscan(sys.argv[1], ruleset=rs)\n"
    "print(time.perf_counter() - t)\n"
)


def run_with_rss(cmd: list[str]) -> tuple[float, float, str]:
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=REPO)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _pid, _status, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - t0, usage.ru_maxrss / 1024, out.decode().strip()


def build(k: int, dexes: list[bytes], manifest: bytes) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"synthetic-{k}dex.apk"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("AndroidManifest.xml", manifest)
        for i, data in enumerate(dexes[:k]):
            zf.writestr("classes.dex" if i == 0 else f"classes{i + 1}.dex", data)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-dex", type=int, default=8)
    args = parser.parse_args()
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
        if len(dexes) >= args.max_dex:
            break
    counts = [k for k in (1, 2, 4, 6, 8, 12, 16) if k <= min(args.max_dex, len(dexes))]
    rows = []
    print("| DEX files | DEX MB | appaudit scan() s | appaudit process s / MiB | AnalyzeAPK s / MiB | ratio |")
    print("|---|---|---|---|---|---|")
    for k in counts:
        apk = build(k, dexes, manifest)
        mb = sum(len(d) for d in dexes[:k]) / 2**20
        _w, _r, inproc = run_with_rss([sys.executable, "-c", INPROC, str(apk)])
        a_wall, a_rss, _ = run_with_rss(
            [sys.executable, "-m", "appaudit", "scan", str(apk), "-f", "json", "--fail-on", "never"]
        )
        b_wall, b_rss, _ = run_with_rss([sys.executable, "-c", ANDROGUARD, str(apk)])
        rows.append((mb, float(inproc), a_wall, b_wall))
        print(
            f"| {k} | {mb:.1f} | {float(inproc):.2f} | {a_wall:.2f} / {a_rss:.0f} | {b_wall:.2f} / {b_rss:.0f} | "
            f"{b_wall / a_wall:.1f}x |",
            flush=True,
        )
    for label, idx in (("appaudit scan()", 1), ("appaudit process", 2), ("AnalyzeAPK", 3)):
        xs = [r[0] for r in rows]
        ys = [r[idx] * 1000 for r in rows]
        n = len(xs)
        mx, my = sum(xs) / n, sum(ys) / n
        sxx = sum((x - mx) ** 2 for x in xs) or 1.0
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
        print(f"- {label}: {slope:.0f} ms per MB of DEX (intercept {my - slope * mx:.0f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
