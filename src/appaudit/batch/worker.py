"""The worker process: scans the APKs its parent sends, one at a time, and sends back records.

Started by :class:`appaudit.batch.isolation.IsolatedScanner` as
``python -c "from appaudit.batch.worker import main; main()" FD PARENT_PID``; FD is its end of a socket pair that
carries pickled messages (``multiprocessing.connection`` framing). Protocol:
the parent sends a :class:`WorkerInit`, the worker answers ``READY``; then
each :class:`ScanTask` is answered by ``(ScanRecord, retiring)``, where
``retiring`` says the worker exits after this answer. EOF or ``None`` ends
the worker.

The worker caps its own address space (RLIMIT_AS) so a hostile APK fails
with MemoryError instead of exhausting the machine; after a MemoryError it
exits, so the next APK gets a fresh process. It ignores SIGINT (the parent
handles Ctrl-C) and, on Linux, dies with its parent.

Test hooks (tests only, never set them in production): the environment
variable ``APPAUDIT_BATCH_TEST_HOOK`` holds comma-separated
``ACTION:FILENAME[:ARG]`` entries; when the worker is given an APK whose file
name is FILENAME it first does ACTION: ``kill`` (SIGKILL itself), ``sleep``
(ARG seconds) or ``alloc`` (allocate ARG MB, to reach the memory cap).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection

from appaudit.batch.records import ScanRecord, ScanStatus, ScanTask, failure_record, record_from_report
from appaudit.ruleset import Ruleset

READY = "ready"
TEST_HOOK_ENV = "APPAUDIT_BATCH_TEST_HOOK"
MB = 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerInit:
    """The first message to a worker: the rules to use and its memory cap."""

    ruleset: Ruleset
    max_memory_mb: int
    """Address-space cap in MiB (RLIMIT_AS); 0 for none."""


def _test_hook(path: str) -> None:
    """Run the test-only action configured for this APK's file name, if any."""
    spec = os.environ.get(TEST_HOOK_ENV, "")
    name = os.path.basename(path)
    for entry in filter(None, spec.split(",")):
        action, _, rest = entry.partition(":")
        target, _, arg = rest.partition(":")
        if target != name:
            continue
        if action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        elif action == "sleep":
            time.sleep(float(arg))
        elif action == "alloc":
            hog = bytearray(int(arg) * MB)
            del hog


def _release_caches() -> None:
    """Clear any module-level lru_caches of ``appaudit.apk`` (belt and braces).

    The DEX structure caches live on each DexFile and die with it; this keeps a
    long-lived worker's memory flat should a module-level cache be added later.
    """
    for name, module in list(sys.modules.items()):
        if not name.startswith("appaudit.apk") or module is None:
            continue
        for obj in list(vars(module).values()):
            clear = getattr(obj, "cache_clear", None)
            if callable(clear):
                clear()


def scan_task(task: ScanTask, ruleset: Ruleset, max_memory_mb: int) -> tuple[ScanRecord, bool]:
    """Scan one APK into a record; the flag says the process should exit (it ran out of memory)."""
    from appaudit.api import ScanOptions, fetch_input, scan
    from appaudit.errors import AppAuditError, InputError
    from appaudit.urls import is_url

    t0 = time.perf_counter()
    try:
        _test_hook(task.path)
        options = ScanOptions(declarations_dir=task.declarations_dir)
        if not is_url(task.path):
            report = scan(task.path, options, ruleset=ruleset)
            return record_from_report(report, task, time.perf_counter() - t0), False
        # A URL: this worker fetches it (bounded, in memory), keys the record by the bytes' sha256 (the
        # batch may not know it yet) and hands the same bytes to the scan.
        raw = fetch_input(task.path)
        task = replace(task, apk_sha256=hashlib.sha256(raw).hexdigest())
        report = scan(task.path, options, ruleset=ruleset, data=raw)
        return record_from_report(report, task, time.perf_counter() - t0), False
    except MemoryError:
        cap = f" (--max-memory {max_memory_mb} MB)" if max_memory_mb else ""
        message = f"memory limit exceeded{cap}"
        return failure_record(task, ruleset.sha256, ScanStatus.ERROR, message, time.perf_counter() - t0), True
    except InputError as exc:
        return failure_record(task, ruleset.sha256, ScanStatus.ERROR, exc.reason, time.perf_counter() - t0), False
    except AppAuditError as exc:  # e.g. a URL scheme whose fsspec backend this worker lacks
        return failure_record(task, ruleset.sha256, ScanStatus.ERROR, str(exc), time.perf_counter() - t0), False
    except Exception as exc:  # one APK's failure is its record, never the worker's end
        message = f"internal error: {type(exc).__name__}: {exc}"[:500]
        return failure_record(task, ruleset.sha256, ScanStatus.ERROR, message, time.perf_counter() - t0), False
    finally:
        _release_caches()


def _die_with_parent() -> None:
    """Linux: SIGKILL this process when its parent dies (a worker must not outlive the batch)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(Exception):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def _limit_memory(max_memory_mb: int) -> None:
    if max_memory_mb <= 0:
        return
    import resource

    limit = max_memory_mb * MB
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def serve(conn: Connection) -> None:
    """Answer tasks on ``conn`` until EOF or ``None``."""
    init = conn.recv()
    if not isinstance(init, WorkerInit):
        return
    import appaudit.api  # noqa: F401 - import before the cap, and before the first task's clock starts

    _limit_memory(init.max_memory_mb)
    conn.send(READY)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if not isinstance(task, ScanTask):
            return
        record, fatal = scan_task(task, init.ruleset, init.max_memory_mb)
        try:
            conn.send((record, fatal))
        except (BrokenPipeError, OSError):
            return
        if fatal:
            return


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the worker process (arguments: the socket's file descriptor, the parent's pid)."""
    args = list(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    if os.getppid() != int(args[1]):  # the parent died before the death signal was armed
        return
    conn = Connection(int(args[0]))
    try:
        serve(conn)
    finally:
        conn.close()
