"""The command line: parse options, call the library, map errors to exit codes once.

Exit codes: 0 nothing at or above --fail-on; 1 findings at or above it;
2 usage error; 3 input error; 4 rule or configuration error; 5 internal error.
"""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from appaudit import __version__
from appaudit.analysis.depth import CHAIN_DEPTH

if TYPE_CHECKING:
    from appaudit.config import Config
    from appaudit.gate import Gate
    from appaudit.history.snapshot import Snapshot
    from appaudit.model import Severity

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_RULES = 4
EXIT_INTERNAL = 5

POLICY_IDS = "google-play, china, india, indonesia, philippines, kenya, nigeria, pakistan, eu-gdpr"
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
    # Plain click help and errors: rich's boxes wrap option choices mid-word at 80
    # columns, show `{path}`/`<str>` placeholders and turn "[default: ...]" into markup.
    rich_markup_mode=None,
)


class DiffFormat(StrEnum):
    text = "text"
    json = "json"
    html = "html"
    markdown = "markdown"


class Lang(StrEnum):
    en = "en"
    zh = "zh"


class FailOn(StrEnum):
    info = "info"
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"
    never = "never"


class _Command(typer.core.TyperCommand):
    """Usage lines name arguments as click and the README do (``PATH``), not typer's ``{PATH}``."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces: list[str] = super().collect_usage_pieces(ctx)
        return [p[1:-1] if p.startswith("{") and p.endswith("}") else p for p in pieces]


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


def _use_color(to_stdout: bool, fmt: str) -> bool:
    return fmt == "text" and to_stdout and sys.stdout.isatty() and "NO_COLOR" not in os.environ


def _failed(worst: Severity | None, fail_on: FailOn) -> bool:
    """Whether ``worst`` (None: nothing) is at or above the ``--fail-on`` threshold."""
    from appaudit.model import Severity

    return fail_on is not FailOn.never and worst is not None and worst >= Severity.parse(fail_on.value)


def _gate(fail_on: FailOn | None, allow_inconclusive: bool | None, config: Config) -> Gate:
    """The gate from the options given, else the configuration file, else the defaults."""
    from appaudit.gate import Gate
    from appaudit.model import Severity

    level = _fail_on(fail_on, config)
    allow = allow_inconclusive if allow_inconclusive is not None else bool(config.allow_inconclusive)
    return Gate(
        fail_on=None if level is FailOn.never else Severity.parse(level.value),
        allow_inconclusive=allow,
    )


AllowInconclusiveOption = Annotated[
    bool | None,
    typer.Option(
        "--allow-inconclusive/--no-allow-inconclusive",
        help="Pass an inconclusive verdict (by default it fails the gate: hidden code could read protected data).",
        show_default=False,
    ),
]


def _config(path: Path | None) -> Config:
    """The configuration file's defaults (``--config FILE``, else found from the current directory)."""
    from appaudit.config import load_config

    return load_config(path)


def _fail_on(given: FailOn | None, config: Config) -> FailOn:
    """--fail-on as given, else the configuration's, else ``high``."""
    if given is not None:
        return given
    return FailOn(config.fail_on) if config.fail_on is not None else FailOn.high


def _rules(given: list[Path] | None, config: Config) -> tuple[Path, ...]:
    """--rules as given (they replace the configuration's), else the configuration's."""
    return tuple(given) if given else (config.rules or ())


RulesOption = Annotated[
    list[Path] | None, typer.Option("--rules", metavar="DIR", help="Extra rule directory (repeatable).")
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        metavar="FILE",
        help="Configuration file (default: appaudit.toml or [tool.appaudit] in pyproject.toml, "
        "searched from the current directory upward).",
    ),
]


def _check_timeout(value: float | None) -> float | None:
    if value is not None and not value > 0:
        raise typer.BadParameter("must be a positive number of seconds")
    return value


def _check_limits(values: list[str] | None) -> list[str] | None:
    from appaudit.apk.limits import parse_limit

    for text in values or ():
        try:
            parse_limit(text)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    return values


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


