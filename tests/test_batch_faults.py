"""Fault isolation: a killed, hung, memory-hungry or corrupt APK costs only itself; interrupted runs resume.

The worker's test hook (APPAUDIT_BATCH_TEST_HOOK, documented in
appaudit.batch.worker as test-only) makes the worker SIGKILL itself, sleep or
allocate when it is given an APK of a given file name.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from appaudit.batch import BatchOptions, Planned, run_batch
from appaudit.batch.worker import TEST_HOOK_ENV
from batch_helpers import report_without_run, rows, scans
from conftest import ROOT, fixture_apk, report_json

GOOD = ["benign", "contacts_const", "dormant_contacts", "permission_only", "sms_inbox", "picker"]


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """Good fixture APKs, a garbage file and a truncated APK in one folder."""
    folder = tmp_path / "apks"
    folder.mkdir()
    for name in [*GOOD, "sms_const", "calllog"]:
        shutil.copy(fixture_apk(name), folder / f"{name}.apk")
    (folder / "garbage.apk").write_bytes(os.urandom(3000))
    data = Path(fixture_apk("neighbours")).read_bytes()
    (folder / "truncated.apk").write_bytes(data[: len(data) // 2])
    return folder


def _assert_good_results(db: Path, names: list[str]) -> None:
    stored = scans(db)
    for name in names:
        row = stored[f"{name}.apk"]
        assert (row["status"], row["error"]) == ("ok", None), name
        assert row["report"] == report_without_run(report_json(name)), name


def test_killed_hung_and_corrupt_apks_cost_only_themselves(
    mixed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TEST_HOOK_ENV, "kill:sms_const.apk,sleep:calllog.apk:60")
    db = tmp_path / "r.sqlite"
    t0 = time.monotonic()
    result = run_batch([str(mixed)], BatchOptions(db=db, workers=2, timeout_s=3))
    assert time.monotonic() - t0 < 40  # the 60 s sleep was cut at 3 s
    stored = scans(db)
    assert len(stored) == 10
    assert (stored["sms_const.apk"]["status"], stored["sms_const.apk"]["error"]) == (
        "crashed",
        "worker killed by signal SIGKILL",
    )
    assert (stored["calllog.apk"]["status"], stored["calllog.apk"]["error"]) == (
        "timeout",
        "no result within 3 s: worker killed",
    )
    assert (stored["garbage.apk"]["status"], stored["garbage.apk"]["error"]) == (
        "error",
        "not a zip archive (an APK is a zip file)",
    )
    assert stored["truncated.apk"]["status"] == "error" and stored["truncated.apk"]["error"]
    for name in ("sms_const", "calllog", "garbage", "truncated"):
        row = stored[f"{name}.apk"]
        assert (row["verdict"], row["report"]) == (None, None)
    assert not [r for r in rows(db, "findings", "rowid") if r["apk_sha256"] == stored["sms_const.apk"]["apk_sha256"]]
    _assert_good_results(db, GOOD)
    assert result.summary.by_status == {"ok": 6, "error": 2, "timeout": 1, "crashed": 1}
    assert [Path(o.path).name for o in result.summary.failures] == [
        "calllog.apk",
        "garbage.apk",
        "sms_const.apk",
        "truncated.apk",
    ]

    # Re-run with the hooks gone: nothing is scanned again ...
    monkeypatch.delenv(TEST_HOOK_ENV)
    before = rows(db, "scans", "path")
    events: list[Any] = []
    run_batch([str(mixed)], BatchOptions(db=db, workers=2), on_event=events.append)
    assert events == [Planned(inputs=10, to_scan=0, cached=10, duplicates=0, missing=0)]
    assert rows(db, "scans", "path") == before
    # ... unless asked to retry the failures: the killed and the hung APK now succeed.
    events.clear()
    run_batch([str(mixed)], BatchOptions(db=db, workers=2, retry_failed=True), on_event=events.append)
    assert events[0] == Planned(inputs=10, to_scan=4, cached=6, duplicates=0, missing=0)
    _assert_good_results(db, [*GOOD, "sms_const", "calllog"])
    assert scans(db)["garbage.apk"]["status"] == "error"


def test_memory_cap_fails_only_that_apk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TEST_HOOK_ENV, "alloc:contacts_const.apk:8192")
    db = tmp_path / "r.sqlite"
    paths = [fixture_apk(n) for n in ("benign", "contacts_const", "picker", "sms_inbox")]
    run_batch(paths, BatchOptions(db=db, workers=1, max_memory_mb=1024))
    stored = scans(db)
    assert (stored["contacts_const.apk"]["status"], stored["contacts_const.apk"]["error"]) == (
        "error",
        "memory limit exceeded (--max-memory 1024 MB)",
    )
    _assert_good_results(db, ["benign", "picker", "sms_inbox"])


def _worker_pids(parent: int) -> list[int]:
    """Live worker processes started by ``parent`` (their command line ends with its pid)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"from appaudit.batch.worker import main" in b" ".join(argv) and argv[-2:] == [str(parent).encode(), b""]:
            out.append(int(entry.name))
    return out


def _wait_for_rows(db: Path, n: int, proc: subprocess.Popen[str], limit: float = 90) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if db.exists():
            con = sqlite3.connect(db, timeout=5)
            try:
                count = con.execute("SELECT count(*) FROM scans").fetchone()[0]
            except sqlite3.OperationalError:
                count = 0
            finally:
                con.close()
            if count >= n:
                return
        time.sleep(0.1)
    raise AssertionError(f"fewer than {n} results after {limit} s")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT])
def test_interrupted_run_leaves_a_consistent_resumable_store(how: signal.Signals, mixed: Path, tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    env = {**os.environ, TEST_HOOK_ENV: "sleep:truncated.apk:120", "PYTHONPATH": str(ROOT / "src")}
    # One worker scans in path order; the last APK hangs, so the run is stopped with 9 results stored.
    proc = subprocess.Popen(
        [sys.executable, "-m", "appaudit", "batch", str(mixed), "--db", str(db), "--workers", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        _wait_for_rows(db, 9, proc)
        workers = _worker_pids(proc.pid)
        assert len(workers) == 1
        proc.send_signal(how)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    if how == signal.SIGINT:
        assert proc.returncode == 130
        assert err == (
            f"appaudit: error: interrupted: finished APKs are saved in {db}; run the same command again to resume\n"
        )
    else:
        assert proc.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 10
    while _worker_pids(proc.pid) and time.monotonic() < deadline:  # the worker dies with its parent
        time.sleep(0.1)
    assert _worker_pids(proc.pid) == []

    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        per_scan = con.execute(
            "SELECT s.status, count(d.data_class) FROM scans s LEFT JOIN data_classes d "
            "USING (apk_sha256, ruleset_sha256) GROUP BY s.apk_sha256"
        ).fetchall()
    finally:
        con.close()
    assert sorted(per_scan) == sorted([("ok", 10)] * 8 + [("error", 0)])  # every stored APK is complete
    _assert_good_results(db, [*GOOD, "sms_const", "calllog"])

    events: list[Any] = []
    run_batch([str(mixed)], BatchOptions(db=db, workers=1), on_event=events.append)
    assert events[0] == Planned(inputs=10, to_scan=1, cached=9, duplicates=0, missing=0)
    assert events[1].path.endswith("truncated.apk") and events[1].status == "error"
    assert len(scans(db)) == 10
