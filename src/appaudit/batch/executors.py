"""Where scans run: worker processes on this machine, or a Dask distributed cluster.

An executor takes the tasks, the ruleset and the limits and yields one
:class:`ScanRecord` per task as each finishes (in completion order). Closing
the iterator (normally, on an exception or on Ctrl-C) stops every worker.
"""

from __future__ import annotations

import importlib
import queue
import threading
from collections.abc import Callable, Generator, Sequence
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

#: Tasks in flight per cluster thread, and the least window (a cluster still starting reports no threads).
WINDOW_PER_THREAD = 2
MIN_WINDOW = 8
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
    locally. Local APK paths must be readable under the same name on every
    worker; URLs are fetched by the worker itself (see ``apk.source``).
    """

    #: What a Dask worker runs per task (bench/dask_window.py swaps in a fake scan to measure the client).
    task_function: Callable[[ScanTask, Ruleset, WorkerLimits], ScanRecord] = staticmethod(dask_scan)

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

    def window(self, client: Any) -> int:
        """Tasks in flight at once: twice the cluster's threads (so none idles between results), at least MIN_WINDOW."""
        try:
            threads = int(sum(client.nthreads().values()))
        except Exception:  # an old or odd scheduler: fall back to the minimum
            threads = 0
        return max(MIN_WINDOW, WINDOW_PER_THREAD * threads)

    def run(
        self, tasks: Sequence[ScanTask], ruleset: Ruleset, limits: WorkerLimits
    ) -> Generator[ScanRecord, None, None]:
        """Submit a bounded window of tasks and top it up as each finishes (back-pressure).

        The client holds at most :meth:`window` futures and their results at a
        time, however many tasks there are; each record is yielded (and so
        stored) as it completes. The window is measured again every time that
        many tasks have finished, so workers that join later are used.
        """
        if not tasks:
            return
        client = self._client()
        in_flight: dict[str, tuple[Any, ScanTask]] = {}
        finished: queue.SimpleQueue[Any] = queue.SimpleQueue()
        try:
            shared_rules = client.scatter(ruleset, broadcast=True, hash=False)
            pending = iter(tasks)
            window = self.window(client)
            since_measure = 0

            def top_up() -> None:
                while len(in_flight) < window:
                    task = next(pending, None)
                    if task is None:
                        return
                    fut = client.submit(self.task_function, task, shared_rules, limits, pure=False)
                    in_flight[fut.key] = (fut, task)
                    fut.add_done_callback(finished.put)  # not as_completed: it needs a default client

            top_up()
            while in_flight:
                fut, task = in_flight.pop(_next(finished).key)
                if fut.status == "finished":
                    record = fut.result()
                else:
                    exc = fut.exception()
                    message = f"dask task failed: {type(exc).__name__}: {exc}"[:500]
                    record = failure_record(task, ruleset.sha256, ScanStatus.CRASHED, message, 0.0)
                fut.release()
                del fut
                since_measure += 1
                if since_measure >= window:
                    window, since_measure = self.window(client), 0
                top_up()
                yield record
        finally:
            for fut, _task in in_flight.values():
                fut.cancel()
            in_flight.clear()
            try:
                client.run(close_dask_slots)
            finally:
                client.close()
