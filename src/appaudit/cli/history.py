"""``appaudit baseline`` and ``appaudit diff``: findings accepted earlier, and what changed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from appaudit.history.snapshot import Snapshot

from appaudit.cli.app import (
    EXIT_FINDINGS,
    EXIT_OK,
    ConfigOption,
    DiffFormat,
    FailOn,
    RulesOption,
    _check_input,
    _Command,
    _config,
    _fail_on,
    _failed,
    _rules,
    _warn,
    app,
)


def _snapshot(path: str, rules: tuple[Path, ...]) -> Snapshot:
    """An APK (scanned now) or an earlier JSON report, as a Snapshot."""
    from appaudit.history.snapshot import Snapshot, looks_like_json, read_report_document

    if looks_like_json(path):
        return Snapshot.from_document(read_report_document(path), path)
    from appaudit.api import ScanOptions
    from appaudit.api import scan as run_scan

    _check_input(path)
    return Snapshot.from_report(run_scan(path, ScanOptions(rules_dirs=rules)), path)


BASELINE_HELP = (
    "Exit codes: 0 baseline written; 2 usage error; 3 input error; 4 rule or configuration error "
    "(e.g. an unwritable --output); 5 internal error."
)


@app.command("baseline", cls=_Command, epilog=BASELINE_HELP)
def make_baseline(
    path: Annotated[
        str, typer.Argument(metavar="PATH", help="The APK (or an earlier JSON report) to accept.", show_default=False)
    ],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write the baseline here (JSON if it ends in .json)."),
    ] = None,
    any_package: Annotated[
        bool,
        typer.Option("--any-package", help="Entries match any application package (by default only PATH's)."),
    ] = False,
    pin_package: Annotated[
        bool, typer.Option("--pin-package", hidden=True, help="Deprecated: pinning is the default.")
    ] = False,
    rules: RulesOption = None,
    config: ConfigOption = None,
) -> None:
    """Write a suppression file accepting every finding of PATH, in its package (use it with scan --baseline)."""
    from appaudit.history.baseline import baseline_from_snapshot, render_baseline
    from appaudit.report.outputs import OutputSpec, write_files

    if pin_package and any_package:
        raise typer.BadParameter("cannot be combined with --any-package", param_hint="--pin-package")
    if pin_package:
        _warn("--pin-package is deprecated: entries are pinned to the package by default (--any-package to opt out)")
    accepted = baseline_from_snapshot(_snapshot(path, _rules(rules, _config(config))), any_package=any_package)
    text = render_baseline(accepted, fmt="json" if output is not None and output.suffix == ".json" else "yaml")
    if output is None:
        sys.stdout.write(text)
    else:
        write_files([(OutputSpec(fmt="baseline", path=output), text)])
    raise typer.Exit(EXIT_OK)


DIFF_EXIT_HELP = (
    "Exit codes: 0 nothing at or above --fail-on appeared; 1 a finding at or above --fail-on appeared "
    "(or rose to it); 2 usage error; 3 input error; 4 rule or configuration error; 5 internal error."
)


@app.command(cls=_Command, epilog=DIFF_EXIT_HELP)
def diff(
    old: Annotated[
        str, typer.Argument(metavar="OLD", help="The earlier version: an APK or its JSON report.", show_default=False)
    ],
    new: Annotated[
        str, typer.Argument(metavar="NEW", help="The later version: an APK or its JSON report.", show_default=False)
    ],
    fmt: Annotated[DiffFormat, typer.Option("--format", "-f", help="Output format.")] = DiffFormat.text,
    fail_on: Annotated[
        FailOn | None,
        typer.Option("--fail-on", help="Exit 1 when a finding at or above this severity appeared. [default: high]"),
    ] = None,
    rules: RulesOption = None,
    config: ConfigOption = None,
) -> None:
    """Show the findings, permissions, data-class levels and verdict that changed from OLD to NEW."""
    from appaudit.history.diff import compare, render_json, render_text

    settings = _config(config)
    extra = _rules(rules, settings)
    changes = compare(_snapshot(old, extra), _snapshot(new, extra))
    if not changes.same_package:
        _warn(f"{old} is package {changes.old.package}, {new} is {changes.new.package}: comparing two different apps")
    sys.stdout.write(render_json(changes) if fmt is DiffFormat.json else render_text(changes))
    raise typer.Exit(EXIT_FINDINGS if _failed(changes.worst_new(), _fail_on(fail_on, settings)) else EXIT_OK)
