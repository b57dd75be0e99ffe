"""The command line: parse options, call the library, map errors to exit codes once.

Exit codes: 0 nothing at or above --fail-on; 1 findings at or above it;
2 usage error; 3 input error; 4 rule or configuration error; 5 internal error.
"""

from __future__ import annotations

import copy
import gc
import os
import sys
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from appaudit import __version__, build

if TYPE_CHECKING:
    from appaudit.config import Config
    from appaudit.gate import Gate
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
        typer.echo(f"appaudit {__version__} ({build.describe()})")
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


def _check_input(path: str) -> None:
    """Two inputs a user gives by mistake, named plainly (InputError, exit 3) before the scan reads them."""
    from appaudit.errors import InputError

    p = Path(path)
    if p.is_dir():
        raise InputError(path, f"is a directory, not an APK file (to scan the APKs in it: appaudit batch {path})")
    if p.is_file() and p.stat().st_size == 0:
        raise InputError(path, "empty file (0 bytes), not an APK")


def _error(message: str) -> None:
    sys.stderr.write(f"appaudit: error: {message}\n")


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


def _command_name(info: Any) -> str | None:
    """The name a registered command or group runs under (typer's rule: the function's name, ``_`` as ``-``)."""
    if info.name:
        return str(info.name)
    callback = getattr(info, "callback", None)
    return typer.main.get_command_name(callback.__name__) if callback is not None else None


def click_command(argv: Sequence[str]) -> Any:
    """The click group that runs ``argv``: holding only the command ``argv`` names, else every command.

    typer builds each command's click object from its function's signature (about 1 ms a command,
    13 ms for all of them, a twentieth of a whole scan), so a run of one command builds that one. Its
    options, help and errors are the same as in the whole group (tests/test_start_cli.py); the group's
    own help, an option before the command, or a name that is not a command (click suggests the near
    ones) builds every command.
    """
    name = argv[0] if argv and not argv[0].startswith("-") else None
    commands = [c for c in app.registered_commands if _command_name(c) == name]
    groups = [g for g in app.registered_groups if _command_name(g) == name]
    if not commands and not groups:
        return typer.main.get_command(app)
    only = copy.copy(app)  # shallow: the same callback, settings and command infos
    only.registered_commands, only.registered_groups = commands, groups
    return typer.main.get_command(only)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the CLI and exit with a documented code."""
    from appaudit.errors import AppAuditError, ConfigError, InputError, RuleError

    command = click_command(sys.argv[1:] if argv is None else argv)
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
    if argv is None:
        # This process's own command line, and the process ends here: the collector's pass over every
        # object still alive at exit (modules, classes, the ruleset, the report) was 25 ms of a 0.28 s
        # scan, so they are frozen out of it. Not for a caller's argv (tests), whose process goes on.
        gc.freeze()
    sys.exit(code)