def _check_input(path: str) -> None:
    """Two inputs a user gives by mistake, named plainly (InputError, exit 3) before the scan reads them."""
    from appaudit.errors import InputError

    p = Path(path)
    if p.is_dir():
        raise InputError(path, f"is a directory, not an APK file (to scan the APKs in it: appaudit batch {path})")
    if p.is_file() and p.stat().st_size == 0:
        raise InputError(path, "empty file (0 bytes), not an APK")


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


rules_app = typer.Typer(
    help="List, show, validate and document rules.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(rules_app, name="rules")


@rules_app.command("list", cls=_Command)
def rules_list(rules: RulesOption = None) -> None:
    """One line per rule: id, severity, data class, title."""
    from appaudit.ruleset import load_ruleset

    for r in load_ruleset(tuple(rules or ())).every_rule:
        sys.stdout.write(f"{r.id}  {r.severity.label:<8}  {r.data_class:<17}  {r.title}\n")
    raise typer.Exit(EXIT_OK)


@rules_app.command("show", cls=_Command)
def rules_show(
    rule_id: Annotated[str, typer.Argument(metavar="ID", help="A rule id, e.g. AA-CON-002.", show_default=False)],
    rules: RulesOption = None,
) -> None:
    """The rule's documentation (what it finds, why it matters, example, compliant use, references)."""
    from appaudit.ruleset import load_ruleset
    from appaudit.ruleset.docs import rule_markdown

    ruleset = load_ruleset(tuple(rules or ()))
    rule = ruleset.by_id(rule_id.upper())
    if rule is None:
        from appaudit.policy.describe import find_provision

        if find_provision(ruleset.policy_packs, rule_id) is not None:
            raise typer.BadParameter(
                f"{rule_id!r} is a policy provision, not a rule (see `appaudit policies show {rule_id}`)",
                param_hint="ID",
            )
        raise typer.BadParameter(f"no rule {rule_id!r} (see `appaudit rules list`)", param_hint="ID")
    sys.stdout.write(rule_markdown(rule))
    raise typer.Exit(EXIT_OK)


@rules_app.command(
    "validate",
    cls=_Command,
    epilog="Exit codes: 0 valid; 2 usage error; 4 an invalid rule (the message names file and key).",
)
def rules_validate(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="A rule directory.", show_default=False)],
) -> None:
    """Check every rule file in DIR against the rule schema, as --rules DIR would load it."""
    from appaudit.ruleset.loader import validate_directory

    checked = validate_directory(directory)
    sys.stdout.write(f"{directory}: {len(checked.every_rule)} rules valid\n")
    raise typer.Exit(EXIT_OK)


@rules_app.command(
    "docs",
    cls=_Command,
    epilog="Exit codes: 0 written (or up to date with --check); 1 stale with --check; 4 rule error.",
)
def rules_docs(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Where the pages go (docs/rules).")],
    check: Annotated[bool, typer.Option("--check", help="Write nothing; exit 1 when DIR is stale.")] = False,
    rules: RulesOption = None,
) -> None:
    """Generate DIR/<ID>.md for every rule, and DIR/README.md, from the rule YAML."""
    from appaudit.ruleset import load_ruleset
    from appaudit.ruleset.docs import stale_docs, write_docs

    ruleset = load_ruleset(tuple(rules or ()))
    if check:
        stale = stale_docs(ruleset.every_rule, directory)
        for name in stale:
            sys.stderr.write(f"appaudit: stale: {directory / name}\n")
        if stale:
            sys.stderr.write("appaudit: run `appaudit rules docs docs/rules` to update\n")
        raise typer.Exit(EXIT_FINDINGS if stale else EXIT_OK)
    changed = write_docs(ruleset.every_rule, directory)
    sys.stdout.write(f"{directory}: {len(ruleset.every_rule)} rules, {len(changed)} files updated\n")
    raise typer.Exit(EXIT_OK)


