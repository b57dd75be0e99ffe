"""How a batch run looks to the person running it: progress while it runs, the summary at the end.

Pure text builders (``planned_line``, ``scanned_line``, ``summary_text``) and
two progress displays that write only to the stream the caller gives them:
plain lines (logs, CI, pipes) or a live bar (a terminal). The CLI chooses the
stream and calls :func:`run_with_progress`; nothing here picks ``sys.stdout``
by itself. rich is imported only for the live bar.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TextIO

from appaudit.batch.runner import BatchEvent, BatchOptions, BatchResult, Planned, Scanned, run_batch
from appaudit.batch.summary import LEVEL_ORDER


def progress_on_terminal(out: TextIO) -> bool:
    """A live progress bar only on a terminal and outside CI; plain lines otherwise."""
    return out.isatty() and os.environ.get("CI", "").lower() != "true"


def planned_line(event: Planned) -> str:
    """The line saying what the run will do, once the inputs are hashed (no newline)."""
    return (
        f"{event.inputs} inputs: {event.to_scan} to scan, {event.cached} already in the store, "
        f"{event.duplicates} duplicates, {event.missing} unreadable"
    )


def scanned_line(event: Scanned) -> str:
    """The plain progress line of one finished APK (no newline)."""
    what = event.verdict if event.status == "ok" else f"{event.error}"
    return f"[{event.done}/{event.total}] {event.status} {event.path}: {what} ({event.duration_s:.2f} s)"


def plain_progress(out: TextIO) -> Callable[[BatchEvent], None]:
    """An ``on_event`` callback writing one line per event to ``out`` (flushed, for logs read live)."""

    def on_event(event: BatchEvent) -> None:
        out.write((planned_line(event) if isinstance(event, Planned) else scanned_line(event)) + "\n")
        out.flush()

    return on_event


def summary_text(result: BatchResult, elapsed: float) -> str:
    """The end-of-run summary, plain text (the same on a terminal and in a log)."""
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
    if s.top_sdks:
        lines.append("top SDKs in findings (APKs):")
        lines.extend(f"  {sdk:<22}{n:>6}" for sdk, n in s.top_sdks)
    if s.failures:
        lines.append(f"failed ({len(s.failures)}):")
        lines.extend(f"  {o.status} {o.path}: {o.error}" for o in s.failures)
    return "\n".join(lines) + "\n"


def run_with_progress(paths: Sequence[str], options: BatchOptions, out: TextIO) -> BatchResult:
    """:func:`run_batch`, showing progress on ``out``: a live bar on a terminal, plain lines otherwise."""
    if progress_on_terminal(out):
        return run_with_progress_bar(paths, options, out)
    return run_batch(paths, options, on_event=plain_progress(out))


def run_with_progress_bar(paths: Sequence[str], options: BatchOptions, out: TextIO) -> BatchResult:
    """:func:`run_batch` under a live rich progress bar on ``out``; failures are printed above the bar."""
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

    class RateColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:.1f} APK/s" if speed else "– APK/s", style="progress.data.speed")

    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(file=out),
    )
    task_id = progress.add_task("hashing", total=None)

    def on_event(event: BatchEvent) -> None:
        if isinstance(event, Planned):
            progress.update(task_id, description="scanning", total=event.to_scan, completed=0)
            progress.reset(task_id, total=event.to_scan)
            progress.console.print(planned_line(event), highlight=False)
        elif isinstance(event, Scanned):
            progress.advance(task_id)
            if event.status != "ok":
                progress.console.print(f"{event.status} {event.path}: {event.error}", highlight=False, markup=False)

    with progress:
        return run_batch(paths, options, on_event=on_event)
