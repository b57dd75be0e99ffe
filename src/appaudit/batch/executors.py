"""Where scans run: worker processes on this machine, or a Dask distributed cluster.

An executor takes the tasks, the ruleset and the limits and yields one
:class:`ScanRecord` per task as each finishes (in completion order). Closing
the iterator (normally, on an exception or on Ctrl-C) stops every worker.
"""

from __future__ import annotations

import importlib
import queue
import threading
from collections.abc import Generator, Sequence
from typing import Any, Protocol

from appaudit.batch.isolation import IsolatedScanner, WorkerLimits
from appaudit.batch.records import ScanRecord, ScanStatus, ScanTask, failure_record
from appaudit.errors import ConfigError
from appaudit.ruleset import Ruleset


class Executor(Protocol):
    """Runs scans and yields their records as they complete."""

    def run(
        self, tasks: Sequence[ScanTask], ruleset: Ruleset, limits: WorkerLimits
    ) -> Generator[ScanRecord, None, None]: ...


class LocalExecutor:
    """``workers`` isolated worker processes on this machine, each driven by one thread of ours.

    The threads only wait on their worker's socket (no GIL held while waiting);
    the caller's thread consumes the records, so the store is written by one thread.
    """

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ConfigError("--workers must be at least 1")
        self.workers = workers

    def run(
        self, tasks: Sequence[ScanTask], ruleset: Ruleset, limits: WorkerLimits
    ) -> Generator[ScanRecord, None, None]:
        todo: queue.SimpleQueue[ScanTask] = queue.SimpleQueue()
        for task in tasks:
            todo.put(task)
        done: queue.SimpleQueue[ScanRecord | None] = queue.SimpleQueue()
        stop = threading.Event()
        slots = [IsolatedScanner(ruleset, limits) for _ in range(min(self.workers, len(tasks)))]

        def drive(slot: IsolatedScanner) -> None:
            try:
                while not stop.is_set():
                    try:
                        task = todo.get_nowait()
                    except queue.Empty:
                        break
                    record = slot.scan(task)
                    if stop.is_set():
                        break
                    done.put(record)
            finally:
                slot.close()
                done.put(None)

        threads = [threading.Thread(target=drive, args=(s,), name=f"appaudit-slot-{i}") for i, s in enumerate(slots)]
        for t in threads:
            t.start()
        try:
            running = len(threads)
            while running:
                try:
                    item = done.get(timeout=0.2)  # a timeout keeps Ctrl-C responsive
                except queue.Empty:
                    continue
                if item is None:
                    running -= 1
                else:
                    yield item
        finally:
            stop.set()
            for slot in slots:
                slot.kill()
            for t in threads:
                t.join()


# ---------------------------------------------------------------- Dask

_DASK_SLOTS: dict[tuple[int, str, WorkerLimits], IsolatedScanner] = {}
_DASK_LOCK = threading.Lock()


def dask_scan(task: ScanTask, ruleset: Ruleset, limits: WorkerLimits) -> ScanRecord:
    """The task a Dask worker runs: the scan, in an isolated process of this worker thread's own."""
    key = (threading.get_ident(), ruleset.sha256, limits)
    with _DASK_LOCK:
        slot = _DASK_SLOTS.get(key)
        if slot is None:
            slot = _DASK_SLOTS[key] = IsolatedScanner(ruleset, limits)
    return slot.scan(task)


def close_dask_slots() -> int:
    """Stop every isolated worker this process started for Dask tasks; how many slots there were."""
    with _DASK_LOCK:
        slots = list(_DASK_SLOTS.values())
        _DASK_SLOTS.clear()
    for slot in slots:
        slot.kill()
        slot.close()
    return len(slots)


def _next(items: queue.SimpleQueue[Any]) -> Any:
    """The next item, waiting in short steps so that Ctrl-C is not held up."""
    while True:
        try:
            return items.get(timeout=0.2)
        except queue.Empty:
            continue


class DaskExecutor:
    """Scans on a Dask distributed cluster (``pip install 'appaudit[dask]'``).

    Each Dask worker thread keeps its own isolated worker process, so
    timeouts, the memory cap and crash isolation hold there as they do
    locally. APK paths must be readable under the same name on every worker.
    """

    def __init__(self, scheduler: str, *, connect_timeout_s: float = 30.0) -> None:
        self.scheduler = scheduler
        self.connect_timeout_s = connect_timeout_s

    @staticmethod
    def _distributed() -> Any:
        """The ``distributed`` module (optional; untyped here on purpose)."""
        try:
            return importlib.import_module("distributed")
        except ImportError as exc:
            raise ConfigError(
                "--executor dask needs Dask distributed: python3 -m pip install 'appaudit[dask]'"
            ) from exc

    def _client(self) -> Any:
        client_class = self._distributed().Client
        try:
            return client_class(self.scheduler, timeout=self.connect_timeout_s, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"cannot connect to the Dask scheduler at {self.scheduler}: {exc}") from exc

    def run(
        self, tasks: Sequence[ScanTask], ruleset: Ruleset, limits: WorkerLimits
    ) -> Generator[ScanRecord, None, None]:
        if not tasks:
            return
        client = self._client()
        futures: list[Any] = []
        finished: queue.SimpleQueue[Any] = queue.SimpleQueue()
        try:
            shared_rules = client.scatter(ruleset, broadcast=True, hash=False)
            by_key: dict[str, ScanTask] = {}
            for task in tasks:
                fut = client.submit(dask_scan, task, shared_rules, limits, pure=False)
                by_key[fut.key] = task
                futures.append(fut)
                fut.add_done_callback(finished.put)  # not as_completed: it needs a default client
            for _ in range(len(futures)):
                fut = _next(finished)
                task = by_key[fut.key]
                if fut.status == "finished":
                    yield fut.result()
                else:
                    exc = fut.exception()
                    message = f"dask task failed: {type(exc).__name__}: {exc}"[:500]
                    yield failure_record(task, ruleset.sha256, ScanStatus.CRASHED, message, 0.0)
        finally:
            for fut in futures:
                fut.cancel()
            try:
                client.run(close_dask_slots)
            finally:
                client.close()
