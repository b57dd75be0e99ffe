"""``appaudit show``: one method's disassembly, or a class's methods, from an APK."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    pass

from appaudit.cli.app import (
    EXIT_OK,
    EXIT_USAGE,
    _Command,
    _error,
    app,
)

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
