#!/usr/bin/env python3
"""Time and memory of ``appaudit families`` over a synthetic store of N apps (default 100,000).

    python3 bench/families.py [--apps N] [--db PATH] [--seed S] [--reuse]

Writes the store's rows directly (no scans): apps come in operator families of
1 to 40 apps (sizes drawn from a long-tailed distribution) sharing one chain
fingerprint, one read fingerprint and one upload endpoint, with their own host
variants; a tenth of the families also share a signer; every app has a unique
signer otherwise; 20 library routines are each copied into 2,000 apps (keys
``max_shared`` ignores) and 50 SDK sets are spread over all apps. Then runs
``store_families`` in a child process and reports wall time, CPU time and peak
RSS of that child, and the families found.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))


def _h(*parts: object) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()


def build(db: Path, apps: int, seed: int) -> dict[str, int]:
    from appaudit.batch.store import ResultStore

    db.unlink(missing_ok=True)
    ResultStore(db).close()
    rng = random.Random(seed)
    scans, fps, ends = [], [], []
    n = family = 0
    while n < apps:
        size = min(apps - n, min(40, int(rng.paretovariate(1.2))))
        chain, read, host = _h("chain", family)[:16], _h("read", family)[:16], f"api{family}.invalid"
        signer = _h("signer", family) if rng.random() < 0.1 else None
        for _ in range(size):
            sha = _h("apk", n)
            scans.append((sha, "r" * 64, f"/apks/{n}.apk", "ok", "harvests", f"com.app{n}", 0.0, "2026-01-01", "0"))
            fps.append((sha, "r" * 64, "chain", chain, "contacts", "network"))
            fps.append((sha, "r" * 64, "read", read, "contacts", "contacts"))
            fps.append((sha, "r" * 64, "signer", signer or _h("own", n), None, None))
            fps.append((sha, "r" * 64, "sdk_set", _h("sdks", rng.randrange(50))[:16], None, "sdk"))
            if rng.random() < 0.5:  # a library routine (SDK-like code shared by thousands)
                fps.append((sha, "r" * 64, "read", _h("lib", rng.randrange(20))[:16], "sms", "sms"))
            ends.append((sha, "r" * 64, "contacts", host, f"/v{rng.randrange(3)}/contacts/{{n}}"))
            n += 1
        family += 1
    with ResultStore(db) as store:
        con = store._db  # bench only: bulk rows straight into the tables
        con.execute("BEGIN")
        con.executemany(
            "INSERT INTO scans (apk_sha256, ruleset_sha256, path, status, verdict, package, duration_s, scanned_at,"
            " tool_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            scans,
        )
        con.executemany("INSERT INTO fingerprints VALUES (?, ?, ?, ?, ?, ?)", fps)
        con.executemany("INSERT INTO endpoints VALUES (?, ?, ?, ?, ?)", ends)
        con.execute("COMMIT")
    return {"apps": apps, "operator_families": family, "fingerprint_rows": len(fps), "endpoint_rows": len(ends)}


CHILD = """
import json, resource, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[2])
t0, c0 = time.perf_counter(), time.process_time()
from appaudit.families.api import store_families
from appaudit.families.render import iter_json
r = store_families(Path(sys.argv[1]))
grouped = (round(time.perf_counter() - t0, 2), round(time.process_time() - c0, 2))
grouped_rss = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
size = sum(len(piece) for piece in iter_json(r))  # streamed as the CLI writes it
print(json.dumps({
    "families_wall_s": grouped[0],
    "families_cpu_s": grouped[1],
    "families_peak_rss_mib": grouped_rss,
    "with_json_wall_s": round(time.perf_counter() - t0, 2),
    "with_json_cpu_s": round(time.process_time() - c0, 2),
    "with_json_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    "families": len(r.families),
    "apps_in_families": sum(len(f.apps) for f in r.families),
    "largest": max((len(f.apps) for f in r.families), default=0),
    "common_keys": r.common_keys,
    "json_mib": round(size / 2**20, 1),
}))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--apps", type=int, default=100_000)
    ap.add_argument("--db", type=Path, default=REPO / ".cache" / "bench" / "families.sqlite")
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--reuse", action="store_true", help="Time the store --db as it is (built by an earlier run).")
    args = ap.parse_args()
    args.db.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    built = {"apps": args.apps} if args.reuse else build(args.db, args.apps, args.seed)
    built["build_s"] = round(time.perf_counter() - t0, 1)
    built["store_mib"] = round(args.db.stat().st_size / 2**20, 1)
    out = subprocess.run([sys.executable, "-c", CHILD, str(args.db), str(REPO / "src")], capture_output=True, text=True)
    if out.returncode:
        sys.stderr.write(out.stderr)
        return 1
    print(json.dumps({**built, **json.loads(out.stdout)}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
