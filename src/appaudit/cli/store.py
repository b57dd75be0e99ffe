"""``appaudit families`` and ``appaudit browse``: commands over a results store (registered at the end)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from appaudit.families.defaults import MAX_SHARED, MIN_SCORE

FAMILIES_HELP = (
    "Exit codes: 0 done (families found or not); 2 usage error; 3 input error (no such store, "
    "unreadable APK); 4 store error (a schema version this appaudit cannot read, or cannot write --output)."
)


class FamiliesFormat(StrEnum):
    text = "text"
    json = "json"
    html = "html"


def _write(pieces: Iterable[str], output: Path | None) -> None:
    from appaudit.errors import ConfigError

    if output is None:
        sys.stdout.writelines(pieces)
        return
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            fh.writelines(pieces)
        os.replace(tmp, output)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"cannot write --output {output}: {exc.strerror or exc}") from exc


def families(
    apk: Annotated[
        str | None,
        typer.Argument(
            metavar="[APP]", help="An APK to place against the store (default: every family).", show_default=False
        ),
    ] = None,
    db: Annotated[Path, typer.Option("--db", help="The SQLite results store.")] = Path("results.sqlite"),
    fmt: Annotated[FamiliesFormat, typer.Option("--format", "-f", help="Output format.")] = FamiliesFormat.text,
    min_score: Annotated[
        float, typer.Option("--min-score", min=0.0, max=1.0, help="Link apps whose score is at least this.")
    ] = MIN_SCORE,
    max_shared: Annotated[
        int, typer.Option("--max-shared", min=2, help="Ignore keys more apps than this share (library or SDK code).")
    ] = MAX_SHARED,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of standard output.")
    ] = None,
    save: Annotated[
        bool, typer.Option("--save", help="Also store each app's family in the store (for appaudit browse).")
    ] = False,
    report_url: Annotated[
        str, typer.Option("--report-url", help="HTML: each app links to this + its SHA-256.")
    ] = "http://127.0.0.1:8001/-/appaudit/report/",
) -> None:
    """Group the store's apps that share harvesting code, upload endpoints or a signer."""
    from appaudit.families.api import apk_family, store_families
    from appaudit.families.render import iter_json, render_html, render_text
    from appaudit.families.store_read import migrate_store, save_members

    if save and apk is not None:
        raise typer.BadParameter("--save stores the families of the whole store; give no APP", param_hint="--save")
    if save:
        migrate_store(db)
    if apk is not None:
        result = apk_family(apk, db, min_score=min_score, max_shared=max_shared)
    else:
        result = store_families(db, min_score=min_score, max_shared=max_shared)
    if save:
        save_members(db, result)
    if fmt == FamiliesFormat.json:
        pieces: Iterable[str] = iter_json(result)
    elif fmt == FamiliesFormat.html:
        pieces = [render_html(result, report_url=report_url)]
    else:
        pieces = [render_text(result)]
    _write(pieces, output)
    raise typer.Exit(0)


BROWSE_HELP = (
    "Exit codes: 0 the server stopped normally (Ctrl-C); 2 usage error; 3 no such store; "
    "4 Datasette missing (pip install 'appaudit[browse]') or a store schema this appaudit cannot read; "
    "otherwise Datasette's own exit code."
)


def browse(
    db: Annotated[Path, typer.Option("--db", help="The SQLite results store.")] = Path("results.sqlite"),
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8001,
    host: Annotated[
        str, typer.Option("--host", help="Address to bind (other than 127.0.0.1 exposes the store to the network).")
    ] = "127.0.0.1",
    allow_sql: Annotated[
        bool, typer.Option("--allow-sql", help="Allow arbitrary read-only SQL (default: named queries only).")
    ] = False,
    live: Annotated[
        bool, typer.Option("--live", help="Follow a store a batch is still writing (default: immutable).")
    ] = False,
) -> None:
    """Browse a results store in Datasette: one row per app, facets, named queries, each app's report."""
    import importlib.util
    import subprocess
    import tempfile

    from appaudit.browse.config import serve_command
    from appaudit.errors import ConfigError
    from appaudit.families.store_read import connect_readonly

    connect_readonly(db).close()  # a missing or old store fails here, with its own message
    if importlib.util.find_spec("datasette") is None:
        raise ConfigError("Datasette is not installed: pip install 'appaudit[browse]'")
    with tempfile.TemporaryDirectory(prefix="appaudit-browse-") as work:
        cmd = serve_command(db, Path(work), host=host, port=port, allow_sql=allow_sql, live=live)
        sys.stderr.write(f"appaudit: serving {db} read-only at http://{host}:{port}/ (Ctrl-C stops)\n")
        try:
            code = subprocess.call(cmd)
        except KeyboardInterrupt:
            code = 0
    raise typer.Exit(code)


from appaudit.cli.app import app  # noqa: E402  (registration below the commands)

app.command(epilog=FAMILIES_HELP)(families)
app.command(epilog=BROWSE_HELP)(browse)
