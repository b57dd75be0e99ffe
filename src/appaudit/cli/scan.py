"""``appaudit scan``: one APK or bundle, every output format, the gate."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from appaudit.analysis.depth import CHAIN_DEPTH

if TYPE_CHECKING:
    pass

from appaudit.cli.app import (
    EXIT_CODES_HELP,
    EXIT_FINDINGS,
    EXIT_OK,
    POLICY_IDS,
    AllowInconclusiveOption,
    ConfigOption,
    FailOn,
    Lang,
    RulesOption,
    _check_input,
    _check_limits,
    _check_timeout,
    _Command,
    _config,
    _gate,
    _rules,
    _use_color,
    _warn,
    app,
)


@app.command(cls=_Command, epilog=EXIT_CODES_HELP)
def scan(
    path: Annotated[str, typer.Argument(metavar="PATH", help="The APK or bundle file to scan.", show_default=False)],
    fmt: Annotated[
        list[str] | None,
        typer.Option(
            "--format",
            "-f",
            metavar="FMT[:PATH]",
            help="Output format: text (default), json, sarif, html or markdown; FMT:PATH writes a file. Repeatable.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", metavar="FILE", help="Write the format given without a path here (after all rendered)."
        ),
    ] = None,
    fail_on: Annotated[
        FailOn | None,
        typer.Option("--fail-on", help="Exit 1 when a finding is at or above this severity. [default: high]"),
    ] = None,
    rules: RulesOption = None,
    baseline: Annotated[
        Path | None,
        typer.Option(
            "--baseline",
            metavar="FILE",
            help="Suppression file or earlier JSON report: matching findings are marked suppressed and never gate.",
        ),
    ] = None,
    policy: Annotated[
        list[str] | None,
        typer.Option("--policy", metavar="ID", help="Policy pack to evaluate (repeatable; default all): " + POLICY_IDS),
    ] = None,
    deterministic: Annotated[
        bool,
        typer.Option(
            "--deterministic", help="Leave out run timing so reruns are byte-identical (also SOURCE_DATE_EPOCH)."
        ),
    ] = False,
    chain_depth: Annotated[
        int,
        typer.Option("--chain-depth", metavar="N", min=0, max=12, help="Method hops searched from a read to a sink."),
    ] = CHAIN_DEPTH,
    lang: Annotated[
        Lang, typer.Option("--lang", help="Language of the text, HTML and Markdown reports (JSON keys stay English).")
    ] = Lang.en,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            metavar="SECONDS",
            callback=_check_timeout,
            help="Stop searching after SECONDS and report what was found (coverage reason 'timeout').",
        ),
    ] = None,
    limit: Annotated[
        list[str] | None,
        typer.Option(
            "--limit",
            metavar="NAME=VALUE",
            callback=_check_limits,
            help="Change an input limit, e.g. max_entry_size=512M (repeatable; see README, Limits).",
        ),
    ] = None,
    data_safety: Annotated[
        Path | None,
        typer.Option(
            "--data-safety",
            metavar="FILE",
            help="Hold the code against this Data safety declaration: a Play Console CSV export or a "
            "declaration form (YAML/JSON); see docs/declarations.md.",
        ),
    ] = None,
    privacy_policy: Annotated[
        Path | None,
        typer.Option(
            "--privacy-policy", metavar="FILE", help="Hold the code against this privacy policy (text, HTML or PDF)."
        ),
    ] = None,
    with_code: Annotated[
        bool,
        typer.Option(
            "--with-code",
            help="Give each code evidence its source file and line (when the DEX kept them) and a smali excerpt, "
            "in every format (at most 200 excerpts per report; docs/excerpts.md).",
        ),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="As --with-code; the text report shows each finding's code."),
    ] = False,
    allow_inconclusive: AllowInconclusiveOption = None,
    config: ConfigOption = None,
) -> None:
    """Scan one APK or split bundle (.apks, .xapk, .apkm) and report what it declares and what its code reads."""
    from appaudit.api import ScanOptions
    from appaudit.api import scan as run_scan
    from appaudit.gate import scan_gate
    from appaudit.report.outputs import parse_output_specs, render_outputs, write_files

    settings = _config(config)
    if not fmt and output is None:  # --format and --output together replace the configuration's
        fmt, output = list(settings.formats or ()), settings.output
    try:
        specs = parse_output_specs(fmt or (), output)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--format' / '--output'") from exc
    baseline = baseline if baseline is not None else settings.baseline
    accepted = None
    if baseline is not None:
        from appaudit.history.baseline import load_baseline

        accepted = load_baseline(baseline)  # before the scan: a bad baseline fails fast
    from appaudit.apk.limits import DEFAULT_LIMITS, parse_limit

    limits = DEFAULT_LIMITS
    for item in limit or ():
        limits = parse_limit(item, limits)
    options = ScanOptions(
        rules_dirs=_rules(rules, settings),
        limits=limits,
        timeout=timeout,
        chain_depth=chain_depth,
        policies=tuple(policy) if policy else settings.policies,
        deterministic=deterministic or "SOURCE_DATE_EPOCH" in os.environ,
        data_safety=str(data_safety) if data_safety else None,
        privacy_policy=str(privacy_policy) if privacy_policy else None,
        with_code=with_code or verbose,
        baseline=accepted,
    )
    _check_input(path)
    report = run_scan(path, options)
    if report.declarations is not None:  # said, never fatal: an unknown row, a policy without text
        ds = report.declarations.data_safety
        for note in (ds.warnings if ds else ()) + report.declarations.incomplete:
            sys.stderr.write(f"appaudit: warning: {note}\n")
    if accepted is not None and accepted.foreign_to(report.app.package):
        _warn(
            f"baseline {baseline} is for package {', '.join(sorted(accepted.packages))}, "
            f"not {report.app.package}: its entries for that package suppress nothing here"
        )
    rendered = render_outputs(report, specs, color=lambda s: _use_color(s.path is None, s.fmt), lang=lang.value)
    write_files(rendered)
    for spec, text in rendered:
        if spec.path is None:
            sys.stdout.write(text)
    result = scan_gate(report, _gate(fail_on, allow_inconclusive, settings))
    if any(spec.path is None and spec.fmt == "text" for spec, _ in rendered):
        # Like ruff's "Found 3 errors": what was found and why the exit code is what it is.
        sys.stdout.write(result.line + "\n")
    raise typer.Exit(EXIT_FINDINGS if result.failed else EXIT_OK)
