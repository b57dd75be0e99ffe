"""The command line: parse options, call the library, map errors to exit codes once.

Exit codes: 0 nothing at or above --fail-on; 1 findings at or above it;
2 usage error; 3 input error; 4 rule or configuration error; 5 internal error.
"""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from appaudit import __version__

if TYPE_CHECKING:
    from appaudit.batch import BatchOptions, BatchResult

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_RULES = 4
EXIT_INTERNAL = 5

EXIT_CODES_HELP = (
    "Exit codes: 0 nothing at or above --fail-on; 1 findings at or above --fail-on; "
    "2 usage error; 3 input error (missing, unreadable or not an APK); "
    "4 rule or configuration error; 5 internal error."
)

app = typer.Typer(
    name="appaudit",
    help="Audit Android apps for harvesting of contacts, SMS and call logs.\n\n" + EXIT_CODES_HELP,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


class FailOn(StrEnum):
    info = "info"
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"
    never = "never"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"appaudit {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Audit Android apps for harvesting of contacts, SMS and call logs."""


def _use_color(fmt: OutputFormat, output: Path | None) -> bool:
    return fmt is OutputFormat.text and output is None and sys.stdout.isatty() and "NO_COLOR" not in os.environ


@app.command(epilog=EXIT_CODES_HELP)
def scan(
    path: Annotated[str, typer.Argument(help="The APK file to scan.", show_default=False)],
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = OutputFormat.text,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report here (only once it rendered).")
    ] = None,
    fail_on: Annotated[
        FailOn, typer.Option("--fail-on", help="Exit 1 when a finding is at or above this severity.")
    ] = FailOn.high,
    rules: Annotated[list[Path] | None, typer.Option("--rules", help="Extra rule directory (repeatable).")] = None,
) -> None:
    """Scan one APK and report, per data class, what it declares and what its code reads."""
    from appaudit.api import ScanOptions
    from appaudit.api import scan as run_scan
    from appaudit.errors import ConfigError
    from appaudit.model import Severity
    from appaudit.report import render

    report = run_scan(path, ScanOptions(rules_dirs=tuple(rules or ())))
    text = render(report, fmt.value, color=_use_color(fmt, output))
    if output is not None:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot write --output {output}: {exc.strerror or exc}") from exc
    else:
        sys.stdout.write(text)
    worst = report.max_severity()
    failed = fail_on is not FailOn.never and worst is not None and worst >= Severity.parse(fail_on.value)
    raise typer.Exit(EXIT_FINDINGS if failed else EXIT_OK)


# ---------------------------------------------------------------- batch (issue 7)

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


def _progress_on_terminal() -> bool:
    """A live progress bar only on a terminal and outside CI; plain lines otherwise."""
    return sys.stdout.isatty() and os.environ.get("CI", "").lower() != "true"


def _plain_progress(event: object) -> None:
    from appaudit.batch import Planned, Scanned

    if isinstance(event, Planned):
        sys.stdout.write(
            f"{event.inputs} inputs: {event.to_scan} to scan, {event.cached} already in the store, "
            f"{event.duplicates} duplicates, {event.missing} unreadable\n"
        )
    elif isinstance(event, Scanned):
        what = event.verdict if event.status == "ok" else f"{event.error}"
        line = f"[{event.done}/{event.total}] {event.status} {event.path}: {what} ({event.duration_s:.2f} s)"
        sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _summary_text(result: BatchResult, elapsed: float) -> str:
    """The end-of-run summary, plain text (the same on a terminal and in a log)."""
    from appaudit.batch.summary import LEVEL_ORDER

    s = result.summary
    rate = s.scanned / result.scan_elapsed_s if result.scan_elapsed_s > 0 and s.scanned else 0.0
    lines = [
        f"{s.inputs} inputs: {s.scanned} scanned, {s.cached} from the store, {s.duplicates} duplicates; "
        f"{elapsed:.1f} s, {rate:.2f} APKs/s",
        f"results: {result.db} (ruleset {result.ruleset_sha256[:12]})",
        "status: " + ", ".join(f"{k} {v}" for k, v in s.by_status.items()),
        "verdict: " + (", ".join(f"{k} {v}" for k, v in s.by_verdict.items()) or "-"),
    ]
    levels = [lv for lv in LEVEL_ORDER if lv != "none"]
    if s.levels:
        lines.append("data class levels (APKs):")
        lines.append("  " + f"{'':<18}" + "".join(f"{lv:>12}" for lv in levels))
        lines.extend(
            "  " + f"{dc:<18}" + "".join(f"{counts.get(lv, 0):>12}" for lv in levels) for dc, counts in s.levels.items()
        )
    if s.top_rules:
        lines.append("top rules (APKs):")
        lines.extend(f"  {rule:<14}{n:>6}" for rule, n in s.top_rules)
    if s.failures:
        lines.append(f"failed ({len(s.failures)}):")
        lines.extend(f"  {o.status} {o.path}: {o.error}" for o in s.failures)
    return "\n".join(lines) + "\n"


