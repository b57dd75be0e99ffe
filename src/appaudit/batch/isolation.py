"""One isolated scanning slot: a long-lived worker process that may hang, crash or be killed.

An :class:`IsolatedScanner` owns at most one worker process at a time and
turns whatever happens to it into a :class:`ScanRecord` for the APK it was
scanning: a timeout kills the worker (SIGKILL) and records ``timeout``; a
worker that dies records ``crashed`` with the signal or exit code and the
last line it wrote on stderr. The next APK gets a fresh worker. So a bad APK
costs only itself, and no executor ever sees a broken pool.

Workers are plain subprocesses (not ``multiprocessing`` children) so that a
slot also works inside a daemonic process such as a Dask worker.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import IO

from appaudit.batch.records import ScanRecord, ScanStatus, ScanTask, failure_record
from appaudit.batch.worker import READY, WorkerInit
from appaudit.ruleset import Ruleset

# Not ``-m appaudit.batch.worker``: runpy would run a second copy of the module as __main__,
# whose classes differ from the ones the parent pickles.
_WORKER_MAIN = "from appaudit.batch.worker import main; main()"


def _worker_env() -> dict[str, str]:
    """Our environment, with this process's copy of appaudit first on the path (the worker runs the same code)."""
    import appaudit

    env = dict(os.environ)
    here = os.path.dirname(os.path.dirname(os.path.abspath(appaudit.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([here, *filter(None, [env.get("PYTHONPATH")])])
    return env


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerLimits:
    """Limits every worker runs under."""

    timeout_s: float
    """Wall-clock seconds one APK may take before its worker is killed."""
    max_memory_mb: int
    """Address-space cap of a worker in MiB (RLIMIT_AS); 0 for none."""
    max_tasks: int = 200
    """APKs one worker scans before it is replaced (bounds any slow growth in memory)."""
    startup_timeout_s: float = 120.0
    """Seconds a new worker may take to import the library and load the rules."""


class IsolatedScanner:
    """A scanning slot. Not thread-safe except :meth:`kill`, which any thread may call."""

    def __init__(self, ruleset: Ruleset, limits: WorkerLimits) -> None:
        self.ruleset = ruleset
        self.limits = limits
        self._proc: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        self._stderr: IO[bytes] | None = None
        self._tasks = 0
        self._lock = threading.Lock()
        self.started = 0
        """How many worker processes this slot has started."""

    def _start(self) -> str | None:
        """Start a worker and wait until it is ready; the reason when that failed."""
        ours, theirs = socket.socketpair()
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the worker, closed in close()
        with ours, theirs:
            proc = subprocess.Popen(
                [sys.executable, "-c", _WORKER_MAIN, str(theirs.fileno()), str(os.getpid())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self._stderr,
                close_fds=True,
                env=_worker_env(),
            )
            conn = Connection(os.dup(ours.fileno()))
        with self._lock:
            self._proc, self._conn, self._tasks = proc, conn, 0
            self.started += 1
        try:
            conn.send(WorkerInit(ruleset=self.ruleset, max_memory_mb=self.limits.max_memory_mb))
            if conn.poll(self.limits.startup_timeout_s) and conn.recv() == READY:
                return None
            reason = "worker did not start in time"
        except (EOFError, OSError):
            reason = self._death_reason()
        self.close()
        return f"worker failed to start: {reason}"

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        with contextlib.suppress(OSError):
            self._stderr.seek(0)
            lines = [ln for ln in self._stderr.read().decode("utf-8", "replace").splitlines() if ln.strip()]
            return lines[-1].strip()[:300] if lines else ""
        return ""

    def _death_reason(self) -> str:
        """Why the worker died: its signal or exit code and its last stderr line."""
        proc = self._proc
        if proc is None:
            return "worker was stopped"
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        if code < 0:
            try:
                what = f"worker killed by signal {signal.Signals(-code).name}"
            except ValueError:
                what = f"worker killed by signal {-code}"
        else:
            what = f"worker exited with code {code}"
        tail = self._stderr_tail()
        return f"{what}: {tail}" if tail else what

    def scan(self, task: ScanTask) -> ScanRecord:
        """Scan one APK in the worker (starting one if needed); never raises for the APK's sake."""
        proc = self._proc
        if proc is not None and (self._tasks >= self.limits.max_tasks or proc.poll() is not None):
            self.close()
        if self._proc is None and (problem := self._start()) is not None:
            return failure_record(task, self.ruleset.sha256, ScanStatus.CRASHED, problem, 0.0)
        conn = self._conn
        assert conn is not None
        t0 = time.perf_counter()
        try:
            conn.send(task)
            if not conn.poll(self.limits.timeout_s):
                self.kill()
                self.close()
                message = f"no result within {self.limits.timeout_s:g} s: worker killed"
                return failure_record(task, self.ruleset.sha256, ScanStatus.TIMEOUT, message, time.perf_counter() - t0)
            reply = conn.recv()
        except (EOFError, OSError):
            elapsed = time.perf_counter() - t0
            reason = self._death_reason()
            self.close()
            return failure_record(task, self.ruleset.sha256, ScanStatus.CRASHED, reason, elapsed)
        self._tasks += 1
        record, retiring = reply if isinstance(reply, tuple) and len(reply) == 2 else (None, True)
        if retiring:  # it exits now (e.g. after a MemoryError): the next APK gets a new worker
            self.close()
        if not isinstance(record, ScanRecord):
            self.kill()
            self.close()
            return failure_record(
                task, self.ruleset.sha256, ScanStatus.CRASHED, "worker sent an unexpected message", 0.0
            )
        return record

    def kill(self) -> None:
        """SIGKILL the current worker, if any (safe from another thread: wakes a waiting :meth:`scan`)."""
        with self._lock:
            proc = self._proc
            if proc is not None and proc.poll() is None:
                with contextlib.suppress(OSError):
                    proc.kill()

    def close(self) -> None:
        """Stop the current worker (politely: EOF, then SIGKILL after a moment) and free its resources."""
        with self._lock:
            proc, conn, err = self._proc, self._conn, self._stderr
            self._proc, self._conn, self._stderr = None, None, None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.close()
        if proc is not None:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if err is not None:
            err.close()
