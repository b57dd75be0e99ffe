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
)


class OutputFormat(StrEnum):
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
    policy: Annotated[
        list[str] | None,
        typer.Option("--policy", help="Policy pack to evaluate (repeatable; default all): " + POLICY_IDS),
    ] = None,
    chain_depth: Annotated[
        int, typer.Option("--chain-depth", min=0, max=12, help="Method hops searched from a read to a sink.")
    ] = 3,
    lang: Annotated[
        Lang, typer.Option("--lang", help="Language of the text, HTML and Markdown reports (JSON keys stay English).")
    ] = Lang.en,
) -> None:
    """Scan one APK and report, per data class, what it declares and what its code reads."""
    from appaudit.api import ScanOptions
    from appaudit.api import scan as run_scan
    from appaudit.errors import ConfigError
    from appaudit.model import Severity
    from appaudit.report import render

    options = ScanOptions(rules_dirs=tuple(rules or ()), chain_depth=chain_depth, policies=tuple(policy or ()) or None)
    report = run_scan(path, options)
    text = render(report, fmt.value, color=_use_color(fmt, output), lang=lang.value)
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
