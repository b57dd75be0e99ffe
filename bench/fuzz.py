#!/usr/bin/env python3
"""Mutation fuzzing at scale: many random mutants of the fixture APKs through ``api.scan``.

Run by hand from the repository root (tests/test_fuzz.py runs ~500 in CI):

    python3 bench/fuzz.py [--mutants 12000] [--seed 1] [--jobs N] [--per-mutant-s 20]

(APPAUDIT_FUZZ_SRC=DIR fuzzes another source tree, e.g. an older commit's
``git archive`` snapshot; its bundled rules must be next to it.)

Each mutant is one fixture APK with its zip bytes, its AndroidManifest.xml or
its classes.dex mutated (random byte flips, absurd 32-bit values, values in
the DEX header and in the zip's end records, truncation, deletions,
insertions, copied blocks; 1 to 8 mutations). A mutant passes when the scan
ends in a report (that renders to JSON and text) or an InputError, within
``--per-mutant-s`` seconds, and the report's errors name no Python exception
of a bug (IndexError, struct.error, ...). Failing inputs are saved under
.cache/fuzz/ with the traceback. Prints a JSON summary (the figures quoted in
docs/hostile-input.md) and exits 1 when anything failed.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import signal
import struct
import sys
import time
import traceback
import zipfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = Path(os.environ.get("APPAUDIT_FUZZ_SRC", ROOT / "src"))
sys.path.insert(0, str(SRC))

TARGETS = ("zip", "manifest", "dex")
FIXTURES = sorted(p for p in (ROOT / "fixtures" / "apks").glob("*.apk")) + sorted(
    (ROOT / "fixtures" / "hostile").glob("*_payloads.apk")
)
OUT = ROOT / ".cache" / "fuzz"
CRASH_NAMES = re.compile(
    r"\b(IndexError|KeyError|TypeError|AttributeError|error:|RecursionError|MemoryError|UnicodeDecodeError|"
    r"UnicodeEncodeError|ZeroDivisionError|OverflowError|AssertionError|ValueError)\b"
)
U32 = (0, 1, 0x7F, 0x80, 0xFF, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF)


def mutate(rnd: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rnd.choice((1, 1, 2, 3, 4, 8))):
        n = len(buf)
        if n < 8:
            break
        k = rnd.random()
        if k < 0.35:
            buf[rnd.randrange(n)] = rnd.randrange(256)
        elif k < 0.55:
            pos = rnd.choice((rnd.randrange(n - 4), 4 * rnd.randrange(2, 28), n - rnd.randrange(4, min(n, 128))))
            if 0 <= pos <= n - 4:
                buf[pos : pos + 4] = struct.pack("<I", rnd.choice(U32))
        elif k < 0.65:
            del buf[rnd.randrange(n) :]
        elif k < 0.78:
            pos = rnd.randrange(n)
            del buf[pos : pos + rnd.randrange(1, 256)]
        elif k < 0.9:
            pos = rnd.randrange(n + 1)
            buf[pos:pos] = rnd.randbytes(rnd.randrange(1, 33))
        else:
            src, dst = rnd.randrange(n), rnd.randrange(n)
            buf[dst : dst + 256] = buf[src : src + rnd.randrange(1, 256)]
    return bytes(buf)


def mutant(rnd: random.Random, target: str, apk: bytes) -> bytes:
    if target == "zip":
        return mutate(rnd, apk)
    name = "AndroidManifest.xml" if target == "manifest" else "classes.dex"
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(apk)) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            zout.writestr(info, mutate(rnd, data) if info.filename == name else data)
    return out.getvalue()


class Hang(Exception):
    pass


def _alarm(_sig: int, _frame: object) -> None:
    raise Hang("per-mutant time cap passed")


def worker(args: tuple[int, int, float]) -> dict:  # type: ignore[type-arg]
    seed, count, cap = args
    from appaudit.api import scan
    from appaudit.errors import InputError
    from appaudit.report import render
    from appaudit.ruleset import load_ruleset

    rs = load_ruleset()
    rnd = random.Random(seed)
    apks = [p.read_bytes() for p in FIXTURES]
    path = OUT / f"mutant-{seed}.apk"
    stats: Counter[str] = Counter()
    failures: list[dict] = []  # type: ignore[type-arg]
    slowest = 0.0
    signal.signal(signal.SIGALRM, _alarm)
    for i in range(count):
        target = TARGETS[i % 3]
        data = mutant(rnd, target, rnd.choice(apks))
        path.write_bytes(data)
        t0 = time.perf_counter()
        problem = None
        signal.setitimer(signal.ITIMER_REAL, cap)
        try:
            report = scan(str(path), ruleset=rs)
            render(report, "json")
            render(report, "text")
            bugs = [
                e
                for e in report.errors
                if e.where == "harvest chains"
                or "tolerant reader failed" in e.message
                or (
                    e.where != "signature"
                    and not e.where.endswith("AndroidManifest.xml")
                    and CRASH_NAMES.search(e.message)
                )
            ]
            stats[f"{target}:report:{report.coverage.status}"] += 1
            if bugs:
                problem = f"bug in report errors: {bugs[0].where}: {bugs[0].message}"
        except InputError as exc:
            stats[f"{target}:input_error"] += 1
            if "\n" in str(exc):
                problem = "multi-line InputError"
        except Exception as exc:  # what the fuzzing is for
            problem = "".join(traceback.format_exception(exc))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        elapsed = time.perf_counter() - t0
        slowest = max(slowest, elapsed)
        if problem:
            saved = OUT / f"fail-{seed}-{i}-{target}.apk"
            saved.write_bytes(data)
            saved.with_suffix(".txt").write_text(problem)
            failures.append({"input": str(saved.relative_to(ROOT)), "target": target, "problem": problem[-400:]})
    path.unlink(missing_ok=True)
    return {"stats": dict(stats), "failures": failures, "slowest_s": slowest}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mutants", type=int, default=12000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    parser.add_argument("--per-mutant-s", type=float, default=20.0)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    chunks = 4 * args.jobs
    per = [args.mutants // chunks + (1 if i < args.mutants % chunks else 0) for i in range(chunks)]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(worker, [(args.seed * 1000 + i, n, args.per_mutant_s) for i, n in enumerate(per)]))
    stats: Counter[str] = Counter()
    for r in results:
        stats.update(r["stats"])
    failures = [f for r in results for f in r["failures"]]
    summary = {
        "mutants": sum(per),
        "seed": args.seed,
        "fixtures": len(FIXTURES),
        "outcomes": dict(sorted(stats.items())),
        "failures": len(failures),
        "failure_samples": failures[:10],
        "slowest_mutant_s": round(max(r["slowest_s"] for r in results), 3),
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    json.dump(summary, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