@app.command(epilog=BATCH_EXIT_HELP)
def batch(
    paths: Annotated[
        list[str],
        typer.Argument(
            help="APK files, directories (searched recursively) or text files listing paths.", show_default=False
        ),
    ],
    workers: Annotated[
        int | None, typer.Option("--workers", "-j", min=1, help="Worker processes [default: the CPU count].")
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", min=0.01, help="Seconds one APK may take.")] = 120.0,
    max_memory: Annotated[
        int, typer.Option("--max-memory", min=0, help="Address-space cap per worker in MiB (0: none).")
    ] = 2048,
    db: Annotated[Path, typer.Option("--db", help="The SQLite results store.")] = Path("results.sqlite"),
    fail_on: Annotated[
        FailOn, typer.Option("--fail-on", help="Exit 1 when an APK has a finding at or above this severity.")
    ] = FailOn.high,
    rules: Annotated[list[Path] | None, typer.Option("--rules", help="Extra rule directory (repeatable).")] = None,
    rescan: Annotated[bool, typer.Option("--rescan", help="Scan again APKs the store already has.")] = False,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Scan again APKs whose stored result is an error.")
    ] = False,
    executor: Annotated[Executor, typer.Option("--executor", help="Where scans run.")] = Executor.local,
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="Dask scheduler address (with --executor dask).")
    ] = None,
) -> None:
    """Scan many APKs in parallel into a SQLite store; re-runs skip APKs already scanned with the same rules."""
    import time

    from appaudit.batch import BatchOptions, default_workers, run_batch
    from appaudit.model import Severity

    if (executor is Executor.dask) != (scheduler is not None):
        raise typer.BadParameter("required with --executor dask, and only then", param_hint="--scheduler")
    options = BatchOptions(
        db=db,
        workers=workers or default_workers(),
        timeout_s=timeout,
        max_memory_mb=max_memory,
        rules_dirs=tuple(rules or ()),
        rescan=rescan,
        retry_failed=retry_failed,
        executor=executor.value,
        scheduler=scheduler,
    )
    t0 = time.perf_counter()
    try:
        if _progress_on_terminal():
            result = _batch_with_progress_bar(paths, options)
        else:
            result = run_batch(paths, options, on_event=_plain_progress)
    except KeyboardInterrupt:
        _error(f"interrupted: finished APKs are saved in {db}; run the same command again to resume")
        raise typer.Exit(130) from None
    sys.stdout.write(_summary_text(result, time.perf_counter() - t0))
    outcomes = result.outcomes
    if not any(o.status == "ok" for o in outcomes):
        raise typer.Exit(EXIT_INPUT)
    threshold = None if fail_on is FailOn.never else int(Severity.parse(fail_on.value))
    flagged = threshold is not None and any(
        o.max_severity_rank is not None and o.max_severity_rank >= threshold for o in outcomes
    )
    raise typer.Exit(EXIT_FINDINGS if flagged else EXIT_OK)


def _batch_with_progress_bar(paths: list[str], options: BatchOptions) -> BatchResult:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    from appaudit.batch import BatchEvent, Planned, Scanned, run_batch

    class RateColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:.1f} APK/s" if speed else "– APK/s", style="progress.data.speed")

    console = Console(file=sys.stdout)
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
    )
    task_id = progress.add_task("hashing", total=None)

    def on_event(event: BatchEvent) -> None:
        if isinstance(event, Planned):
            progress.update(task_id, description="scanning", total=event.to_scan, completed=0)
            progress.reset(task_id, total=event.to_scan)
            progress.console.print(
                f"{event.inputs} inputs: {event.to_scan} to scan, {event.cached} already in the store, "
                f"{event.duplicates} duplicates, {event.missing} unreadable",
                highlight=False,
            )
        elif isinstance(event, Scanned):
            progress.advance(task_id)
            if event.status != "ok":
                progress.console.print(f"{event.status} {event.path}: {event.error}", highlight=False, markup=False)

    with progress:
        return run_batch(paths, options, on_event=on_event)


@app.command("batch-export", epilog=BATCH_EXIT_HELP)
def batch_export(
    db: Annotated[Path, typer.Option("--db", help="The SQLite results store.")] = Path("results.sqlite"),
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f", help="Export format.")] = ExportFormat.jsonl,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here (replaced only once the export completed).")
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


def _error(message: str) -> None:
    sys.stderr.write(f"appaudit: error: {message}\n")


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the CLI and exit with a documented code."""
    from appaudit.errors import AppAuditError, ConfigError, InputError, RuleError

    command = typer.main.get_command(app)
    try:
        # Standalone mode: typer/click print usage errors and exit 2 themselves,
        # and every command ends with typer.Exit(code).
        command.main(args=argv, prog_name="appaudit", standalone_mode=True)
        code: int = EXIT_OK
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (EXIT_OK if exc.code is None else EXIT_USAGE)
    except InputError as exc:
        _error(str(exc))
        code = EXIT_INPUT
    except (RuleError, ConfigError) as exc:
        _error(str(exc))
        code = EXIT_RULES
    except AppAuditError as exc:
        _error(str(exc))
        code = EXIT_INTERNAL
    except KeyboardInterrupt:
        _error("interrupted")
        code = 130
    except Exception as exc:  # the one place an unexpected error becomes an exit code
        _error(f"internal error: {type(exc).__name__}: {exc} (please report this with the input file)")
        code = EXIT_INTERNAL
    sys.exit(code)
