"""The Dask executor stores exactly what the local executor stores (a LocalCluster on loopback)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from appaudit.batch import BatchOptions, Planned, run_batch
from appaudit.batch.worker import TEST_HOOK_ENV
from batch_helpers import content, scans
from conftest import FIXTURES, fixture_apk, run_cli

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A one-worker, two-thread cluster inside this process, on 127.0.0.1, without a dashboard."""
    logging.getLogger("distributed").setLevel(logging.ERROR)
    cluster = distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=2,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=None,
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def test_dask_results_equal_local_results(scheduler: str, tmp_path: Path) -> None:
    local_db, dask_db = tmp_path / "local.sqlite", tmp_path / "dask.sqlite"
    run_batch([str(FIXTURES)], BatchOptions(db=local_db, workers=2))
    events: list[Any] = []
    result = run_batch(
        [str(FIXTURES)], BatchOptions(db=dask_db, executor="dask", scheduler=scheduler), on_event=events.append
    )
    n = len(list(FIXTURES.glob("*.apk")))
    assert events[0] == Planned(inputs=n, to_scan=n, cached=0, duplicates=0, missing=0)
    assert len(events) == n + 1 and result.summary.by_status == {"ok": n}
    assert content(dask_db) == content(local_db)

    events.clear()  # resume works the same way
    run_batch([str(FIXTURES)], BatchOptions(db=dask_db, executor="dask", scheduler=scheduler), on_event=events.append)
    assert events == [Planned(inputs=n, to_scan=0, cached=n, duplicates=0, missing=0)]


def test_dask_isolates_a_killed_worker(scheduler: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TEST_HOOK_ENV, "kill:sms_const.apk")
    db = tmp_path / "r.sqlite"
    names = ["benign", "sms_const", "picker", "contacts_const"]
    run_batch([fixture_apk(n) for n in names], BatchOptions(db=db, executor="dask", scheduler=scheduler))
    stored = scans(db)
    assert (stored["sms_const.apk"]["status"], stored["sms_const.apk"]["error"]) == (
        "crashed",
        "worker killed by signal SIGKILL",
    )
    assert [stored[f"{n}.apk"]["status"] for n in names if n != "sms_const"] == ["ok"] * 3


def test_cli_dask_executor(scheduler: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "r.sqlite"
    res = run_cli(
        ["batch", fixture_apk("benign"), "--executor", "dask", "--scheduler", scheduler, "--db", str(db)], capsys
    )
    assert res.code == 0, res.err
    assert "1 inputs: 1 scanned, 0 from the store, 0 duplicates;" in res.out


def test_unreachable_scheduler_is_a_configuration_error() -> None:
    from appaudit.batch.executors import DaskExecutor
    from appaudit.batch.isolation import WorkerLimits
    from appaudit.batch.records import ScanTask
    from appaudit.errors import ConfigError
    from appaudit.ruleset import load_ruleset

    executor = DaskExecutor("tcp://127.0.0.1:9", connect_timeout_s=1)
    task = ScanTask(apk_sha256="0" * 64, path=fixture_apk("benign"))
    with pytest.raises(ConfigError, match=r"^cannot connect to the Dask scheduler at tcp://127\.0\.0\.1:9: "):
        list(executor.run([task], load_ruleset(), WorkerLimits(timeout_s=5, max_memory_mb=0)))


class _FakeFuture:
    """A future that finishes on a timer thread, as a Dask future finishes on the client's event loop."""

    def __init__(self, key: str, value: Any) -> None:
        self.key, self.status, self._value = key, "finished", value

    def result(self) -> Any:
        return self._value

    def add_done_callback(self, callback: Any) -> None:
        import threading

        threading.Timer(0.001, callback, args=(self,)).start()

    def release(self) -> None:
        pass

    def cancel(self) -> None:
        pass


class _FakeClient:
    """Counts the futures in flight: submitted and not yet handed back as a record."""

    def __init__(self, threads: int) -> None:
        self.threads, self.submitted, self.most_in_flight, self.yielded = threads, 0, 0, 0

    def nthreads(self) -> dict[str, int]:
        return {"tcp://127.0.0.1:1": self.threads}

    def scatter(self, value: Any, **_kw: Any) -> Any:
        return value

    def submit(self, fn: Any, task: Any, *args: Any, **_kw: Any) -> _FakeFuture:
        self.submitted += 1
        self.most_in_flight = max(self.most_in_flight, self.submitted - self.yielded)
        return _FakeFuture(f"k{self.submitted}", fn(task, *args))

    def run(self, fn: Any) -> None:
        pass

    def close(self) -> None:
        pass


def test_dask_executor_keeps_a_bounded_window_in_flight(monkeypatch: pytest.MonkeyPatch) -> None:
    from appaudit.batch.executors import MIN_WINDOW, DaskExecutor
    from appaudit.batch.isolation import WorkerLimits
    from appaudit.batch.records import ScanRecord, ScanStatus, ScanTask
    from appaudit.ruleset import load_ruleset

    def fake_scan(task: ScanTask, ruleset: Any, limits: WorkerLimits) -> ScanRecord:
        return ScanRecord(
            apk_sha256=task.apk_sha256, ruleset_sha256="r", path=task.path, status=ScanStatus.OK, duration_s=0
        )

    client = _FakeClient(threads=6)
    executor = DaskExecutor("tcp://127.0.0.1:1")
    monkeypatch.setattr(executor, "_client", lambda: client)
    monkeypatch.setattr(executor, "task_function", fake_scan)
    tasks = [ScanTask(apk_sha256=f"{i:064x}", path=f"/x/{i}.apk") for i in range(500)]
    seen = []
    for record in executor.run(tasks, load_ruleset(), WorkerLimits(timeout_s=1, max_memory_mb=0)):
        client.yielded += 1
        seen.append(record.path)
    assert sorted(seen) == sorted(t.path for t in tasks)
    # the window (2 x 6 threads), plus the finished one whose record is being handed over
    assert MIN_WINDOW < 12 and client.most_in_flight == 12 + 1
