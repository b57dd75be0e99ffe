#!/usr/bin/env python3
"""Speed and memory of appaudit against androguard's AnalyzeAPK on the real-APK corpus.

Run by hand from the repository root (it takes minutes, so it is not a test):

    python3 bench/speed.py [--limit N] [--only SHA...] [--out FILE] [--timeout S]

For every APK, in one run and interleaved per APK (the machine is shared and
noisy, so the tools are compared within the same run, on the same APK, seconds
apart; the order of the three measurements rotates from one APK to the next):

(a) whole process: ``python -m appaudit scan APK --format json --fail-on never``;
(b) whole process: androguard ``AnalyzeAPK(APK)`` in a child Python;
(c) in process: ``scan(APK, ruleset=rs)`` in one long-lived child that loaded
    the ruleset once and is fed one path at a time on stdin;
(d) in process: ``AnalyzeAPK(APK)`` in another long-lived child that imported
    androguard once, fed the same way (what (c) is compared with: both without
    their start-up);
(a0) the start-up floor of (a): the imports and the ruleset load, no APK.

Wall time is ``time.perf_counter`` around the child (a, b, a0) or around the
call (c, d); peak RSS is ``ru_maxrss`` (KiB on Linux) from ``os.wait4`` on the
child's pid (a, b, a0) and on each long-lived child at its end (c, d). Every
measurement has the ``--timeout``: a whole process is killed at it, a
long-lived child that has not answered by then is killed and started afresh
for the next APK, and the APK is recorded as a timeout (listed in the summary,
never dropped). The children write ``.pyc`` files (``PYTHONDONTWRITEBYTECODE``
is dropped from their environment: an installed appaudit has them, so without
them (a) would time the compiler). Raw per-APK results go to ``--out`` as JSON;
a markdown summary is printed on stdout, with the load average before and
after the run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import select
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus"
CACHE_CORPUS = REPO / ".cache" / "corpus"
DEFAULT_OUT = REPO / ".cache" / "bench" / "speed.json"
DEX_NAME = re.compile(r"classes\d*\.dex")
MB = 1_000_000  # file sizes in MB (10^6 bytes); RSS is reported in MiB (ru_maxrss is KiB)

ANDROGUARD_CHILD = """\
import sys
from loguru import logger
logger.disable("androguard")
from androguard.misc import AnalyzeAPK
AnalyzeAPK(sys.argv[1])
"""

# Start-up floor of (a): interpreter + the imports and ruleset load a scan needs, no APK.
STARTUP_CHILD = """\
import appaudit.api, appaudit.cli
from appaudit.ruleset import load_ruleset
load_ruleset()
"""

# The long-lived in-process child: load the ruleset once, then one JSON line per path read on stdin.
INPROC_CHILD = """\
import json, resource, sys, time
t0 = time.perf_counter()
from appaudit.api import scan
from appaudit.ruleset import load_ruleset
t1 = time.perf_counter()
rs = load_ruleset()
t2 = time.perf_counter()
def emit(rec):
    rec["maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sys.stdout.write(json.dumps(rec) + "\\n")
    sys.stdout.flush()
emit({"ready": True, "import_s": t1 - t0, "ruleset_s": t2 - t1})
for line in sys.stdin:
    path = line.rstrip("\\n")
    t = time.perf_counter()
    try:
        report = scan(path, ruleset=rs)
        rec = {"ok": True, "verdict": str(report.verdict), "errors": len(report.errors)}
    except Exception as exc:
        rec = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    rec["scan_s"] = time.perf_counter() - t
    rec["path"] = path
    emit(rec)
"""


# The long-lived AnalyzeAPK child (d): androguard imported once, one JSON line per path read on stdin;
# the result is dropped and collected before the next path, so one APK's objects do not slow the next.
ANDROGUARD_INPROC_CHILD = """\
import gc, json, resource, sys, time
t0 = time.perf_counter()
from loguru import logger
logger.disable("androguard")
from androguard.misc import AnalyzeAPK
t1 = time.perf_counter()
def emit(rec):
    rec["maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sys.stdout.write(json.dumps(rec) + "\\n")
    sys.stdout.flush()
emit({"ready": True, "import_s": t1 - t0, "ruleset_s": 0.0})
for line in sys.stdin:
    path = line.rstrip("\\n")
    t = time.perf_counter()
    try:
        result = AnalyzeAPK(path)
        rec = {"ok": True}
    except Exception as exc:
        rec = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    rec["scan_s"] = time.perf_counter() - t
    result = None
    gc.collect()
    rec["path"] = path
    emit(rec)
"""


# ---------------------------------------------------------------- corpus


def extract_corpus(dest: Path, shas: Sequence[str]) -> None:
    """Unpack the password-zipped samples (all, or ``shas``) into ``dest`` (skips ones already there)."""
    subprocess.run(["bash", str(CORPUS / "extract.sh"), str(dest), *shas], check=True)


def resolve_shas(prefixes: Sequence[str]) -> list[str]:
    """Expand sha256 prefixes against the corpus samples; an unknown or ambiguous prefix is an error."""
    known = sorted(p.name.removesuffix(".zip") for p in (CORPUS / "samples").glob("*.zip"))
    out: list[str] = []
    for prefix in prefixes:
        hits = [s for s in known if s.startswith(prefix.lower())]
        if len(hits) != 1:
            sys.exit(f"--only {prefix}: matches {len(hits)} samples")
        out.append(hits[0])
    return out


def dex_bytes(apk: Path) -> tuple[int | None, int | None]:
    """Total uncompressed size of the root ``classes*.dex`` entries and their count (None if not a zip)."""
    try:
        with zipfile.ZipFile(apk) as zf:
            sizes = [i.file_size for i in zf.infolist() if DEX_NAME.fullmatch(i.filename)]
    except (zipfile.BadZipFile, OSError):
        return None, None
    return sum(sizes), len(sizes)


# ---------------------------------------------------------------- measuring

SRC_OVERRIDE: list[Path] = []  # set from --src: run appaudit from another source tree (e.g. a `git archive` snapshot)


def child_env(src: Path | None = None) -> dict[str, str]:
    """The environment of every child: ours, with ``src`` (or --src) first on PYTHONPATH when given."""
    # .pyc written and used, as an installed appaudit has them (the module docstring says why)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    first = src or (SRC_OVERRIDE[0] if SRC_OVERRIDE else None)
    if first is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(first), *filter(None, [env.get("PYTHONPATH")])])
    return env


def provenance() -> dict[str, Any]:
    """Which appaudit the children import, and the state of this checkout (read-only git queries)."""
    probe = (
        "import appaudit, appaudit.resources as r; print(appaudit.__file__); print(r.rules_dir())\n"
        "try:\n    from appaudit import build; print(build.describe())\n"
        "except ImportError:\n    print('pure Python')"  # a tree from before the compiled build
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=child_env(), cwd=REPO)
    lines = done.stdout.split("\n")
    git = ["git", "-C", str(REPO)]
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True).stdout.splitlines()
    return {
        "appaudit_module": lines[0] if lines else None,
        "rules_dir": lines[1] if len(lines) > 1 else None,
        "build": lines[2] if len(lines) > 2 else None,
        "src_override": str(SRC_OVERRIDE[0]) if SRC_OVERRIDE else None,
        "checkout_head": head,
        "checkout_dirty": dirty,
    }


def run_measured(cmd: Sequence[str], timeout: float) -> dict[str, Any]:
    """Run ``cmd`` as a child; wall time, peak RSS (KiB), exit code, and whether it timed out.

    ``os.wait4`` gives the rusage of exactly this child; a timer thread kills it at
    ``timeout`` so the wait itself needs no polling (which would blur the wall time).
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=REPO, env=child_env())
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            proc.kill()

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # tell Popen it has been reaped
        out.seek(0)
        stdout = out.read()
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    return {
        "wall_s": round(wall, 4),
        "maxrss_kb": usage.ru_maxrss,
        "user_s": round(usage.ru_utime, 3),
        "sys_s": round(usage.ru_stime, 3),
        "exit": proc.returncode,
        "timeout": timed_out.is_set(),
        "stdout_bytes": len(stdout),
        "stderr_tail": stderr[-400:] if proc.returncode != 0 else "",
        "_stdout": stdout,
    }


def measure_appaudit(apk: Path, timeout: float) -> dict[str, Any]:
    rec = run_measured(
        [sys.executable, "-m", "appaudit", "scan", str(apk), "--format", "json", "--fail-on", "never"], timeout
    )
    stdout = rec.pop("_stdout")
    try:
        rec["verdict"] = json.loads(stdout).get("verdict")
    except (ValueError, AttributeError):
        rec["verdict"] = None
    return rec


def measure_androguard(apk: Path, timeout: float) -> dict[str, Any]:
    rec = run_measured([sys.executable, "-c", ANDROGUARD_CHILD, str(apk)], timeout)
    rec.pop("_stdout")
    rec["ok"] = rec["exit"] == 0 and not rec["timeout"]
    return rec


def measure_startup(timeout: float) -> dict[str, Any]:
    rec = run_measured([sys.executable, "-c", STARTUP_CHILD], timeout)
    rec.pop("_stdout")
    return rec


class InProcess:
    """A long-lived child, (c) or (d); restarted (and the restart recorded) if it dies or a call times out."""

    def __init__(self, timeout: float, src: Path | None = None, child: str = INPROC_CHILD) -> None:
        self.timeout = timeout
        self.src = src
        self.child = child
        self.proc: subprocess.Popen[bytes] | None = None
        self.stderr: IO[bytes] | None = None
        self.buf = b""
        self.incarnations: list[dict[str, Any]] = []

    def _start(self) -> bool:
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 -- lives as long as the child; closed in close()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", self.child],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            cwd=REPO,
            env=child_env(self.src),
        )
        self.buf = b""
        ready = self._read_line(self.timeout)
        self.incarnations.append({"startup": ready, "scans": 0})
        if ready is None:
            self.close(killed=True)
            return False
        return True

    def _read_line(self, timeout: float) -> dict[str, Any] | None:
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        result: dict[str, Any] = json.loads(line)
        return result

    def scan(self, apk: Path) -> dict[str, Any]:
        if self.proc is None and not self._start():
            tail = self.incarnations[-1].get("stderr_tail", "")
            return {"ok": False, "timeout": False, "error": f"child failed to start: {tail}"}
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write(f"{apk}\n".encode())
            self.proc.stdin.flush()
            rec = self._read_line(self.timeout)
        except BrokenPipeError:
            rec = None
        if rec is None:  # hung or died: record it, end this child, start afresh for the next APK
            self.close(killed=True)
            tail = self.incarnations[-1].get("stderr_tail", "")
            return {"ok": False, "timeout": True, "error": f"no answer (timeout or child died): {tail}"}
        self.incarnations[-1]["scans"] += 1
        rec.pop("path", None)
        rec["scan_s"] = round(rec["scan_s"], 4)
        rec["timeout"] = False
        return rec

    def close(self, *, killed: bool = False) -> None:
        if self.proc is None:
            return
        assert self.proc.stdin is not None and self.proc.stdout is not None and self.stderr is not None
        if killed:
            self.proc.kill()
        with contextlib.suppress(BrokenPipeError):
            self.proc.stdin.close()
        _, status, usage = os.wait4(self.proc.pid, 0)
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        self.proc.stdout.close()
        self.stderr.seek(0)
        tail = self.stderr.read().decode("utf-8", "replace")[-400:]
        self.stderr.close()
        self.incarnations[-1].update(
            peak_rss_kb=usage.ru_maxrss, exit=self.proc.returncode, killed=killed, stderr_tail=tail
        )
        self.proc = None


