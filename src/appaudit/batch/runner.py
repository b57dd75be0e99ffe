"""``run_batch(paths, options) -> BatchResult``: scan many APKs into the results store.

Steps: expand the inputs; load the rules once; hash every file (reusing the
store's path cache); skip the APKs the store already has for this ruleset
(unless ``rescan``, or ``retry_failed`` for failed ones); scan the rest on the
executor, saving each record as it arrives; count the outcomes of every input.
Progress goes to the ``on_event`` callback; the library never prints.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from appaudit.batch.executors import DaskExecutor, Executor, LocalExecutor
from appaudit.batch.inputs import APK_SUFFIXES, collect_inputs, hash_files
from appaudit.batch.isolation import WorkerLimits
from appaudit.batch.records import ScanRecord, ScanTask
from appaudit.batch.store import ResultStore
from appaudit.batch.summary import BatchSummary, Outcome
from appaudit.declarations import declarations_key
from appaudit.errors import ConfigError, InputError
from appaudit.ruleset import load_ruleset
from appaudit.urls import redact


def default_workers() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchOptions:
    """How to run a batch."""

    db: str | Path = "results.sqlite"
    workers: int = field(default_factory=default_workers)
    """Worker processes (local executor)."""
    timeout_s: float = 120.0
    """Seconds one APK may take; its worker is then killed and the APK recorded as ``timeout``."""
    max_memory_mb: int = 2048
    """Address-space cap of each worker in MiB (RLIMIT_AS); 0 for none."""
    rules_dirs: Sequence[str | Path] = ()
    rescan: bool = False
    """Scan every input again, even when the store has its result."""
    retry_failed: bool = False
    """Scan again the inputs whose stored result is not ``ok``."""
    executor: str = "local"
    """``local`` or ``dask``."""
    scheduler: str | None = None
    """The Dask scheduler's address (``tcp://host:8786``), for the dask executor."""
    max_tasks_per_worker: int = 200
    declarations_dir: str | Path | None = None
    """Each app's declarations, found by package (see ``declarations.find_declarations``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Planned:
    """Event: the inputs are known and hashed; ``to_scan`` scans follow."""

    inputs: int
    to_scan: int
    cached: int
    duplicates: int
    missing: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Scanned:
    """Event: one APK's record is in the store."""

    done: int
    total: int
    path: str
    status: str
    verdict: str | None
    error: str | None
    duration_s: float


BatchEvent = Planned | Scanned


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchResult:
    """What a batch did, for the caller to report."""

    db: str
    ruleset_sha256: str
    outcomes: tuple[Outcome, ...]
    summary: BatchSummary
    scan_elapsed_s: float
    """Wall time of the scanning phase (after hashing and planning)."""


def make_executor(options: BatchOptions) -> Executor:
    if options.executor == "local":
        return LocalExecutor(options.workers)
    if options.executor == "dask":
        if not options.scheduler:
            raise ConfigError("--executor dask needs --scheduler ADDRESS")
        return DaskExecutor(options.scheduler)
    raise ConfigError(f"unknown executor {options.executor!r} (local or dask)")


def _from_record(path: str, record: ScanRecord) -> Outcome:
    return Outcome(
        path=path,
        apk_sha256=record.apk_sha256 or None,
        status=record.status.value,
        verdict=record.verdict,
        max_severity_rank=record.max_severity_rank,
        error=record.error,
        levels=tuple((d.data_class, d.level) for d in record.data_classes),
        rule_ids=tuple(sorted({f.rule_id for f in record.findings})),
        sdks=tuple(
            sorted({f.component[4:] for f in record.findings if f.component and f.component.startswith("sdk:")})
        ),
    )


def _from_store(path: str, sha: str, ruleset_sha256: str, store: ResultStore) -> Outcome:
    row = store.scan_row(sha, ruleset_sha256)
    if row is None:  # only if another process deleted it meanwhile
        return Outcome(path=path, apk_sha256=sha, status="missing", error="result vanished from the store")
    return Outcome(
        path=path,
        apk_sha256=sha,
        status=row["status"],
        cached=True,
        verdict=row["verdict"],
        max_severity_rank=row["max_severity_rank"],
        error=row["error"],
        levels=tuple(store.levels(sha, ruleset_sha256).items()),
        rule_ids=store.rule_ids(sha, ruleset_sha256),
        sdks=store.sdks(sha, ruleset_sha256),
    )


