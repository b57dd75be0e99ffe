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


#: The summary is read in an 80-column terminal (and in logs): no line is longer.
SUMMARY_WIDTH = 80


def _listed(head: str, items: Sequence[str], width: int = SUMMARY_WIDTH) -> list[str]:
    """``head`` then ``items`` joined by ", ", broken after a comma before ``width``, continuations indented."""
    indent = "  "
    lines: list[str] = []
    line = head
    for i, item in enumerate(items):
        piece = item + ("," if i < len(items) - 1 else "")
        if line != head and len(line) + 1 + len(piece) > width:
            lines.append(line)
            line = indent + piece
        else:
            line = f"{line} {piece}"
    lines.append(line)
    return lines


def _pace(scanned: int, cached: int, duplicates: int, elapsed: float, scan_elapsed: float) -> str:
    """How the run went: a rate only when something was scanned (a rerun from the store has none)."""
    head = f"{scanned} scanned, {cached} from the store, {duplicates} duplicates; {elapsed:.1f} s"
    if scanned and scan_elapsed > 0:
        return f"{head}, {scanned / scan_elapsed:.2f} APKs/s"
    if not scanned:
        return f"{cached} from the store, 0 scanned, {duplicates} duplicates; {elapsed:.1f} s"
    return head


def _level_table(levels: dict[str, dict[str, int]]) -> list[str]:
    """The data class x level counts, each column as wide as its heading or largest count (fits 80 columns)."""
    shown = [lv for lv in LEVEL_ORDER if lv != "none"]
    first = max(len(dc) for dc in levels)
    widths = [max(len(lv), *(len(str(c.get(lv, 0))) for c in levels.values())) for lv in shown]
    head = "  " + " " * first + "".join(f"  {lv:>{w}}" for lv, w in zip(shown, widths, strict=True))
    rows = [
        "  " + f"{dc:<{first}}" + "".join(f"  {c.get(lv, 0):>{w}}" for lv, w in zip(shown, widths, strict=True))
        for dc, c in levels.items()
    ]
    return [head, *rows]


def summary_text(result: BatchResult, elapsed: float) -> str:
    """The end-of-run summary, plain text (the same on a terminal and in a log), no line over 80 columns."""
    s = result.summary
    lines = [
        f"{s.inputs} inputs: " + _pace(s.scanned, s.cached, s.duplicates, elapsed, result.scan_elapsed_s),
        f"results: {result.db} (ruleset {result.ruleset_sha256[:12]})",
        *_listed("status:", [f"{k} {v}" for k, v in s.by_status.items()]),
        *_listed("verdict:", [f"{k} {v}" for k, v in s.by_verdict.items()] or ["-"]),
    ]
    if s.levels:
        lines.append("data class levels (APKs):")
        lines.extend(_level_table(s.levels))
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
