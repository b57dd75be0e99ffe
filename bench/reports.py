#!/usr/bin/env python3
"""Every corpus APK's JSON report, written and compared: "reports unchanged" as a check, not a claim.

    python3 bench/reports.py write DIR [--src SRC] [--only SHA...]
    python3 bench/reports.py compare DIR_BEFORE DIR_AFTER

``write`` scans each corpus sample in process with the deterministic options
(no ``run`` block) and writes ``DIR/<sha256>.json``; ``--src`` points at
another checkout's ``src`` (e.g. one exported by bench/ab.py) so that two
revisions can be compared. ``compare`` prints, per sample, whether the two
reports are byte-identical, and for those that are not, the first JSON paths
that differ; it exits 1 when any report differs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import CACHE_CORPUS, CORPUS, extract_corpus

_CHILD = r"""
import json, sys
from pathlib import Path
from appaudit.api import ScanOptions, scan
from appaudit.report import render
from appaudit.ruleset import load_ruleset
out = Path(sys.argv[1])
ruleset = load_ruleset()
for apk in sys.argv[2:]:
    sha = Path(apk).stem
    try:
        report = scan(apk, ScanOptions(deterministic=True), ruleset=ruleset)
        text = render(report, "json")
    except Exception as exc:  # recorded, so that a crash is a difference too
        text = json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n"
    (out / f"{sha}.json").write_text(text)
"""


def _differences(a: object, b: object, path: str = "$", out: list[str] | None = None) -> list[str]:
    out = [] if out is None else out
    if len(out) >= 5:
        return out
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                out.append(f"{path}.{key}: only in {'after' if key in b else 'before'}")
            else:
                _differences(a[key], b[key], f"{path}.{key}", out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path}: {len(a)} items before, {len(b)} after")
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            _differences(x, y, f"{path}[{i}]", out)
    elif a != b:
        out.append(f"{path}: {json.dumps(a)[:80]} -> {json.dumps(b)[:80]}")
    return out


def write(dest: Path, src: Path | None, only: list[str]) -> int:
    shas = only or sorted(
        json.loads(line)["sha256"] for line in (CORPUS / "labels.jsonl").read_text().splitlines() if line
    )
    extract_corpus(CACHE_CORPUS, shas)
    dest.mkdir(parents=True, exist_ok=True)
    env = None
    if src is not None:
        import os

        env = {**os.environ, "PYTHONPATH": str(src.resolve())}
    apks = [str(CACHE_CORPUS / f"{sha}.apk") for sha in shas]
    subprocess.run([sys.executable, "-c", _CHILD, str(dest), *apks], check=True, env=env)
    print(f"wrote {len(apks)} reports to {dest}")
    return 0


def compare(before: Path, after: Path) -> int:
    names = sorted({p.name for p in before.glob("*.json")} | {p.name for p in after.glob("*.json")})
    changed = 0
    for name in names:
        a, b = before / name, after / name
        if not a.exists() or not b.exists():
            print(f"{name[:12]}  only {'after' if b.exists() else 'before'}")
            changed += 1
            continue
        if a.read_bytes() == b.read_bytes():
            continue
        changed += 1
        print(f"{name[:12]}  differs:")
        for line in _differences(json.loads(a.read_text()), json.loads(b.read_text())):
            print(f"    {line}")
    print(f"{len(names) - changed} of {len(names)} reports identical")
    return 1 if changed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write")
    w.add_argument("dest", type=Path)
    w.add_argument("--src", type=Path, default=None)
    w.add_argument("--only", nargs="*", default=[])
    c = sub.add_parser("compare")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    args = parser.parse_args()
    if args.cmd == "write":
        return write(args.dest, args.src, args.only)
    return compare(args.before, args.after)


if __name__ == "__main__":
    raise SystemExit(main())