def run_batch(
    paths: Sequence[str], options: BatchOptions, on_event: Callable[[BatchEvent], None] | None = None
) -> BatchResult:
    """Scan every APK under ``paths`` into ``options.db``. Raises InputError, RuleError, ConfigError."""
    emit = on_event or (lambda _event: None)
    inputs = collect_inputs(paths)
    if not inputs.files and not inputs.problems:
        looked = ", ".join(f"*{suffix}" for suffix in APK_SUFFIXES)
        raise InputError(" ".join(map(redact, paths)), f"no APK found (looked for {looked})")
    if options.timeout_s <= 0:
        raise ConfigError("--timeout must be more than 0 seconds")
    ruleset = load_ruleset(options.rules_dirs)
    declarations = str(options.declarations_dir) if options.declarations_dir is not None else None
    if declarations is not None:
        # results depend on the declarations too: key the store by both, so an edited declaration rescans
        ruleset = replace(ruleset, sha256=declarations_key(ruleset, declarations))
    executor = make_executor(options)
    limits = WorkerLimits(
        timeout_s=options.timeout_s,
        max_memory_mb=options.max_memory_mb,
        max_tasks=options.max_tasks_per_worker,
    )
    with ResultStore(options.db) as store:
        shas: dict[str, str] = {}
        errors: dict[str, str] = {p.path: p.reason for p in inputs.problems}
        remote = {o.url: o for o in inputs.remote}
        unkeyed: list[str] = []
        """URLs whose sha256 is not known yet: their worker computes it (see batch.remote)."""
        unknown: list[str] = []
        for path in inputs.files:
            if path in remote:
                obj = remote[path]
                cached = store.known_object(path, obj.size, obj.tag) if obj.size is not None and obj.tag else None
                if cached is None:
                    unkeyed.append(path)
                else:
                    shas[path] = cached
                continue
            try:
                st = os.stat(path)
            except OSError as exc:
                errors[path] = f"cannot be read: {exc.strerror or exc}"
                continue
            known = store.known_file(os.path.abspath(path), st.st_size, st.st_mtime_ns)
            if known is None:
                unknown.append(path)
            else:
                shas[path] = known
        hashed = hash_files(unknown, options.workers)
        for h in hashed:
            if h.sha256 is None:
                errors[h.path] = h.error or "cannot be read"
            else:
                shas[h.path] = h.sha256
        store.remember_files((os.path.abspath(h.path), h.size, h.mtime_ns, h.sha256) for h in hashed if h.sha256)

        stored = store.statuses(ruleset.sha256)
        first: dict[str, str] = {}
        for path in inputs.files:
            if path in shas:
                first.setdefault(shas[path], path)
        tasks = [
            ScanTask(apk_sha256=sha, path=path, declarations_dir=declarations)
            for sha, path in first.items()
            if options.rescan or sha not in stored or (options.retry_failed and stored[sha] != "ok")
        ]
        keyed_tasks = len(tasks)
        tasks += [ScanTask(apk_sha256="", path=url, declarations_dir=declarations) for url in unkeyed]
        duplicates = len(shas) - len(first)
        emit(
            Planned(
                inputs=len(inputs.files) + len(inputs.problems),
                to_scan=len(tasks),
                cached=len(first) - keyed_tasks,
                duplicates=duplicates,
                missing=len(errors),
            )
        )

        done: dict[str, Outcome] = {}
        """Task path -> the outcome of its record (the record itself, report and all, is not kept)."""
        t0 = time.perf_counter()
        with contextlib.closing(executor.run(tasks, ruleset, limits)) as results:
            for record in results:
                if record.apk_sha256:  # else the worker could not read it at all: nothing to key it by
                    store.save(record)
                    if record.path in remote and record.path not in shas:
                        shas[record.path] = record.apk_sha256
                        obj = remote[record.path]
                        if obj.size is not None and obj.tag:
                            store.remember_objects([(record.path, obj.size, obj.tag, record.apk_sha256)])
                done[record.path] = _from_record(redact(record.path), record)
                emit(
                    Scanned(
                        done=len(done),
                        total=len(tasks),
                        path=redact(record.path),
                        status=record.status.value,
                        verdict=record.verdict,
                        error=record.error,
                        duration_s=record.duration_s,
                    )
                )
        scan_elapsed = time.perf_counter() - t0

        by_sha = {o.apk_sha256: o for o in done.values() if o.apk_sha256}
        outcomes: list[Outcome] = []
        for path in (*inputs.files, *(p.path for p in inputs.problems)):
            shown = redact(path)
            sha = shas.get(path)
            if sha is None:
                missing = Outcome(path=shown, apk_sha256=None, status="missing", error=errors.get(path))
                outcomes.append(done.get(path) or missing)
            elif sha in by_sha:
                outcomes.append(replace(by_sha[sha], path=shown))
            else:
                outcomes.append(_from_store(shown, sha, ruleset.sha256, store))
        summary = store.summarize_run(outcomes, ruleset.sha256, scanned=len(done), duplicates=duplicates)
    return BatchResult(
        db=str(options.db),
        ruleset_sha256=ruleset.sha256,
        outcomes=tuple(outcomes),
        summary=summary,
        scan_elapsed_s=scan_elapsed,
    )
