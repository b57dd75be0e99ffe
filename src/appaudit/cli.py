"""The command line: parse options, call the library, map errors to exit codes once.

Exit codes: 0 nothing at or above --fail-on; 1 findings at or above it;
2 usage error; 3 input error; 4 rule or configuration error; 5 internal error.
"""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from appaudit import __version__

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


@app.command(epilog=EXIT_CODES_HELP)
def scan(
    path: Annotated[str, typer.Argument(help="The APK or bundle file to scan.", show_default=False)],
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = OutputFormat.text,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report here (only once it rendered).")
    ] = None,
    fail_on: Annotated[
        FailOn, typer.Option("--fail-on", help="Exit 1 when a finding is at or above this severity.")
    ] = FailOn.high,
    rules: Annotated[list[Path] | None, typer.Option("--rules", help="Extra rule directory (repeatable).")] = None,
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
) -> None:
    """Scan one APK or split bundle (.apks, .xapk, .apkm) and report what it declares and what its code reads."""
    from appaudit.api import ScanOptions
    from appaudit.api import scan as run_scan
    from appaudit.apk.limits import DEFAULT_LIMITS, parse_limit
    from appaudit.errors import ConfigError
    from appaudit.model import Severity
    from appaudit.report import render

    limits = DEFAULT_LIMITS
    for text in limit or ():
        limits = parse_limit(text, limits)
    report = run_scan(path, ScanOptions(rules_dirs=tuple(rules or ()), limits=limits, timeout=timeout))
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