# ---------------------------------------------------------------- statistics


def quantile(values: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile (q in [0, 1]) of a non-empty sequence."""
    xs = sorted(values)
    pos = (len(xs) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def fit_line(xs: Sequence[float], ys: Sequence[float]) -> dict[str, float] | None:
    """Least squares y = slope * x + intercept, with r²; None with fewer than 3 points or constant x."""
    if len(xs) < 3:
        return None
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    syy = sum((y - my) ** 2 for y in ys)
    slope = sxy / sxx
    return {"slope": slope, "intercept": my - slope * mx, "r2": (sxy * sxy) / (sxx * syy) if syy else 1.0, "n": len(xs)}


def cpu_of(rows: list[dict[str, Any]], tool: str) -> list[float]:
    """User + system CPU seconds of ``tool``'s child, per row."""
    return [r[tool]["user_s"] + r[tool]["sys_s"] for r in rows]


def in_process_ratios(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """(d) AnalyzeAPK in process against (c) appaudit in process, on the APKs both read within the timeout.

    An APK that (d) timed out on or failed is left out of both totals (which can only make AnalyzeAPK
    look faster than it is) and counted in ``d_timeouts`` / ``d_failures``.
    """
    both = [r for r in rows if r["inproc"].get("ok") and r["ag_inproc"].get("ok")]
    c = [r["inproc"]["scan_s"] for r in both]
    d = [r["ag_inproc"]["scan_s"] for r in both]
    per_apk = [dd / cc for cc, dd in zip(c, d, strict=True) if cc > 0]
    return {
        "n": len(both),
        "c_total_s": sum(c),
        "d_total_s": sum(d),
        "ratio_of_totals": sum(d) / sum(c) if both and sum(c) > 0 else None,
        "median_of_ratios": statistics.median(per_apk) if per_apk else None,
        "min_ratio": min(per_apk) if per_apk else None,
        "d_timeouts": [r["sha256"] for r in rows if r["ag_inproc"].get("timeout")],
        "d_failures": [r["sha256"] for r in rows if not r["ag_inproc"].get("ok") and not r["ag_inproc"].get("timeout")],
    }


def _total_ratio(rows: list[dict[str, Any]], num: str, den: str) -> float | None:
    """Sum of ``num``'s wall time over sum of ``den``'s, on ``rows``."""
    total = sum(r[den]["wall_s"] for r in rows)
    return sum(r[num]["wall_s"] for r in rows) / total if rows and total > 0 else None


def summarize(
    rows: list[dict[str, Any]], inproc: InProcess, ag_inproc: InProcess, load: dict[str, list[float]]
) -> tuple[str, dict[str, Any]]:
    """The markdown summary and the same figures as a dict (``load``: the load average before and after)."""
    a_ok = [r for r in rows if r["appaudit"]["exit"] in (0, 1) and not r["appaudit"]["timeout"]]
    b_ok = [r for r in rows if r["androguard"]["ok"]]
    c_ok = [r for r in rows if r["inproc"].get("ok")]
    d_ok = [r for r in rows if r["ag_inproc"].get("ok")]
    dc = in_process_ratios(rows)

    def col(sel: list[dict[str, Any]], tool: str, key: str, scale: float = 1.0) -> list[float]:
        return [r[tool][key] * scale for r in sel]

    def stats3(xs: list[float], fmt: str) -> str:
        if not xs:
            return "– | – | –"
        return " | ".join(format(v, fmt) for v in (statistics.median(xs), quantile(xs, 0.9), max(xs)))

    kib_to_mib = 1 / 1024
    a_wall, b_wall = col(a_ok, "appaudit", "wall_s"), col(b_ok, "androguard", "wall_s")
    a_rss = col(a_ok, "appaudit", "maxrss_kb", kib_to_mib)
    b_rss = col(b_ok, "androguard", "maxrss_kb", kib_to_mib)
    c_scan = col(c_ok, "inproc", "scan_s")
    d_scan = col(d_ok, "ag_inproc", "scan_s")
    s_ok = [r for r in rows if r["startup"]["exit"] == 0 and not r["startup"]["timeout"]]
    s_wall, s_rss = col(s_ok, "startup", "wall_s"), col(s_ok, "startup", "maxrss_kb", kib_to_mib)
    both = [r for r in a_ok if r in b_ok]
    ratios = [r["androguard"]["wall_s"] / r["appaudit"]["wall_s"] for r in both]
    rss_ratios = [r["androguard"]["maxrss_kb"] / r["appaudit"]["maxrss_kb"] for r in both]
    med_ratio = statistics.median(ratios) if ratios else None
    ratio_of_medians = (
        (statistics.median(col(both, "androguard", "wall_s")) / statistics.median(col(both, "appaudit", "wall_s")))
        if both
        else None
    )
    cpu_ratios = [cpu_of([r], "androguard")[0] / cpu_of([r], "appaudit")[0] for r in both]
    exits = Counter(r["appaudit"]["exit"] for r in rows)
    other_exits = {str(k): v for k, v in exits.items() if k not in (0, 1)}
    ag_fail = [r for r in rows if not r["androguard"]["ok"]]
    inproc_peak = max((i.get("peak_rss_kb", 0) for i in inproc.incarnations), default=0) * kib_to_mib
    ag_peak = max((i.get("peak_rss_kb", 0) for i in ag_inproc.incarnations), default=0) * kib_to_mib
    before, after = load["before"], load["after"]

    with_dex = [r for r in c_ok if r["dex_bytes"]]
    fit = fit_line([r["dex_bytes"] / MB for r in with_dex], [r["inproc"]["scan_s"] * 1000 for r in with_dex])
    with_dex_b = [r for r in b_ok if r["dex_bytes"]]
    fit_b = fit_line([r["dex_bytes"] / MB for r in with_dex_b], [r["androguard"]["wall_s"] * 1000 for r in with_dex_b])

    def f(x: float | None, fmt: str = ".2f") -> str:
        return "–" if x is None else format(x, fmt)

    lines = [
        f"## appaudit vs androguard AnalyzeAPK — {len(rows)} APKs",
        "",
        f"Load average (1, 5, 15 min) before {before[0]:.1f} / {before[1]:.1f} / {before[2]:.1f}, "
        f"after {after[0]:.1f} / {after[1]:.1f} / {after[2]:.1f}; {os.cpu_count()} CPUs.",
        "",
        "| target (issue 13) | measured |",
        "|---|---|",
        f"| (d)/(c) in process, ratio of totals (≥ 10×) | {f(dc['ratio_of_totals'], '.1f')}× "
        f"({dc['d_total_s']:.1f} s / {dc['c_total_s']:.1f} s on {dc['n']} APKs both read) |",
        f"| (d)/(c) in process, median of per-APK ratios | {f(dc['median_of_ratios'], '.1f')}× "
        f"(min {f(dc['min_ratio'], '.1f')}×) |",
        f"| (c) in process, median / p90 (≤ 0.08 / ≤ 0.30 s) | "
        f"{f(statistics.median(c_scan) if c_scan else None, '.3f')} / "
        f"{f(quantile(c_scan, 0.9) if c_scan else None, '.3f')} s |",
        f"| (a) whole process, median (≤ 0.25 s) | {f(statistics.median(a_wall) if a_wall else None, '.3f')} s |",
        f"| (b)/(a) whole process, ratio of totals | {f(_total_ratio(both, 'androguard', 'appaudit'), '.1f')}× |",
        f"| (a0) start-up floor, median | {f(statistics.median(s_wall) if s_wall else None, '.3f')} s |",
        "",
        "| measure | n ok | median | p90 | max |",
        "|---|---|---|---|---|",
        f"| (a) appaudit scan, whole process, wall s | {len(a_ok)} | {stats3(a_wall, '.3f')} |",
        f"| (a) appaudit scan, whole process, peak RSS MiB | {len(a_ok)} | {stats3(a_rss, '.0f')} |",
        f"| (b) AnalyzeAPK, whole process, wall s | {len(b_ok)} | {stats3(b_wall, '.3f')} |",
        f"| (b) AnalyzeAPK, whole process, peak RSS MiB | {len(b_ok)} | {stats3(b_rss, '.0f')} |",
        f"| (c) appaudit scan() in process, s | {len(c_ok)} | {stats3(c_scan, '.3f')} |",
        f"| (d) AnalyzeAPK in process, s | {len(d_ok)} | {stats3(d_scan, '.3f')} |",
        f"| (a0) start-up floor of (a) (imports + ruleset, no APK), wall s | {len(s_wall)} | {stats3(s_wall, '.3f')} |",
        f"| (a0) start-up floor of (a), peak RSS MiB | {len(s_rss)} | {stats3(s_rss, '.0f')} |",
        "",
        f"- (c) long-lived process: peak RSS {inproc_peak:.0f} MiB over {sum(i['scans'] for i in inproc.incarnations)}"
        f" scans, {len(inproc.incarnations)} process(es); import "
        + ", ".join(f(i["startup"] and i["startup"]["import_s"], ".2f") for i in inproc.incarnations)
        + " s, ruleset load "
        + ", ".join(f(i["startup"] and i["startup"]["ruleset_s"], ".3f") for i in inproc.incarnations)
        + " s",
        f"- (d) long-lived process: peak RSS {ag_peak:.0f} MiB over "
        f"{sum(i['scans'] for i in ag_inproc.incarnations)} calls, {len(ag_inproc.incarnations)} process(es); "
        f"timeouts {len(dc['d_timeouts'])} ({', '.join(s[:12] for s in dc['d_timeouts']) or 'none'}), "
        f"failures {len(dc['d_failures'])} ({', '.join(s[:12] for s in dc['d_failures']) or 'none'})",
        f"- (b)/(a) wall time on {len(both)} APKs where both succeeded: median of per-APK ratios "
        f"{f(med_ratio, '.1f')}×, ratio of medians {f(ratio_of_medians, '.1f')}×, "
        f"min per-APK ratio {f(min(ratios) if ratios else None, '.1f')}×; peak RSS (b)/(a) median "
        f"{f(statistics.median(rss_ratios) if rss_ratios else None, '.2f')}×",
        "- CPU time (user+sys) of the child, median, less sensitive to a busy machine than wall time: "
        + ", ".join(
            f"{label} {f(statistics.median(cpu) if cpu else None, '.3f')} s"
            for label, cpu in (
                ("(a)", cpu_of(a_ok, "appaudit")),
                ("(b)", cpu_of(b_ok, "androguard")),
                ("(a0)", cpu_of(s_ok, "startup")),
            )
        )
        + f"; (b)/(a) median of per-APK ratios {f(statistics.median(cpu_ratios) if cpu_ratios else None, '.1f')}×",
        f"- appaudit exit codes: {dict(sorted(exits.items()))}; other than 0/1: "
        f"{sum(other_exits.values())} {other_exits or ''}; timeouts: {sum(r['appaudit']['timeout'] for r in rows)}",
        f"- (c) in-process failures: {len(rows) - len(c_ok)}",
        f"- AnalyzeAPK failures: {len(ag_fail)} ("
        + ", ".join(
            f"{r['sha256'][:12]} {'timeout' if r['androguard']['timeout'] else 'exit ' + str(r['androguard']['exit'])}"
            for r in ag_fail
        )
        + ")",
    ]
    if fit:
        lines.append(
            f"- (c) scan time vs total DEX size (least squares, n={fit['n']}): "
            f"{fit['slope']:.0f} ms/MB, intercept {fit['intercept']:.0f} ms, r² {fit['r2']:.2f}"
        )
    if fit_b:
        lines.append(
            f"- (b) AnalyzeAPK wall vs total DEX size (n={fit_b['n']}): "
            f"{fit_b['slope']:.0f} ms/MB, intercept {fit_b['intercept']:.0f} ms, r² {fit_b['r2']:.2f}"
        )
    biggest = sorted((r for r in rows if r["dex_bytes"]), key=lambda r: r["dex_bytes"], reverse=True)[:5]
    lines += [
        "",
        "Largest-DEX APKs:",
        "",
        "| sha256 | APK MB | DEX MB (files) | (a) s | (a) MiB | (b) s | (b) MiB | (c) s | (b)/(a) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in biggest:
        a, b, c = r["appaudit"], r["androguard"], r["inproc"]
        b_s = f"{b['wall_s']:.2f}" if b["ok"] else ("timeout" if b["timeout"] else f"exit {b['exit']}")
        lines.append(
            f"| {r['sha256'][:12]} | {r['apk_bytes'] / MB:.2f} | {r['dex_bytes'] / MB:.2f} ({r['dex_files']}) "
            f"| {a['wall_s']:.2f} | {a['maxrss_kb'] / 1024:.0f} | {b_s} | "
            f"{b['maxrss_kb'] / 1024:.0f} | {f(c.get('scan_s'))} | "
            f"{f(b['wall_s'] / a['wall_s'], '.1f') if b['ok'] else '–'} |"
        )
    slow = sorted(a_ok, key=lambda r: r["appaudit"]["wall_s"], reverse=True)[:3]
    lines += [
        "",
        "Slowest appaudit (a): "
        + ", ".join(
            f"{r['sha256'][:12]} {r['appaudit']['wall_s']:.2f} s ({(r['dex_bytes'] or 0) / MB:.1f} MB DEX)"
            for r in slow
        ),
    ]
    figures = {
        "n": len(rows),
        "a_ok": len(a_ok),
        "b_ok": len(b_ok),
        "c_ok": len(c_ok),
        "d_ok": len(d_ok),
        "d_scan_median": statistics.median(d_scan) if d_scan else None,
        "d_peak_rss_mib": ag_peak,
        "in_process_d_over_c": dc,
        "whole_process_b_over_a_total": _total_ratio(both, "androguard", "appaudit"),
        "loadavg": load,
        "a_wall_median": statistics.median(a_wall) if a_wall else None,
        "a_rss_mib_median": statistics.median(a_rss) if a_rss else None,
        "b_wall_median": statistics.median(b_wall) if b_wall else None,
        "b_rss_mib_median": statistics.median(b_rss) if b_rss else None,
        "c_scan_median": statistics.median(c_scan) if c_scan else None,
        "c_scan_max": max(c_scan) if c_scan else None,
        "c_peak_rss_mib": inproc_peak,
        "startup_wall_median": statistics.median(s_wall) if s_wall else None,
        "ratio_median_of_ratios": med_ratio,
        "ratio_of_medians": ratio_of_medians,
        "appaudit_exit_codes": {str(k): v for k, v in exits.items()},
        "androguard_failures": [r["sha256"] for r in ag_fail],
        "fit_inproc_ms_per_mb": fit,
        "fit_androguard_ms_per_mb": fit_b,
    }
    return "\n".join(lines), figures


# ---------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="only the first N APKs (sorted by sha256)")
    parser.add_argument("--only", nargs="+", metavar="SHA", default=[], help="only these samples (sha256 prefixes)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"raw JSON results (default {DEFAULT_OUT})")
    parser.add_argument("--timeout", type=float, default=300.0, help="per-process / per-scan timeout, s (300)")
    parser.add_argument(
        "--src", type=Path, help="put this directory (an appaudit src/ tree) first on the children's PYTHONPATH"
    )
    args = parser.parse_args(argv)
    if args.src:
        SRC_OVERRIDE.append(args.src.resolve())
    where = provenance()
    print(f"appaudit from {where['appaudit_module']} ({where['build']}), rules {where['rules_dir']}", file=sys.stderr)

    shas = resolve_shas(args.only)
    extract_corpus(CACHE_CORPUS, shas)
    apks = [CACHE_CORPUS / f"{s}.apk" for s in shas] if shas else sorted(CACHE_CORPUS.glob("*.apk"))
    if args.limit is not None:
        apks = apks[: args.limit]
    if not apks:
        sys.exit("no APKs to measure")

    inproc = InProcess(args.timeout)
    ag_inproc = InProcess(args.timeout, child=ANDROGUARD_INPROC_CHILD)
    steps: dict[str, Callable[[Path], dict[str, Any]]] = {
        "appaudit": lambda p: measure_appaudit(p, args.timeout),
        "androguard": lambda p: measure_androguard(p, args.timeout),
        "inproc": inproc.scan,
        "ag_inproc": ag_inproc.scan,
        "startup": lambda p: measure_startup(args.timeout),
    }
    load = {"before": list(os.getloadavg())}
    names = list(steps)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    rows: list[dict[str, Any]] = []
    t_run = time.perf_counter()
    try:
        for i, apk in enumerate(apks):
            dex, ndex = dex_bytes(apk)
            k = i % len(names)
            order = names[k:] + names[:k]  # rotate so no tool always runs first on a cold page cache
            row: dict[str, Any] = {
                "sha256": apk.stem,
                "apk_bytes": apk.stat().st_size,
                "dex_bytes": dex,
                "dex_files": ndex,
                "order": order,
                "loadavg_1m": os.getloadavg()[0],
            }
            for name in order:
                row[name] = steps[name](apk)
            rows.append(row)
            a, b, c, d = row["appaudit"], row["androguard"], row["inproc"], row["ag_inproc"]
            d_s = f"{d['scan_s']:.2f} s" if d.get("ok") else ("timeout" if d.get("timeout") else "FAIL")
            print(
                f"[{i + 1}/{len(apks)}] {apk.stem[:12]} dex {(dex or 0) / MB:5.2f} MB | appaudit {a['wall_s']:.2f} s "
                f"{a['maxrss_kb'] / 1024:.0f} MiB exit {a['exit']} | AnalyzeAPK {b['wall_s']:.2f} s "
                f"{b['maxrss_kb'] / 1024:.0f} MiB {'ok' if b['ok'] else 'FAIL'} | "
                f"scan() {c.get('scan_s', float('nan')):.3f} s | AnalyzeAPK() {d_s} | "
                f"floor {row['startup']['wall_s']:.2f} s",
                file=sys.stderr,
                flush=True,
            )
    finally:
        inproc.close()
        ag_inproc.close()
    load["after"] = list(os.getloadavg())

    summary, figures = summarize(rows, inproc, ag_inproc, load)
    summary += f"\n\nappaudit measured: {where['build']}, from {where['appaudit_module']}."
    print(summary)
    meta = {
        "started_at": started,
        "elapsed_s": round(time.perf_counter() - t_run, 1),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "timeout_s": args.timeout,
        "argv": list(sys.argv),
        "versions": _versions(),
        "code": where,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "meta": meta,
        "summary": figures,
        "inproc_processes": inproc.incarnations,
        "ag_inproc_processes": ag_inproc.incarnations,
        "apks": rows,
    }
    args.out.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    args.out.with_suffix(".md").write_text(summary + "\n", encoding="utf-8")
    print(f"\nraw results: {args.out}", file=sys.stderr)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for dist in ("appaudit", "androguard"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "not installed"
    return out


if __name__ == "__main__":
    main()