policies_app = typer.Typer(
    help="List and show the policy packs' provisions (instrument, article, paraphrase, source, confidence).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(policies_app, name="policies")


@policies_app.command("list", cls=_Command)
def policies_list(rules: RulesOption = None) -> None:
    """One line per policy pack, then one per provision: id, confidence (V, P, U), kind, instrument and article."""
    from appaudit.policy.describe import packs_listing
    from appaudit.ruleset import load_ruleset

    sys.stdout.write(packs_listing(load_ruleset(tuple(rules or ())).policy_packs))
    raise typer.Exit(EXIT_OK)


@policies_app.command("show", cls=_Command)
def policies_show(
    provision_id: Annotated[
        str, typer.Argument(metavar="ID", help="A provision id, e.g. CN-PIPL-6, or a pack id, e.g. china.")
    ],
    rules: RulesOption = None,
) -> None:
    """A provision: instrument, article, paraphrase (English and Chinese), source, date in force, confidence."""
    from appaudit.policy.describe import find_provision, provision_text
    from appaudit.ruleset import load_ruleset

    packs = load_ruleset(tuple(rules or ())).policy_packs
    found = find_provision(packs, provision_id)
    if found is not None:
        sys.stdout.write(provision_text(*found))
        raise typer.Exit(EXIT_OK)
    pack = next((p for p in packs if p.id == provision_id.lower()), None)
    if pack is None:
        raise typer.BadParameter(
            f"no provision or policy pack {provision_id!r} (see `appaudit policies list`)", param_hint="ID"
        )
    sys.stdout.write("\n".join(provision_text(pack, p) for p in pack.provisions))
    raise typer.Exit(EXIT_OK)


# ---------------------------------------------------------------- batch

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


# ---------------------------------------------------------------- show (issue 15)

SHOW_EXIT_HELP = (
    "Exit codes: 0 shown; 2 usage error, or no such class, method or instruction offset "
    "(the message names close matches); 3 input error (missing, unreadable or not an APK); 5 internal error."
)


def _offset(value: str | None) -> str | None:
    if value is not None:
        try:
            if int(value, 0) >= 0:
                return value
        except ValueError:
            pass
        raise typer.BadParameter(f"{value!r} is not a byte offset (decimal, or hex as 0x12)")
    return value


def _lines_text(span: tuple[int, int]) -> str:
    return f"line {span[0]}" if span[0] == span[1] else f"lines {span[0]}-{span[1]}"


@app.command(cls=_Command, epilog=SHOW_EXIT_HELP)
def show(
    path: Annotated[str, typer.Argument(metavar="PATH", help="The APK or bundle.", show_default=False)],
    target: Annotated[
        str,
        typer.Argument(
            metavar="CLASS|METHOD",
            help="com.example.Harvester, com.example.Harvester.harvest[(proto)] or Lcom/example/Harvester;->harvest...",
            show_default=False,
        ),
    ],
    method: Annotated[
        str | None,
        typer.Argument(metavar="[METHOD]", help="The method apart from the class, as a JSON report's 'method'."),
    ] = None,
    around: Annotated[
        str | None,
        typer.Option(
            "--around", metavar="OFFSET", callback=_offset, help="Only the instructions around this byte offset."
        ),
    ] = None,
    context: Annotated[
        int, typer.Option("--context", min=0, max=50, help="Instructions shown before and after --around.")
    ] = 3,
) -> None:
    """Print one method's smali (offsets, source lines where known), or list the methods of a class."""
    from appaudit.apk import load_apk
    from appaudit.apk.dex.excerpt import excerpt_for, line_range, render_text
    from appaudit.apk.dex.lookup import NotFound, class_summary, find

    offset = None if around is None else int(around, 0)  # checked by _offset
    code = load_apk(path).code
    found = find(code, target, method)
    if isinstance(found, NotFound):
        _error(f"{path}: {found.message}")
        raise typer.Exit(EXIT_USAGE)
    if found.method is None:
        if offset is not None:
            _error(f"{path}: --around needs a method, and {found.class_name} is a class")
            raise typer.Exit(EXIT_USAGE)
        summary = class_summary(code, found.class_name)
        assert summary is not None  # find() just located it
        extends = f"; extends {summary.superclass}" if summary.superclass else ""
        source = f"; source {summary.source_file}" if summary.source_file else "; no source file"
        sys.stdout.write(f"{summary.class_name}  ({summary.dex}{extends}{source})\n")
        for m in summary.methods:
            size = "no code" if m.code_bytes is None else f"{m.code_bytes} bytes"
            lines = f", {_lines_text(m.lines)}" if m.lines else ""
            sys.stdout.write(f"  {(m.access + ' ') if m.access else ''}{m.signature}  ({size}{lines})\n")
        raise typer.Exit(EXIT_OK)
    excerpt = excerpt_for(code, found.dex, found.class_name, found.method, offset, context=context)
    if excerpt is None:
        _error(f"{path}: {found.class_name}.{found.method} has no code (abstract or native) or cannot be read")
        raise typer.Exit(EXIT_USAGE)
    if offset is not None and excerpt.marked is None:
        starts = [ln.offset for ln in excerpt.lines if ln.kind == "insn"]
        # The instruction the offset falls in, and the next one.
        near = [
            max((at for at in starts if at < offset), default=None),
            min((at for at in starts if at > offset), default=None),
        ]
        hint = f"; nearest: {', '.join(f'+{at:#x}' for at in near if at is not None)}" if starts else ""
        _error(f"{path}: +{offset:#x} is not an instruction start in {found.class_name}.{found.method}{hint}")
        raise typer.Exit(EXIT_USAGE)
    where = excerpt.source_file or "unknown"
    if offset is not None and excerpt.line is not None:
        where += f":{excerpt.line}"
    elif not excerpt.has_line_numbers:
        where += " (no line numbers: stripped or obfuscated build)"
    else:
        span = line_range(code, found.dex, found.class_name, found.method)
        where += f", {_lines_text(span)}" if span else ""
    sys.stdout.write(f"{found.class_name}.{found.method}\n{found.dex}; source {where}\n")
    sys.stdout.write(render_text(excerpt, header=True))
    raise typer.Exit(EXIT_OK)


def _error(message: str) -> None:
    sys.stderr.write(f"appaudit: error: {message}\n")


# ---------------------------------------------------------------- families and browse (issue 17)

from appaudit.cli_store import BROWSE_HELP, FAMILIES_HELP, browse, families  # noqa: E402  (commands beside; registered here)

app.command(epilog=FAMILIES_HELP)(families)
app.command(epilog=BROWSE_HELP)(browse)


def _warn(message: str) -> None:
    sys.stderr.write(f"appaudit: warning: {message}\n")


def _click_exceptions() -> ModuleType:
    """click's exceptions module as typer uses it (typer 0.28 vendors click as ``typer._click``)."""
    import importlib

    return importlib.import_module(typer.BadParameter.__module__)


def _usage_error(exc: Any) -> int:
    """A usage error as one line on stderr (the README's promise), pointing at the command's help."""
    ctx = exc.ctx
    no_args = getattr(_click_exceptions(), "NoArgsIsHelpError", ())
    if isinstance(exc, no_args) and ctx is not None:
        sys.stdout.write(ctx.get_help() + "\n")
        return EXIT_USAGE
    message = " ".join(exc.format_message().split())
    hint = f" (see '{ctx.command_path} --help')" if ctx is not None and "(see " not in message else ""
    _error(message + hint)
    return EXIT_USAGE


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the CLI and exit with a documented code."""
    from appaudit.errors import AppAuditError, ConfigError, InputError, RuleError

    command = typer.main.get_command(app)
    clicks = _click_exceptions()
    try:
        # Not standalone: click's usage errors come here, to be printed as one line;
        # every command ends with typer.Exit(code), which click returns as the code.
        rv = command.main(args=argv, prog_name="appaudit", standalone_mode=False)
        code: int = rv if isinstance(rv, int) else EXIT_OK
    except clicks.UsageError as exc:
        code = _usage_error(exc)
    except clicks.ClickException as exc:
        _error(" ".join(exc.format_message().split()))
        code = exc.exit_code
    except (getattr(clicks, "Abort", typer.Abort), typer.Abort):
        _error("interrupted")
        code = 130
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
