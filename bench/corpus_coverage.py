#!/usr/bin/env python3
"""Coverage statuses, verdicts and scan times on the real-APK corpus (figures for docs/hostile-input.md).

    python3 bench/corpus_coverage.py [--largest 5] [--timeout S] [--json OUT]

Extracts ../shared/corpus into the git-ignored .cache/corpus (its extract.sh),
then scans every APK as a real process (``python -m appaudit scan APK --format
json --fail-on never``, a hard 300 s cap per APK so that a hang is recorded,
not waited for) and prints: how many ended in a report, an input error or a
crash/hang; coverage statuses and reason codes; verdicts; whether every APK
whose labels say ``behaviour_visible_in_dex`` is false came out inconclusive
or harvesting; and the wall time of the largest APKs (best of three, with
``--timeout`` when given).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
CACHE = ROOT / ".cache" / "corpus"


def run(apk: Path, extra: list[str]) -> tuple[int | None, dict | None, str, float]:  # type: ignore[type-arg]
    cmd = [sys.executable, "-m", "appaudit", "scan", str(apk), "--format", "json", "--fail-on", "never", *extra]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={"PYTHONPATH": str(ROOT / "src")})
    except subprocess.TimeoutExpired:
        return None, None, "hang (300 s)", time.perf_counter() - t0
    elapsed = time.perf_counter() - t0
    doc = json.loads(proc.stdout) if proc.returncode == 0 and proc.stdout else None
    return proc.returncode, doc, proc.stderr.strip(), elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--largest", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=None, help="pass --timeout to the scans of the largest APKs")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    subprocess.run(["bash", str(CORPUS / "extract.sh"), str(CACHE)], check=True, capture_output=True)
    labels = {row["sha256"]: row for row in map(json.loads, (CORPUS / "labels.jsonl").read_text().splitlines()) if row}
    outcomes: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    verdicts: Counter[str] = Counter()
    hidden_bad: list[str] = []
    per_apk = {}
    for sha, row in sorted(labels.items()):
        apk = CACHE / f"{sha}.apk"
        code, doc, err, elapsed = run(apk, [])
        if doc is None:
            outcomes["input_error" if code == 3 else f"failed ({err[:80]})"] += 1
            per_apk[sha] = {"exit": code, "stderr": err}
            continue
        outcomes["report"] += 1
        statuses[doc["coverage"]["status"]] += 1
        codes.update({r["code"] for r in doc["coverage"]["reasons"]})
        verdicts[doc["verdict"]] += 1
        if False in (row.get("behaviour_visible_in_dex") or {}).values() and doc["verdict"] not in (
            "inconclusive",
            "at_risk",
            "harvests",
        ):
            hidden_bad.append(sha[:12])
        per_apk[sha] = {
            "size": apk.stat().st_size,
            "status": doc["coverage"]["status"],
            "reasons": sorted({r["code"] for r in doc["coverage"]["reasons"]}),
            "verdict": doc["verdict"],
            "process_s": round(elapsed, 2),
            "scan_s": doc["run"]["duration_s"],
        }
    largest = sorted(labels, key=lambda s: (CACHE / f"{s}.apk").stat().st_size)[-args.largest :]
    times = []
    for sha in reversed(largest):
        extra = ["--timeout", str(args.timeout)] if args.timeout else []
        best_process, best_scan = float("inf"), float("inf")
        for _ in range(3):
            _code, doc, _err, elapsed = run(CACHE / f"{sha}.apk", extra)
            best_process = min(best_process, elapsed)
            if doc is not None:
                best_scan = min(best_scan, doc["run"]["duration_s"])
        times.append(
            {
                "apk": sha[:12],
                "size_mb": round((CACHE / f"{sha}.apk").stat().st_size / 1e6, 2),
                "process_s": round(best_process, 2),
                "scan_s": best_scan,
            }
        )
    summary = {
        "apks": len(labels),
        "outcomes": dict(outcomes),
        "coverage_status": dict(statuses),
        "reason_codes": dict(sorted(codes.items())),
        "verdicts": dict(verdicts),
        "hidden_behaviour_reported_clean": hidden_bad,
        "largest": times,
        "total_scan_s": round(sum(p.get("scan_s", 0) for p in per_apk.values()), 1),
    }
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"summary": summary, "per_apk": per_apk}, indent=1))
    return 0 if outcomes["report"] + outcomes["input_error"] == len(labels) and not hidden_bad else 1


if __name__ == "__main__":
    sys.exit(main())
