"""``appaudit batch`` and ``appaudit batch-export``: many APKs into a results store."""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    pass

from appaudit.cli.app import (
    EXIT_FINDINGS,
    EXIT_INPUT,
    EXIT_OK,
    AllowInconclusiveOption,
    ConfigOption,
    FailOn,
    RulesOption,
    _Command,
    _config,
    _error,
    _gate,
    _rules,
    app,
)

BATCH_EXIT_HELP = (
    "Exit codes: 0 done, nothing at or above --fail-on; 1 an APK has a finding at or above --fail-on; "
    "2 usage error; 3 no input could be scanned (all failed), or a PATH is missing; "
    "4 rule, database or configuration error; 5 internal error; 130 interrupted (the store stays resumable)."
)


class Executor(StrEnum):
    local = "local"
    dask = "dask"


class ExportFormat(StrEnum):
    jsonl = "jsonl"
    csv = "csv"


@app.command(cls=_Command, epilog=BATCH_EXIT_HELP)
def batch(
    paths: Annotated[
        list[str],
        typer.Argument(
            metavar="PATH...",
            help="APK files, directories (searched recursively), text files listing paths, or URLs "
            "(s3://bucket/prefix/, https://host/list.txt; see README, Inputs by URL).",
            show_default=False,
        ),
    ],
    workers: Annotated[
        int | None,
        typer.Option("--workers", "-j", metavar="N", min=1, help="Worker processes (default: the CPU count)."),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", metavar="SECONDS", min=0.01, help="Seconds one APK may take.")
    ] = 120.0,
    max_memory: Annotated[
        int, typer.Option("--max-memory", metavar="MIB", min=0, help="Address-space cap per worker in MiB (0: none).")
    ] = 2048,
    db: Annotated[Path, typer.Option("--db", metavar="FILE", help="The SQLite results store.")] = Path(
        "results.sqlite"
    ),
    fail_on: Annotated[
        FailOn | None,
        typer.Option("--fail-on", help="Exit 1 when an APK has a finding at or above this severity. [default: high]"),
    ] = None,
    rules: RulesOption = None,
    rescan: Annotated[bool, typer.Option("--rescan", help="Scan again APKs the store already has.")] = False,
    declarations: Annotated[
        Path | None,
        typer.Option(
            "--declarations",
            metavar="DIR",
            help="Hold each app against its declarations in DIR: PACKAGE.csv/.yaml/.json (Data safety) and "
            "PACKAGE.policy.txt/.html/.pdf (privacy policy); see docs/declarations.md.",
        ),
    ] = None,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Scan again APKs whose stored result is an error.")
    ] = False,
    executor: Annotated[Executor, typer.Option("--executor", help="Where scans run.")] = Executor.local,
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", metavar="ADDRESS", help="Dask scheduler address (with --executor dask)."),
    ] = None,
    allow_inconclusive: AllowInconclusiveOption = None,
    config: ConfigOption = None,
) -> None:
    """Scan many APKs in parallel into a SQLite store; re-runs skip APKs already scanned with the same rules."""
    import time

    from appaudit.batch import BatchOptions, default_workers
    from appaudit.batch.present import run_with_progress, summary_text
    from appaudit.gate import batch_gate

    if (executor is Executor.dask) != (scheduler is not None):
        raise typer.BadParameter("required with --executor dask, and only then", param_hint="--scheduler")
    settings = _config(config)
    options = BatchOptions(
        db=db,
        workers=workers or default_workers(),
        timeout_s=timeout,
        max_memory_mb=max_memory,
        rules_dirs=_rules(rules, settings),
        rescan=rescan,
        retry_failed=retry_failed,
        executor=executor.value,
        scheduler=scheduler,
        declarations_dir=declarations,
    )
    t0 = time.perf_counter()
    try:
        result = run_with_progress(paths, options, sys.stdout)
    except KeyboardInterrupt:
        _error(f"interrupted: finished APKs are saved in {db}; run the same command again to resume")
        raise typer.Exit(130) from None
    sys.stdout.write(summary_text(result, time.perf_counter() - t0))
    scanned = [(o.verdict, o.max_severity_rank) for o in result.outcomes if o.status == "ok"]
    gated = batch_gate(scanned, _gate(fail_on, allow_inconclusive, settings))
    sys.stdout.write(gated.line + "\n")
    if not scanned:
        raise typer.Exit(EXIT_INPUT)
    raise typer.Exit(EXIT_FINDINGS if gated.failed else EXIT_OK)


@app.command("batch-export", cls=_Command, epilog=BATCH_EXIT_HELP)
def batch_export(
    db: Annotated[Path, typer.Option("--db", metavar="FILE", help="The SQLite results store.")] = Path(
        "results.sqlite"
    ),
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f", help="Export format.")] = ExportFormat.jsonl,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write here (replaced only once the export completed)."),
    ] = None,
) -> None:
    """Export a results store: one scan per line, as JSON Lines or CSV."""
    from appaudit.batch import export_lines
    from appaudit.errors import ConfigError

    lines = export_lines(db, fmt.value)
    if output is None:
        for line in lines:
            sys.stdout.write(line)
        raise typer.Exit(EXIT_OK)
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8", newline="") as fh:
            fh.writelines(lines)
        os.replace(tmp, output)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"cannot write --output {output}: {exc.strerror or exc}") from exc
    raise typer.Exit(EXIT_OK)
